// The controller's dashboard in Debian's chromium, against a real `edgepeer controller` and an agent
// enrolled as its edge: the login (refused without a session and with a wrong token), the edge with its
// health and free space, an object the edge holds with the union's piece map and the edge's own, a drain
// that a cancel leaves alone and a confirm applies (the page shows it without reloading), and axe-core on
// every page.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'puppeteer-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectAccessible, launchChromium, logIn, skipWithoutChromium } from '../helpers/chromium.ts';
import { edgepeer } from '../helpers/cli.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const PIECE = 16384;
const PIECES = 30;

interface Running {
  child: ChildProcess;
  listening: { adminUrl: string; edgeUrl: string };
}

let dir: string;
let controller: Running;
let edge: Running;
let browser: Browser;
let token: string;
let edgeId: string;
let infoHash: string;
const controllerDir = () => join(dir, 'controller');
const edgeDir = () => join(dir, 'edge');

async function start(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [first] = (await Promise.race([
    once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`edgepeer ${args[0]} exited ${code}`);
    }),
  ])) as [string];
  return { child, listening: JSON.parse(first) as Running['listening'] };
}

async function stop(running: Running | undefined): Promise<void> {
  if (running === undefined || running.child.exitCode !== null || running.child.signalCode !== null) return;
  const exited = once(running.child, 'exit');
  running.child.kill('SIGTERM');
  await exited;
}

async function adminGet(path: string): Promise<unknown> {
  const res = await request(`${controller.listening.adminUrl}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return res.body.json();
}

beforeAll(async () => {
  if (skipWithoutChromium) return;
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-dashboard-controller-'));
  controller = await start([
    'controller',
    '--data-dir',
    controllerDir(),
    '--peer-port',
    '0',
    '--peer-host',
    '127.0.0.1',
    '--edge-listen',
    '127.0.0.1:0',
    '--admin-listen',
    '127.0.0.1:0',
    '--heartbeat',
    '300',
    '--log-level',
    'warn',
    '--json',
  ]);
  token = (await readFile(join(controllerDir(), 'admin.token'), 'utf8')).trim();
  const created = await edgepeer(['controller', 'token', 'create', '--data-dir', controllerDir(), '--json']);
  expect(created.code, created.stderr).toBe(0);
  const config = join(dir, 'edge.yaml');
  await writeFile(
    config,
    [
      `dataDir: ${edgeDir()}`,
      'logLevel: warn',
      'peer: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      'admin: { listen: "127.0.0.1:0" }',
      'controller:',
      `  url: ${controller.listening.edgeUrl}`,
      `  enrolToken: ${created.lines[0]?.token}`,
      '',
    ].join('\n'),
  );
  edge = await start(['agent', '--config', config, '--json']);
  await vi.waitFor(
    async () => {
      const edges = (await adminGet('/v1/edges')) as Array<{ id: string; health: string }>;
      expect(edges.map((e) => e.health)).toEqual(['up']);
      edgeId = edges[0]?.id as string;
    },
    { timeout: 15_000, interval: 200 },
  );
  const file = join(dir, 'news.bin');
  await writeFile(file, randomBytes(PIECES * PIECE - 100));
  const ingested = await edgepeer(['ingest', file, '--piece-length', '16KiB', '--data-dir', edgeDir(), '--json']);
  expect(ingested.code, ingested.stderr).toBe(0);
  infoHash = String(ingested.lines[0]?.infoHash);
  await vi.waitFor(
    async () => {
      const objects = (await adminGet('/v1/objects')) as Array<{ infoHash: string; piecesHeld: number }>;
      expect(objects.find((o) => o.infoHash === infoHash)?.piecesHeld).toBe(PIECES);
    },
    { timeout: 15_000, interval: 200 },
  );
  browser = await launchChromium(join(dir, 'chromium-profile'));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stop(edge);
  await stop(controller);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(skipWithoutChromium)("the controller's dashboard in chromium", () => {
  it('refuses pages without a session and a wrong token; logs in with the controller admin token', async () => {
    const base = controller.listening.adminUrl;
    const page = await browser.newPage();
    await page.setBypassCSP(true);
    await page.goto(`${base}/dashboard/edges`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/login');
    expect(await page.$eval('main p', (p) => p.textContent)).toContain("controller's admin token");
    await expectAccessible(page, 'controller login');
    expect(await page.evaluate(async () => (await fetch('/dashboard/api/edges')).status)).toBe(401);
    await logIn(page, base, `${token}x`);
    expect(page.url()).toContain('/dashboard/login?failed=1');
    await logIn(page, base, token);
    expect(new URL(page.url()).pathname).toBe('/dashboard/');
    await page.waitForSelector('#edges-serving');
    expect(await page.$eval('#edges-serving', (e) => e.textContent)).toBe('1 of 1');
    expect(await page.$eval('#objects-count', (e) => e.textContent)).toBe('1');
    await expectAccessible(page, 'controller overview');
    await page.close();
  });

  it('shows the edge with its health and free space, and the union and edge piece maps of what it holds', async () => {
    const base = controller.listening.adminUrl;
    const page = await browser.newPage();
    await page.setBypassCSP(true);
    await logIn(page, base, token);
    await page.goto(`${base}/dashboard/edges`);
    const row = await page.waitForSelector(`#edges tr[data-edge-id="${edgeId}"][data-health="up"]`);
    const cells = (await row?.$$eval('td', (tds) => tds.map((td) => td.textContent))) as string[];
    expect(cells[2]).toBe('up');
    expect(cells[5]).toMatch(/^\d[\d.]* (B|KiB|MiB|GiB|TiB)( of .+)?$/); // free space, from its heartbeat
    expect(cells[6]).toBe('1');
    expect(cells[7]).toBe(String(PIECES));
    await expectAccessible(page, 'controller edges');

    await page.goto(`${base}/dashboard/objects?id=${infoHash}`);
    await page.waitForSelector(`#objects tr[data-info-hash="${infoHash}"]`);
    await page.waitForSelector(`#piece-map[data-held="${PIECES}"]`);
    await page.waitForSelector(`#edge-maps canvas[data-edge-id="${edgeId}"][data-held="${PIECES}"]`);
    await page.waitForSelector('#copies-map[data-max="1"][data-none="0"]');
    await expectAccessible(page, 'controller objects');
    await page.close();
  });

  it('purges pieces through the controller after confirmation: the edge drops them, the union map shows it', async () => {
    const base = controller.listening.adminUrl;
    const page = await browser.newPage();
    await logIn(page, base, token);
    await page.goto(`${base}/dashboard/objects?id=${infoHash}`);
    await page.waitForSelector(`#piece-map[data-held="${PIECES}"]`);
    await page.type('#purge-pieces', '5-6');
    await page.click('#purge-pieces-button');
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm button[value=cancel]');
    await page.waitForSelector('#confirm:not([open])');
    expect(((await adminGet(`/v1/objects/${infoHash}`)) as { piecesHeld: number }).piecesHeld).toBe(PIECES);
    await page.click('#purge-pieces-button');
    await page.waitForSelector('#confirm[open]');
    expect(await page.$eval('#confirm-text', (e) => e.textContent)).toContain('pieces 5-6 of news.bin');
    await page.click('#confirm-ok');
    await page.waitForSelector(`#piece-map[data-held="${PIECES - 2}"]`, { timeout: 15_000 });
    await page.waitForSelector(`#edge-maps canvas[data-edge-id="${edgeId}"][data-held="${PIECES - 2}"]`);
    expect(await page.$eval('#purge-result', (e) => e.textContent)).toMatch(/^pieces-purged/);
    const shown = (await adminGet(`/v1/objects/${infoHash}`)) as { piecesHeld: number };
    expect(shown.piecesHeld).toBe(PIECES - 2);
    await page.close();
  });

  it('drains an edge only after confirmation, and the page shows it draining without reloading', async () => {
    const base = controller.listening.adminUrl;
    const page = await browser.newPage();
    await logIn(page, base, token);
    await page.goto(`${base}/dashboard/edges`);
    await page.waitForSelector('body[data-live="sse"]');
    const button = `#edges tr[data-edge-id="${edgeId}"] button[data-action="drain"]`;
    await page.click(button);
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm button[value=cancel]');
    await page.waitForSelector('#confirm:not([open])');
    const before = (await adminGet('/v1/edges')) as Array<{ health: string }>;
    expect(before[0]?.health).toBe('up');

    await page.evaluate('window.notReloaded = true');
    await page.click(button);
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitForSelector(`#edges tr[data-edge-id="${edgeId}"][data-health="draining"]`);
    const after = (await adminGet('/v1/edges')) as Array<{ health: string }>;
    expect(after[0]?.health).toBe('draining');

    // Undrained through the JSON API: the open page hears of it from its live stream.
    const undrain = await request(`${base}/v1/edges/${edgeId}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ draining: false }),
    });
    expect(undrain.statusCode).toBe(200);
    await page.waitForSelector(`#edges tr[data-edge-id="${edgeId}"][data-health="up"]`, { timeout: 10_000 });
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    await page.close();
  });
});
