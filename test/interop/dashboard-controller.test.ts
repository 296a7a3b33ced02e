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
import {
  expectAccessible,
  expectLoginRequired,
  launchChromium,
  loggedInPage,
  logIn,
  skipWithoutChromium,
} from '../helpers/chromium.ts';
import { edgepeer } from '../helpers/cli.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const LT_CLIENT = fileURLToPath(new URL('../wire/lt_client.py', import.meta.url));
const PIECE = 16384;
const PIECES = 30;

interface Running {
  child: ChildProcess;
  listening: { adminUrl: string; edgeUrl: string; peerPort: number };
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
    const page = await expectLoginRequired(browser, base, {
      pagePath: '/dashboard/edges',
      apiPath: '/dashboard/api/edges',
      wrongToken: `${token}x`,
      hint: "controller's admin token",
    });
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
    const page = await loggedInPage(browser, base, token, { forAxe: true });
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

  it('shows a libtorrent download through the controller as a peer with its pieces and a rate, and charts it', async () => {
    const base = controller.listening.adminUrl;
    const torrent = join(dir, 'news.torrent');
    expect((await edgepeer(['torrent', infoHash, '-o', torrent, '--data-dir', edgeDir()])).code).toBe(0);
    // 16 KiB/s: the 30 pieces take half a minute, long enough for the page to see the peer twice.
    const leecher = spawn(
      '/usr/bin/python3',
      [
        LT_CLIENT,
        '--torrent',
        torrent,
        '--save',
        join(dir, 'leech'),
        '--peer',
        `127.0.0.1:${controller.listening.peerPort}`,
        '--download-limit',
        String(PIECE),
        '--timeout',
        '90',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    leecher.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    leecher.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      const page = await loggedInPage(browser, base, token, { forAxe: true });
      await page.goto(`${base}/dashboard/peers`);
      const row = await page
        .waitForSelector(`#peers tr[data-info-hash="${infoHash}"][data-rate-positive]`, { timeout: 60_000 })
        .catch((err: Error) => {
          throw new Error(`${err.message}; libtorrent said: ${output.slice(-2000)}`);
        });
      const cells = (await row?.$$eval('td', (tds) => tds.map((td) => td.textContent))) as string[];
      expect(cells[0]).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(cells[1]).toMatch(/^-LT/); // libtorrent's peer id prefix
      expect(cells[3]).toMatch(new RegExp(`^\\d+ of ${PIECES}$`));
      expect(cells[5]).toMatch(/^[1-9][\d.]* (B|KiB|MiB)\/s$/);
      await expectAccessible(page, 'controller peers');

      // The overview's chart: what the controller sent over the last minutes, with the points it had
      // when the page opened and those the live stream adds.
      await page.goto(`${base}/dashboard/`);
      await page.waitForSelector('#rates[data-points]');
      const points = Number(await page.$eval('#rates', (c) => c.getAttribute('data-points')));
      expect(points).toBeGreaterThan(0);
      await page.waitForFunction(
        `Number(document.querySelector('#rates')?.dataset.points) > ${points} && Number(document.querySelector('#rates')?.dataset.peak) > 0`,
        { polling: 200, timeout: 15_000 },
      );
      await expectAccessible(page, 'controller overview with its chart');
      await page.close();
    } finally {
      leecher.kill('SIGTERM');
      if (leecher.exitCode === null && leecher.signalCode === null) await once(leecher, 'exit');
    }
  });

  it('purges pieces through the controller after confirmation: the edge drops them, the union map shows it', async () => {
    const base = controller.listening.adminUrl;
    const page = await loggedInPage(browser, base, token);
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
    const page = await loggedInPage(browser, base, token);
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
