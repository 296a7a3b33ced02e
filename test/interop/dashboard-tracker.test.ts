// The reference tracker's dashboard in Debian's chromium, against `edgepeer tracker --admin-token-file`
// and an agent announcing to it: no dashboard without the flag, login refused without a session and with
// a wrong token, the swarm listed with its copies per piece as a heat map, which follows a purge without
// reloading; axe-core on every page.
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectAccessible,
  expectLoginRequired,
  launchChromium,
  loggedInPage,
  logIn,
  skipWithoutChromium,
} from '../helpers/chromium.ts';
import { edgepeer } from '../helpers/cli.ts';
import { type RunningEdgepeerTracker, startTrackerCommand } from './tracker-support.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const PIECES = 24;

let dir: string;
let tracker: RunningEdgepeerTracker & { dashboardUrl?: string };
let agent: ChildProcess;
let browser: Browser;
let token: string;
let infoHash: string;
let base: string;

/** The tracker's statistics of the object once `accept` holds (long poll on its version). */
async function statsWhen(accept: (stats: { seeds: number; pieceCopies: number[] | null }) => boolean) {
  let version = -1;
  for (;;) {
    const url = `${tracker.statsUrl}/${infoHash}${version >= 0 ? `?since=${version}&wait=10` : ''}`;
    const stats = (await (await request(url)).body.json()) as {
      version: number;
      seeds: number;
      pieceCopies: number[] | null;
    };
    if (accept(stats)) return stats;
    version = stats.version;
  }
}

beforeAll(async () => {
  if (skipWithoutChromium) return;
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-dashboard-tracker-'));
  const tokenFile = join(dir, 'tracker.token');
  // --interval 2: min interval 1 s, so that the agent's announce after a purge comes at once.
  tracker = await startTrackerCommand(['--admin-token-file', tokenFile, '--interval', '2']);
  token = (await readFile(tokenFile, 'utf8')).trim();
  base = tracker.statsUrl.replace(/\/stats$/, '');
  const dataDir = join(dir, 'store');
  const config = join(dir, 'edgepeer.yaml');
  await writeFile(
    config,
    [
      `dataDir: ${dataDir}`,
      'logLevel: warn',
      `trackers: [${tracker.announceUrl}]`,
      'peer: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      'admin: { listen: "127.0.0.1:0" }',
      '',
    ].join('\n'),
  );
  agent = spawn(process.execPath, [RUN, 'agent', '--config', config, '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(createInterface({ input: agent.stdout as NodeJS.ReadableStream }), 'line');
  const file = join(dir, 'show.bin');
  await writeFile(file, randomBytes(PIECES * 16384));
  const ingested = await edgepeer(['ingest', file, '--piece-length', '16KiB', '--data-dir', dataDir, '--json']);
  expect(ingested.code, ingested.stderr).toBe(0);
  infoHash = String(ingested.lines[0]?.infoHash);
  await statsWhen((s) => s.seeds === 1 && s.pieceCopies?.length === PIECES);
  browser = await launchChromium(join(dir, 'chromium-profile'));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  }
  await tracker?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(skipWithoutChromium)("the tracker's dashboard in chromium", () => {
  it('is not served without --admin-token-file', async () => {
    const plain = await startTrackerCommand([]);
    try {
      const res = await request(`${plain.statsUrl.replace(/\/stats$/, '')}/dashboard/`);
      expect(res.statusCode).toBe(404);
      await res.body.dump();
    } finally {
      await plain.stop();
    }
    expect(tracker.dashboardUrl).toBe(`${base}/dashboard/`);
  });

  it('refuses pages and data without a session and a wrong token, then logs in with the token', async () => {
    const page = await expectLoginRequired(browser, base, {
      pagePath: '/dashboard/swarms',
      apiPath: '/dashboard/api/swarms',
      wrongToken: `x${token}`,
      hint: '--admin-token-file',
    });
    await logIn(page, base, token);
    await page.waitForSelector('#swarms-count');
    expect(await page.$eval('#swarms-count', (e) => e.textContent)).toBe('1');
    await expectAccessible(page, 'tracker overview');
    await page.close();
  });

  it("lists the swarm and draws its copies per piece, which follow the agent's purge without reloading", async () => {
    const page = await loggedInPage(browser, base, token, { forAxe: true });
    await page.goto(`${base}/dashboard/swarms`);
    const link = await page.waitForSelector(`#swarms tr[data-info-hash="${infoHash}"] a`);
    await link?.click();
    await page.waitForSelector('#swarm-map[data-max="1"][data-none="0"]');
    await page.waitForSelector('body[data-live="sse"]');
    await expectAccessible(page, 'tracker swarms');
    await page.evaluate('window.notReloaded = true');

    const purged = await edgepeer(['purge', infoHash, '--pieces', '3-4', '--data-dir', join(dir, 'store'), '--json']);
    expect(purged.code, purged.stderr).toBe(0);
    await page.waitForSelector('#swarm-map[data-none="2"]', { timeout: 30_000 });
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    await page.close();
  });
});
