// Storage control in the controller over real agents in this process (loopback only), statistics from a
// scripted source (the tracker-backed source and the real tracker are in test/policy and
// test/interop/storage-control-controller.test.ts): purges reach every edge holding the pieces, each with
// its own pieces; a rare piece is placed on one edge, which fetches it from the origin; no edge with room
// leaves the ingest blocked, explained.
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { DEFAULT_CONTROLLER_CONFIG } from '../../src/config/index.ts';
import { Controller } from '../../src/controller/index.ts';
import { controllerStorageControl, storageControlRecordPlace } from '../../src/controller/storage-control.ts';
import type { IngestResult } from '../../src/ingest/index.ts';
import type { StorageControlPart } from '../../src/parts/index.ts';
import { DEFAULT_SETTINGS, type StatsReading, type StatsSource } from '../../src/policy/index.ts';
import { TestOrigin } from '../helpers/origin.ts';

const PIECE = 16 * 1024;
const PIECES = 6;
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });
const content = Buffer.alloc(PIECES * PIECE);
for (let i = 0; i < content.length; i += 1) content[i] = (i * 13 + (i >> 10)) & 0xff;

class ScriptedSource extends EventEmitter<{ changed: [string] }> implements StatsSource {
  readonly readings = new Map<string, StatsReading>();
  follow(): void {}
  unfollow(): void {}
  reading(infoHash: string): StatsReading {
    return this.readings.get(infoHash) ?? { counts: null, problem: null };
  }
  /** Copies outside the CDN per piece and leechers, with the CDN's copies as the controller holds them. */
  set(infoHash: string, outside: number[], leechers: number, cdn: number[]): void {
    this.readings.set(infoHash, {
      counts: {
        version: this.readings.size + 1,
        receivedAt: Date.now(),
        swarmCopies: outside.map((o, i) => o + cdn[i]!),
        cdnCopies: cdn,
        demand: leechers,
        seeds: Math.min(...outside),
        leechers,
      },
      problem: null,
    });
  }
  async close(): Promise<void> {}
}

let dir: string;
let origin: TestOrigin;
let originUrl: string;
let controller: Controller;
const edges: Agent[] = [];
let infoHash: string;
const source = new ScriptedSource();
const announced: string[] = [];
let part: StorageControlPart;

function union(): number[] {
  const object = controller.catalog.known(infoHash)!;
  return [...Array(PIECES).keys()].filter((i) => object.bitfield.get(i));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-controller-sc-'));
  origin = new TestOrigin();
  origin.files.set('/film.bin', content);
  originUrl = await origin.start();
  controller = await Controller.start(
    {
      ...DEFAULT_CONTROLLER_CONFIG,
      dataDir: join(dir, 'controller'),
      peer: { port: 0, host: '127.0.0.1' },
      http: { port: 0, host: '127.0.0.1' },
      edges: { host: '127.0.0.1', port: 0, heartbeatMs: 500, replicas: 2 },
      admin: null,
      announce: false,
      shutdownGraceMs: 500,
    },
    silent,
  );
  for (let index = 0; index < 2; index += 1) {
    const { token } = await controller.registry.createToken(60_000, `edge${index}`);
    edges.push(
      await Agent.start(
        {
          ...DEFAULT_AGENT_CONFIG,
          dataDir: join(dir, `edge${index}`),
          peer: { port: 0, host: '127.0.0.1' },
          http: { ...DEFAULT_AGENT_CONFIG.http!, port: 0, host: '127.0.0.1' },
          admin: null,
          hashThreads: 1,
          scrub: { ...DEFAULT_AGENT_CONFIG.scrub, bytesPerSecond: 0 },
          controller: { urls: [controller.where().edgeUrl], enrolToken: token },
        },
        silent,
      ),
    );
  }
  await vi.waitFor(() => expect(controller.status().edges.up).toBe(2), { timeout: 10_000, interval: 50 });
  // The operator's ingest through the controller: both edges hold the whole object.
  const results: IngestResult[] = [];
  await controller.operations.ingest(
    { sources: [`${originUrl}/film.bin`], options: { pieceLength: PIECE } },
    (result) => results.push(result),
  );
  expect(
    results.map((r) => r.status),
    JSON.stringify(results.map((r) => r.error)),
  ).toEqual(['ingested', 'ingested']);
  infoHash = results[0]!.infoHash!;
  part = controllerStorageControl({
    settings: { ...DEFAULT_SETTINGS, lowCopies: 1, highCopies: 2, holdMs: 0, opsPerMinute: 600, setAside: false },
    statsUrl: 'http://tracker.invalid/stats',
    objects: null,
    intervalMs: 3_600_000,
    catalog: controller.catalog,
    registry: controller.registry,
    originOf: (hash) => controller.operations.originOf(hash),
    announceNow: (hash) => announced.push(hash),
    logger: silent,
    source,
  });
});

afterAll(async () => {
  await part?.stop();
  await Promise.all(edges.map((edge) => edge.stop()));
  await controller?.stop();
  await origin?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('storage control in the controller', () => {
  it('purges plentiful pieces from every edge holding them, each sent its own pieces', async () => {
    // Edge 1 drops pieces 4 and 5 by hand first: the purge of 0-3 reaches both edges, of 4-5 only edge 0.
    await edges[1]!.store.removePieces(infoHash, [4, 5], 'purge');
    await vi.waitFor(() =>
      expect(
        controller.catalog
          .holdings(infoHash)
          .map((h) => h.bitfield.count())
          .sort(),
      ).toEqual([4, 6]),
    );
    const cdn = [1, 1, 1, 1, 1, 1];
    source.set(infoHash, [5, 5, 5, 5, 1, 5], 2, cdn); // piece 4: one copy outside, below the high mark
    await part.runRound();
    expect(part.explain(infoHash)!.lastOperation).toMatchObject({ action: 'purge', pieces: [0, 1, 2, 3, 5], ok: true });
    await vi.waitFor(() => expect(union()).toEqual([4]));
    expect(edges[0]!.store.get(infoHash)?.bitfield.get(4)).toBe(true);
    await vi.waitFor(() => expect(edges[1]!.store.get(infoHash)?.piecesHeld ?? 0).toBe(0)); // none of what stays
    expect(announced).toContain(infoHash);
  });

  it('places a rare piece on one edge, the one holding the object, which fetches it from the origin', async () => {
    const before = origin.requests.length;
    source.set(infoHash, [5, 5, 0, 5, 1, 5], 2, [0, 0, 0, 0, 1, 0]);
    await part.runRound();
    expect(part.explain(infoHash)!.lastOperation).toMatchObject({ action: 'ingest', pieces: [2], ok: true });
    expect(union()).toEqual([2, 4]);
    expect(edges[0]!.store.get(infoHash)?.bitfield.get(2)).toBe(true);
    const ranges = origin.requests.slice(before).map((r) => r.range);
    expect(ranges).toEqual([`bytes=${2 * PIECE}-${3 * PIECE - 1}`]);
    // The round waited for the union to show it: the next round, on the same statistics, places nothing.
    await part.runRound();
    expect(origin.requests.length).toBe(before + 1);
    expect(part.status()).toMatchObject({ piecesIngested: 1 });
  });

  it('leaves a piece waiting, explained, when no edge has room for it', async () => {
    const noRoom = controllerStorageControl({
      settings: { ...DEFAULT_SETTINGS, lowCopies: 1, highCopies: 2, holdMs: 0, opsPerMinute: 600, setAside: false },
      statsUrl: 'http://tracker.invalid/stats',
      objects: null,
      intervalMs: 3_600_000,
      catalog: controller.catalog,
      registry: controller.registry,
      originOf: (hash) => controller.operations.originOf(hash),
      announceNow: () => {},
      logger: silent,
      source,
      choose: () => null,
    });
    try {
      source.set(infoHash, [5, 0, 1, 5, 1, 5], 2, [0, 0, 1, 0, 1, 0]);
      await noRoom.runRound();
      const explained = noRoom.explain(infoHash)!;
      expect(explained.lastOperation).toMatchObject({
        action: 'ingest',
        ok: false,
        error: { code: 'EDGEPEER_NO_EDGES' },
      });
      await noRoom.runRound();
      expect(noRoom.explain(infoHash)!.pieces[1]).toMatchObject({ action: 'defer', reason: 'ingest-blocked' });
      expect(union()).toEqual([2, 4]);
    } finally {
      await noRoom.stop();
    }
  });
});

describe("where the controller keeps storage control's record", () => {
  it('keeps it in the fleet state when controllers share one, else in its data dir', async () => {
    const kept: string[] = [];
    const shared = {
      shared: true,
      storageControlRecord: async () => kept.at(-1),
      putStorageControlRecord: async (text: string) => void kept.push(text),
    };
    const inFleet = storageControlRecordPlace(shared, '/nonexistent');
    await inFleet.write('{"version":1,"swarms":{}}');
    expect(await inFleet.read()).toBe('{"version":1,"swarms":{}}');
    expect(inFleet.where).toBe('the shared fleet state');

    const alone = storageControlRecordPlace({ ...shared, shared: false }, join(dir, 'alone'));
    expect(alone.where).toBe(join(dir, 'alone', 'storage-control', 'ingested.json'));
    expect(await alone.read()).toBeUndefined();
    await alone.write('{"version":1,"swarms":{}}');
    expect(await alone.read()).toBe('{"version":1,"swarms":{}}');
    expect(kept).toHaveLength(1);
  });
});
