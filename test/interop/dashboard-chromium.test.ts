// The dashboard in a real browser: Debian's chromium, headless, driven by puppeteer-core (which downloads
// no browser), against the agent as a real process. Log in, see an object ingested a moment before with its
// piece map, purge a piece and watch the map change; be refused without the token and with a wrong one.
// Everything on loopback; the browser is told to resolve no other host and to make no background calls.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTokenFile } from '../../src/admin/index.ts';
import type { AgentAddresses } from '../../src/agent/index.ts';
import {
  expectAccessible,
  expectLoginRequired,
  launchChromium,
  loggedInPage,
  skipWithoutChromium,
} from '../helpers/chromium.ts';
import { edgepeer } from '../helpers/cli.ts';
import { type RunningEdgepeerTracker, startLtLeecher, startTrackerCommand } from './tracker-support.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const skip = skipWithoutChromium;
if (skip)
  console.warn('dashboard-chromium: skipped, `command -v chromium` finds nothing (bash scripts/setup-system.sh)');

let dir: string;
let dataDir: string;
let agent: ChildProcess;
let where: AgentAddresses;
let browser: Browser;
let token: string;
let tracker: RunningEdgepeerTracker;

async function startAgent(): Promise<void> {
  const configFile = join(dir, 'edgepeer.yaml');
  await writeFile(
    configFile,
    [
      `dataDir: ${dataDir}`,
      'logLevel: warn',
      `trackers: [${tracker.announceUrl}]`,
      'peer:',
      '  port: 0',
      '  host: 127.0.0.1',
      'http:',
      '  port: 0',
      '  host: 127.0.0.1',
      'admin:',
      '  listen: 127.0.0.1:0',
      '',
    ].join('\n'),
  );
  agent = spawn(process.execPath, [RUN, 'agent', '--config', configFile, '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const reader = createInterface({ input: agent.stdout as NodeJS.ReadableStream });
  const [first] = (await Promise.race([
    once(reader, 'line'),
    once(agent, 'exit').then(([code]) => {
      throw new Error(`agent exited with ${code} before listening`);
    }),
  ])) as [string];
  where = JSON.parse(first) as AgentAddresses;
  if (!where.adminUrl) throw new Error(`agent did not start: ${first}`);
}

beforeAll(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-dashboard-'));
  dataDir = join(dir, 'store');
  tracker = await startTrackerCommand(['--interval', '60']);
  await startAgent();
  token = (await readFile(defaultTokenFile(dataDir), 'utf8')).trim();
  browser = await launchChromium(join(dir, 'chromium-profile'));
});

afterAll(async () => {
  await browser?.close();
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  }
  await tracker?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The colour drawn for `piece` in the piece map (one pixel at the cell's top left). */
async function pieceColour(page: Page, piece: number, canvasId = 'piece-map'): Promise<number[]> {
  return page.$eval(
    `#${canvasId}`,
    (canvas, index) => {
      // No DOM types in this project's tsconfig: the canvas as far as this reads it.
      const c = canvas as unknown as {
        dataset: Record<string, string>;
        getContext(kind: '2d'): {
          getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
        };
      };
      const cell = Number(c.dataset.cell);
      const columns = Number(c.dataset.columns);
      const x = (index % columns) * cell;
      const y = Math.floor(index / columns) * cell;
      return [...c.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3)];
    },
    piece,
  );
}

/** A new page logged in to the agent's dashboard (`forAxe`: CSP bypassed for axe-core). */
function openLoggedIn(forAxe = false): Promise<Page> {
  return loggedInPage(browser, where.adminUrl as string, token, { forAxe });
}

/** Swarm statistics of one object from edgepeer's tracker once `accept` holds (long poll on its version). */
async function swarmWhen(
  infoHash: string,
  accept: (stats: { seeds: number; leechers: number }) => boolean,
): Promise<void> {
  let version = -1;
  for (;;) {
    const url = `${tracker.statsUrl}/${infoHash}${version >= 0 ? `?since=${version}&wait=10` : ''}`;
    const stats = (await (await request(url)).body.json()) as { version: number; seeds: number; leechers: number };
    if (accept(stats)) return;
    version = stats.version;
  }
}

/**
 * A TCP relay to the agent's admin API for the browser, which can cut every connection through it and hold
 * new ones (accepted, not passed on) until released: a network outage on the way to the agent, which the
 * agent itself cannot be made to produce. It keeps the head of each request it passed on.
 */
async function startRelay(target: URL) {
  const links = new Set<Socket>();
  const requests: string[] = [];
  let held: Array<() => void> | null = null;
  const server = createTcpServer((client) => {
    const link = () => {
      const upstream = connect(Number(target.port), target.hostname);
      links.add(client).add(upstream);
      client.on('data', (chunk: Buffer) => requests.push(chunk.toString('latin1').split('\r\n\r\n')[0] as string));
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        links.delete(client);
        links.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    };
    if (held === null) link();
    else held.push(link);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    /** Cuts every connection (the page's live stream among them) and holds new ones. */
    cutAndHold(): void {
      held = [];
      for (const socket of links) socket.destroy();
    },
    release(): void {
      const waiting = held ?? [];
      held = null;
      for (const link of waiting) link();
    },
    close(): void {
      for (const socket of links) socket.destroy();
      server.close();
    },
  };
}

const HELD = [45, 164, 78];
const MISSING = [208, 215, 222];

describe.skipIf(skip)('the dashboard in chromium', () => {
  let infoHash: string;
  const pieceLength = 16384;
  const pieces = 40;

  it('refuses pages and data without a session, and a wrong token at login', async () => {
    const page = await expectLoginRequired(browser, where.adminUrl as string, {
      pagePath: '/dashboard/objects',
      apiPath: '/dashboard/api/objects',
      wrongToken: `${token.slice(0, -1)}x`,
      hint: "agent's admin token",
    });
    await page.goto(`${where.adminUrl}/dashboard/`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/login');
    await page.close();
  });

  it('logs in with the admin token and shows an object ingested a moment before, with its piece map', async () => {
    const file = join(dir, 'clip.bin');
    await writeFile(file, randomBytes(pieces * pieceLength - 1000));
    const ingested = await edgepeer(['ingest', file, '--piece-length', '16KiB', '--data-dir', dataDir, '--json']);
    expect(ingested.code, ingested.stderr).toBe(0);
    infoHash = String(ingested.lines[0]?.infoHash);

    const page = await openLoggedIn(true);
    expect(new URL(page.url()).pathname).toBe('/dashboard/');
    const [cookie] = await page.cookies();
    expect(cookie).toMatchObject({ name: 'edgepeer_session', httpOnly: true, sameSite: 'Strict', path: '/dashboard' });
    await page.waitForSelector('#objects-count');
    await page.waitForFunction(
      (selector: string) =>
        (
          globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }
        ).document.querySelector(selector)?.textContent === '1',
      {},
      '#objects-count',
    );
    await expectAccessible(page, 'overview');

    await page.goto(`${where.adminUrl}/dashboard/objects`);
    const row = await page.waitForSelector(`tr[data-info-hash="${infoHash}"] a`);
    expect(await row?.evaluate((a) => a.textContent)).toBe('clip.bin');
    await row?.click();
    await page.waitForSelector(`#piece-map[data-held="${pieces}"]`);
    expect(await page.$eval('#piece-map', (c) => c.getAttribute('aria-label'))).toContain(
      `${pieces} of ${pieces} pieces held`,
    );
    expect(await pieceColour(page, 7)).toEqual(HELD);
    await expectAccessible(page, 'objects with a piece map');
    await page.close();
  });

  it('purges a piece after confirmation, and the map shows it missing', async () => {
    const page = await openLoggedIn();
    await page.goto(`${where.adminUrl}/dashboard/objects?id=${infoHash}`);
    await page.waitForSelector(`#piece-map[data-held="${pieces}"]`);
    // edgepeer's tracker knows the agent's bitmap: one copy of every piece in the swarm.
    await page.waitForSelector('#swarm-map[data-max="1"][data-none="0"]');

    // Cancelled: nothing is purged.
    await page.type('#purge-pieces', '7');
    await page.click('#purge-pieces-button');
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm button[value=cancel]');
    await page.waitForSelector('#confirm:not([open])');
    const shown = await request(`${where.adminUrl}/v1/objects/${infoHash}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await shown.body.json()) as { piecesHeld: number }).piecesHeld).toBe(pieces);

    await page.click('#purge-pieces-button');
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitForSelector(`#piece-map[data-held="${pieces - 1}"]`);
    expect(await page.$eval('#purge-result', (e) => e.textContent)).toBe('pieces-purged: 1 pieces removed');
    expect(await pieceColour(page, 7)).toEqual(MISSING);
    expect(await pieceColour(page, 6)).toEqual(HELD);
    // The agent announces its new bitmap no sooner than the tracker's min interval after the ingest's announce
    // (30 s: half the --interval 60 this tracker runs with); the tracker's copies of piece 7 drop to none.
    await page.waitForSelector('#swarm-map[data-none="1"]', { timeout: 60_000 });
    expect(await pieceColour(page, 7, 'swarm-map')).toEqual(MISSING);
    expect(await pieceColour(page, 6, 'swarm-map')).not.toEqual(MISSING);
    const after = await request(`${where.adminUrl}/v1/objects/${infoHash}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await after.body.json()) as { held: string }).held).toBe(`0-6,8-${pieces - 1}`);
    await page.close();
  });

  it('updates the overview and the object list without reloading: a live stream, or polling when told to', async () => {
    const live = await openLoggedIn();
    await live.waitForSelector('body[data-live="sse"]');
    const polled = await openLoggedIn();
    await polled.goto(`${where.adminUrl}/dashboard/objects?live=poll`);
    await polled.waitForSelector('body[data-live="poll"]');
    const listed = await openLoggedIn();
    await listed.goto(`${where.adminUrl}/dashboard/objects`);
    await listed.waitForSelector('body[data-live="sse"]');
    const before = Number(await live.$eval('#objects-count', (e) => e.textContent));
    // A mark on each page's window: gone if the page reloaded.
    for (const page of [live, polled, listed]) await page.evaluate('window.notReloaded = true');

    const file = join(dir, 'live.bin');
    await writeFile(file, randomBytes(3 * pieceLength));
    const ingested = await edgepeer(['ingest', file, '--piece-length', '16KiB', '--data-dir', dataDir, '--json']);
    expect(ingested.code, ingested.stderr).toBe(0);
    const liveHash = String(ingested.lines[0]?.infoHash);
    // Polled with an interval: a page behind another gets no animation frames.
    await live.waitForFunction(`document.querySelector('#objects-count')?.textContent === '${before + 1}'`, {
      polling: 100,
    });
    await listed.waitForSelector(`tr[data-info-hash="${liveHash}"]`);
    // Polled, the list comes every 10 s, and only to a page in view.
    await polled.bringToFront();
    await polled.waitForSelector(`tr[data-info-hash="${liveHash}"]`, { timeout: 20_000 });
    for (const page of [live, polled, listed]) expect(await page.evaluate('window.notReloaded')).toBe(true);
    for (const page of [live, polled, listed]) await page.close();
  });

  it('resumes its live stream after the connection is cut, with Last-Event-ID: a change made meanwhile shows', async () => {
    const relay = await startRelay(new URL(where.adminUrl as string));
    try {
      // The cookie is the host's, whatever the port: logged in through the relay as directly.
      const watched = await loggedInPage(browser, relay.url, token);
      await watched.goto(`${relay.url}/dashboard/objects`);
      await watched.waitForSelector('body[data-live="sse"]');
      await watched.evaluate('window.notReloaded = true');
      // A page straight to the agent: its list shows the change once the agent has sent it on its stream.
      const witness = await openLoggedIn();
      await witness.goto(`${where.adminUrl}/dashboard/objects`);
      await witness.waitForSelector('body[data-live="sse"]');

      relay.cutAndHold();
      await watched.bringToFront();
      await watched.waitForSelector('body[data-live="reconnecting"]');
      const file = join(dir, 'while-away.bin');
      await writeFile(file, randomBytes(2 * pieceLength));
      const ingested = await edgepeer(['ingest', file, '--piece-length', '16KiB', '--data-dir', dataDir, '--json']);
      expect(ingested.code, ingested.stderr).toBe(0);
      const awayHash = String(ingested.lines[0]?.infoHash);
      await witness.waitForSelector(`tr[data-info-hash="${awayHash}"]`, { timeout: 10_000 });
      // Sent while the page was cut off, and no change comes after it: only the resumption can tell the page.
      expect(await watched.$(`tr[data-info-hash="${awayHash}"]`)).toBeNull();

      relay.release();
      await watched
        .waitForSelector(`tr[data-info-hash="${awayHash}"]`, { timeout: 10_000 })
        .catch(async (err: Error) => {
          throw new Error(
            `${err.message}; relayed: ${JSON.stringify(relay.requests.map((r) => r.split('\r\n').filter((l) => /^(GET|POST|last-event)/i.test(l))))}; page: ${await watched.evaluate('document.body.dataset.live + " " + document.getElementById("updated")?.textContent')}`,
          );
        });
      await watched.waitForSelector('body[data-live="sse"]');
      expect(await watched.evaluate('window.notReloaded')).toBe(true);
      const reconnections = relay.requests.filter((head) => head.startsWith('GET /dashboard/api/events?'));
      expect(reconnections.at(-1)).toMatch(/\r\nlast-event-id: \d+(\r\n|$)/i);
      await watched.close();
      await witness.close();
    } finally {
      relay.close();
    }
  });

  it('ingests a URL after confirmation (a cancelled one fetches nothing), and lists it without reloading', async () => {
    const body = randomBytes(5 * pieceLength);
    let fetched = 0;
    const origin = createServer((_req, res) => {
      fetched += 1;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/origin-file.bin`;
      const page = await openLoggedIn();
      await page.goto(`${where.adminUrl}/dashboard/objects`);
      await page.waitForSelector('body[data-live="sse"]');
      await page.type('#ingest-url', url);
      await page.click('#ingest-url ~ button[type=submit]');
      await page.waitForSelector('#confirm[open]');
      await page.click('#confirm button[value=cancel]');
      await page.waitForSelector('#confirm:not([open])');
      expect(fetched).toBe(0);
      await page.click('#ingest-url ~ button[type=submit]');
      await page.waitForSelector('#confirm[open]');
      await page.click('#confirm-ok');
      await page.waitForFunction(
        `/^ingested: [0-9a-f]{40}$/.test(document.querySelector('#ingest-status')?.textContent ?? '')`,
        {
          polling: 100,
        },
      );
      const ingestedHash = String(await page.$eval('#ingest-status', (e) => e.textContent)).split(': ')[1];
      await page.waitForSelector(`tr[data-info-hash="${ingestedHash}"]`);
      expect(fetched).toBeGreaterThan(0);
      await page.close();
    } finally {
      origin.close();
    }
  });

  it('refuses a write from the page without the session anti-CSRF header', async () => {
    const page = await openLoggedIn();
    const status = await page.evaluate(
      async (id) =>
        (
          await fetch('/dashboard/api/purge', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ infoHash: id }),
          })
        ).status,
      infoHash,
    );
    expect(status).toBe(401);
    const shown = await request(`${where.adminUrl}/v1/objects/${infoHash}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(shown.statusCode).toBe(200);
    await page.close();
  });

  it('shows a libtorrent download as a peer with its pieces and a rate', async () => {
    const file = join(dir, 'slow.bin');
    await writeFile(file, randomBytes(4 * 1024 * 1024));
    const ingested = await edgepeer(['ingest', file, '--piece-length', '64KiB', '--data-dir', dataDir, '--json']);
    expect(ingested.code, ingested.stderr).toBe(0);
    const slowHash = String(ingested.lines[0]?.infoHash);
    await swarmWhen(slowHash, (s) => s.seeds === 1);
    const torrent = join(dir, 'slow.torrent');
    expect((await edgepeer(['torrent', slowHash, '-o', torrent, '--data-dir', dataDir])).code).toBe(0);
    // 64 KiB/s: the 4 MiB take a minute, long enough for the page to poll the peer twice.
    const leecher = startLtLeecher(torrent, join(dir, 'leech'), {
      tracker: tracker.announceUrl,
      timeoutS: 90,
      downloadLimit: 64 * 1024,
    });
    try {
      const page = await openLoggedIn(true);
      await page.goto(`${where.adminUrl}/dashboard/peers`);
      const row = await page.waitForSelector(`#peers tr[data-info-hash="${slowHash}"][data-rate-positive]`, {
        timeout: 60_000,
      });
      const cells = (await row?.$$eval('td', (tds) => tds.map((td) => td.textContent))) as string[];
      expect(cells[0]).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(cells[1]).toMatch(/^-LT/); // libtorrent's peer id prefix
      expect(cells[3]).toMatch(/^\d+ of 64$/); // its pieces: 4 MiB in 64 KiB pieces, from its bitfield and haves
      expect(cells[5]).toMatch(/^[1-9][\d.]* (B|KiB|MiB)\/s$/);
      // Its pieces grow as it tells of them (haves), without reloading.
      await page.waitForFunction(
        `Number(document.querySelector('#peers tr[data-info-hash="${slowHash}"]')?.dataset.pieces) > ${Number.parseInt(String(cells[3]), 10)}`,
        { polling: 200, timeout: 30_000 },
      );
      await expectAccessible(page, 'peers');
      await page.close();
    } finally {
      await leecher.stop();
    }
  });
});
