// What open dashboards cost the agent: N overview pages over a catalog of 100,000 objects, following the
// live stream (one computation per 2 s for all) against the yardstick of each page polling
// /dashboard/api/overview every 2 s (what the pages did before the stream), in the same run. Reports the
// agent's CPU time per 2 s cycle (process.cpuUsage around the server's work, the clients in this process
// too but doing little: reading frames) and the ratio.
// usage: node scripts/bench/dashboard-live.ts   env: OBJECTS=100000, PAGES=1,10,64, CYCLES=10
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminServer, ensureToken } from '../../src/admin/index.ts';
import { createDashboard } from '../../src/dashboard/index.ts';
import type { CatalogObject } from '../../src/store/index.ts';

const OBJECTS = Number(process.env.OBJECTS ?? 100_000);
const PAGES = (process.env.PAGES ?? '1,10,64').split(',').map(Number);
const CYCLES = Number(process.env.CYCLES ?? 10);
const PERIOD_MS = 200; // ticks 10x faster than the pages' 2 s: the same work per cycle, a shorter run

function object(i: number): CatalogObject {
  return {
    infoHash: i.toString(16).padStart(40, '0'),
    name: `object-${i}.bin`,
    length: 1_000_000,
    pieceLength: 262_144,
    pieceCount: 4,
    bitfield: { length: 4, get: () => true, toBuffer: () => Buffer.alloc(1, 0xf0) } as never,
    piecesHeld: 4,
    complete: true,
    addedAt: 1_700_000_000_000 + i,
    expiresAt: null,
    source: null,
  };
}

const catalog = Array.from({ length: OBJECTS }, (_, i) => object(i));
const dir = await mkdtemp(join(tmpdir(), 'edgepeer-bench-dashboard-'));
const token = await ensureToken(join(dir, 'admin.token'));
let sent = 0;
const dashboard = createDashboard({
  token,
  operations: {} as never,
  store: { list: () => catalog, find: () => catalog[0] as never, on: () => undefined },
  status: () => ({
    objects: catalog.length,
    objectsComplete: catalog.length,
    wire: { connections: 0, uploadedBytes: sent },
    http: { connections: 0, bytesSent: 0, requests: 0 },
    cache: { hits: 1, misses: 1, bytes: 0, maxBytes: 1, corruptPieces: 0 },
    trackers: [],
    ims: null,
    controller: null,
    addresses: {},
  }),
  peers: () => [],
  counters: () => {
    sent += 1000; // traffic: the rate chart moves, so each overview differs from the one before
    return { sentBytes: sent, pulledBytes: 0, connections: 0 };
  },
  sampleEveryMs: PERIOD_MS,
  maxLivePages: 1000,
});
const server = createAdminServer({
  operations: {} as never,
  pages: (req, res) => dashboard.handle(req, res),
  token,
  host: '127.0.0.1',
  port: 0,
  status: () => ({}),
});
const url = new URL(await server.listen());

const login = await fetch(`${url.origin}/dashboard/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ token }),
  redirect: 'manual',
});
const cookie = String(login.headers.get('set-cookie')).split(';')[0] as string;

function get(path: string): Promise<IncomingMessage> {
  const req = httpRequest({ host: url.hostname, port: url.port, path, headers: { cookie }, agent: false });
  req.end();
  return once(req, 'response').then(([res]) => res as IncomingMessage);
}

/** CPU ms of this process per cycle while `pages` pages follow the stream. */
async function live(pages: number): Promise<number> {
  const streams = await Promise.all(Array.from({ length: pages }, () => get('/dashboard/api/events?topics=overview')));
  let events = 0;
  for (const res of streams)
    res.on('data', (chunk: Buffer) => (events += chunk.toString().split('event: ').length - 1));
  while (events < pages) await new Promise((resolve) => setTimeout(resolve, 10));
  const start = process.cpuUsage();
  const target = events + pages * CYCLES;
  while (events < target) await new Promise((resolve) => setTimeout(resolve, 5));
  const used = process.cpuUsage(start);
  for (const res of streams) res.destroy();
  return (used.user + used.system) / 1000 / CYCLES;
}

/** CPU ms per cycle while `pages` pages each fetch the overview once a cycle. */
async function polling(pages: number): Promise<number> {
  const start = process.cpuUsage();
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const began = Date.now();
    await Promise.all(
      Array.from({ length: pages }, async () => {
        const res = await get('/dashboard/api/overview');
        res.resume();
        await once(res, 'end');
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, PERIOD_MS - (Date.now() - began))));
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / CYCLES;
}

console.log(
  `loadavg: ${(await import('node:os'))
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
);
console.log(`${OBJECTS} objects; CPU ms of the agent process per cycle (one overview per page), ${CYCLES} cycles`);
console.log('pages  live-stream  polling  polling/live');
for (const pages of PAGES) {
  const streamed = await live(pages);
  const polled = await polling(pages);
  console.log(
    `${String(pages).padStart(5)}  ${streamed.toFixed(1).padStart(11)}  ${polled.toFixed(1).padStart(7)}  ${(polled / streamed).toFixed(1).padStart(12)}x`,
  );
}
dashboard.close();
await server.close();
await rm(dir, { recursive: true, force: true });
