// Storage control placing pieces where the demand is (ALTO, docs/topology.md "Storage control"): a controller
// with network maps and storage control, three real agents each on its own loopback /24 (PIDs a, b, c), the
// reference tracker with the same maps (its statistics count leechers by PID), and leechers announcing from
// PID b. Edge a holds the object's first pieces, so the rule without maps (keep an object together) would put
// the rest on edge a too: with maps the rest goes to edge b, where the leechers are.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { DEFAULT_CONTROLLER_CONFIG } from '../../src/config/index.ts';
import { Controller } from '../../src/controller/index.ts';
import type { IngestResult } from '../../src/ingest/index.ts';
import { buildMetainfo, encodeTorrent } from '../../src/metainfo/index.ts';
import { DEFAULT_SETTINGS } from '../../src/policy/index.ts';
import { Topology } from '../../src/topology/index.ts';
import { createTracker, type Tracker } from '../../src/tracker/index.ts';
import { TestOrigin } from '../helpers/origin.ts';
import { announceFrom, PIDS, writeLoopbackMaps } from '../interop/topology-support.ts';

const PIECE = 16 * 1024;
const PIECE_COUNT = 8;
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });
const content = Buffer.alloc(PIECE_COUNT * PIECE);
for (let i = 0; i < content.length; i += 1) content[i] = (i * 7 + (i >> 9)) & 0xff;

let dir: string;
let origin: TestOrigin;
let topology: Topology;
let tracker: Tracker;
let trackerUrl: string;
let controller: Controller;
const edges: Agent[] = [];
const metainfo = buildMetainfo({
  name: 'film.bin',
  pieceLength: PIECE,
  multiFile: false,
  files: [{ path: [], length: content.length }],
  pieceHashes: Buffer.concat(
    Array.from({ length: PIECE_COUNT }, (_, i) =>
      createHash('sha1')
        .update(content.subarray(i * PIECE, (i + 1) * PIECE))
        .digest(),
    ),
  ),
});

/** Pieces of the object each edge holds, as the controller sees them, by the edge's PID. */
function heldByEdge(): Record<string, number> {
  const held: Record<string, number> = {};
  for (const { edge, bitfield } of controller.catalog.holdings(metainfo.infoHash)) {
    held[`edge-${controller.nearness!.edgePid(edge)}`] = bitfield.count();
  }
  return held;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-topology-placement-'));
  await writeLoopbackMaps(join(dir, 'networkmap.json'), join(dir, 'costmap.json'));
  origin = new TestOrigin();
  origin.files.set('/film.bin', content);
  const originUrl = await origin.start();
  topology = await Topology.open({
    networkMap: join(dir, 'networkmap.json'),
    costMap: join(dir, 'costmap.json'),
    watchFiles: false,
  });
  tracker = createTracker({ port: 0, host: '127.0.0.1', udp: false, intervalS: 60, topology });
  const address = await tracker.listen();
  trackerUrl = `http://127.0.0.1:${address.port}`;
  controller = await Controller.start(
    {
      ...DEFAULT_CONTROLLER_CONFIG,
      dataDir: join(dir, 'controller'),
      peer: { port: 0, host: '127.0.0.1' },
      http: { port: 0, host: '127.0.0.1' },
      edges: { host: '127.0.0.1', port: 0, heartbeatMs: 500, replicas: 1 },
      admin: null,
      trackers: [`${trackerUrl}/announce`],
      shutdownGraceMs: 500,
      topology: { networkMap: join(dir, 'networkmap.json'), costMap: join(dir, 'costmap.json'), refreshS: 300 },
      storageControl: {
        settings: { ...DEFAULT_SETTINGS, lowCopies: 1, highCopies: 2, staleMs: 30_000 },
        statsUrl: `${trackerUrl}/stats`,
        objects: null,
        intervalMs: 300,
        topUpBytesPerSecond: 0,
        catalogue: null,
      },
    },
    silent,
  );
  for (const [index, prefix] of [PIDS.a, PIDS.b, PIDS.c].entries()) {
    const { token } = await controller.registry.createToken(60_000, `edge${index}`);
    edges.push(
      await Agent.start(
        {
          ...DEFAULT_AGENT_CONFIG,
          dataDir: join(dir, `edge${index}`),
          peer: { port: 0, host: `${prefix}.1` },
          http: { ...DEFAULT_AGENT_CONFIG.http!, port: 0, host: `${prefix}.1` },
          admin: null,
          hashThreads: 1,
          scrub: { ...DEFAULT_AGENT_CONFIG.scrub, bytesPerSecond: 0 },
          controller: { urls: [controller.where().edgeUrl], enrolToken: token },
        },
        silent,
      ),
    );
  }
  await vi.waitFor(() => expect(controller.status().edges.up).toBe(3), { timeout: 10_000, interval: 50 });
  // The operator put the first two pieces on edge a; the .torrent's url-list names the origin.
  const torrentFile = join(dir, 'film.torrent');
  await writeFile(torrentFile, encodeTorrent({ ...metainfo, urlList: [`${originUrl}/`] }));
  const results: IngestResult[] = [];
  await edges[0]!.operations.ingest(
    { sources: [`${originUrl}/film.bin`], torrentFile, options: { pieces: [0, 1] } },
    (result) => results.push(result),
  );
  expect(results[0]).toMatchObject({ status: 'ingested', piecesHeld: 2 });
  await vi.waitFor(() => expect(heldByEdge()).toEqual({ 'edge-a': 2 }), { timeout: 10_000, interval: 20 });
}, 60_000);

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.stop()));
  await controller?.stop();
  await tracker?.close();
  topology?.close();
  await origin?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('storage control with ALTO maps', () => {
  it("places the pieces the swarm lacks on the edge of the leechers' PID, not with the pieces held elsewhere", async () => {
    // Three leechers in b, one in a: b has the most demand no local seed serves.
    for (const host of [2, 3, 4]) await announceFrom(`${trackerUrl}/announce`, metainfo.infoHash, `${PIDS.b}.${host}`);
    await announceFrom(`${trackerUrl}/announce`, metainfo.infoHash, `${PIDS.a}.2`);
    const stats = await tracker.swarms.stats(metainfo.infoHash, 0, (compact) => topology.pidOfCompact(compact));
    expect(stats.pids).toEqual({ a: { seeds: 0, leechers: 1 }, b: { seeds: 0, leechers: 3 } });
    await vi.waitFor(() => expect(controller.catalog.known(metainfo.infoHash)?.bitfield.count()).toBe(PIECE_COUNT), {
      timeout: 20_000,
      interval: 50,
    });
    // The rule without maps (alto-placement: load) puts them on edge a: { 'edge-a': 8 }.
    expect(heldByEdge()).toEqual({ 'edge-a': 2, 'edge-b': PIECE_COUNT - 2 });
    // The tracker's statistics, as storage control reads them over HTTP, name the PIDs.
    const answer = (await (await fetch(`${trackerUrl}/stats/${metainfo.infoHash}?peers=0`)).json()) as {
      pids: Record<string, unknown>;
    };
    expect(answer.pids).toEqual({ a: { seeds: 0, leechers: 1 }, b: { seeds: 0, leechers: 3 } });
  }, 30_000);
});
