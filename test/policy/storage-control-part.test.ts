// The storage control part over a memory store: rounds read the store's bitmaps and the statistics, carry
// out ingest and purge through the functions the root gives, announce, log and count each decision.
// Statistics come from a scripted source here (the tracker-backed source has its own tests).

import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { buildMetainfo } from '../../src/metainfo/index.ts';
import { DiskPieceReserve, recordFile, StorageControlPart } from '../../src/parts/index.ts';
import {
  DEFAULT_SETTINGS,
  renderExplanation,
  type StatsReading,
  type StatsSource,
  type StorageControlSettings,
} from '../../src/policy/index.ts';
import { captureLog } from '../helpers/log.ts';
import { hold, MemoryStore, setPieces, testMetainfo } from '../tracker/helpers.ts';

class ScriptedSource extends EventEmitter<{ changed: [string] }> implements StatsSource {
  readings = new Map<string, StatsReading>();
  followed = new Set<string>();
  follow(infoHash: string): void {
    this.followed.add(infoHash);
  }
  unfollow(infoHash: string): void {
    this.followed.delete(infoHash);
  }
  reading(infoHash: string): StatsReading {
    return this.readings.get(infoHash) ?? { counts: null, problem: null };
  }
  set(infoHash: string, reading: StatsReading): void {
    this.readings.set(infoHash, reading);
    this.emit('changed', infoHash);
  }
  async close(): Promise<void> {}
}

const realData = randomBytes(4 * 16_384);
const realMetainfo = () =>
  buildMetainfo({
    name: 'aside.bin',
    pieceLength: 16_384,
    multiFile: false,
    files: [{ path: [], length: realData.length }],
    pieceHashes: Buffer.concat(
      [0, 1, 2, 3].map((i) =>
        createHash('sha1')
          .update(realData.subarray(i * 16_384, (i + 1) * 16_384))
          .digest(),
      ),
    ),
  });

const settings: StorageControlSettings = { ...DEFAULT_SETTINGS, lowCopies: 1, highCopies: 2, holdMs: 0 };

async function setup(
  options: {
    origin?: boolean;
    failIngest?: boolean;
    reserveDir?: string;
    settings?: Partial<StorageControlSettings>;
    ingestedFile?: string;
  } = {},
) {
  const store = new MemoryStore();
  // Pieces set aside are checked against their hashes: that test needs real ones.
  const metainfo = options.reserveDir ? realMetainfo() : testMetainfo({ pieceCount: 4 });
  if (options.reserveDir) {
    await store.addObject(metainfo);
    for (const i of [0, 1])
      await store.writePiece(metainfo.infoHash, i, realData.subarray(i * 16_384, (i + 1) * 16_384));
  } else await hold(store, metainfo, (i) => i < 2);
  if (options.origin !== false) await store.addObject(metainfo, { source: 'http://origin.example/x' });
  const infoHash = metainfo.infoHash;
  const source = new ScriptedSource();
  const log = captureLog('debug');
  const registry = new Registry();
  const calls: string[] = [];
  const pacing: Array<[string, boolean]> = [];
  let now = 1_700_000_000_000;
  // A part over this store and source; another one made later is the same agent restarted.
  const makePart = (metrics = new Registry()) =>
    new StorageControlPart({
      settings: { ...settings, ...options.settings },
      statsUrl: 'http://tracker.example/stats',
      objects: null,
      intervalMs: 3_600_000,
      catalog: store,
      source,
      registry: metrics,
      logger: log.logger,
      clock: () => now,
      ingest: async (hash, origin, pieces) => {
        calls.push(`ingest ${origin} ${pieces.join(',')}`);
        if (options.failIngest) return { error: { code: 'EDGEPEER_ORIGIN_STATUS', message: 'origin answered 503' } };
        if (options.reserveDir) {
          for (const i of pieces) await store.writePiece(hash, i, realData.subarray(i * 16_384, (i + 1) * 16_384));
        } else await setPieces(store, hash, pieces, true);
        return { error: null };
      },
      purge: async (hash, pieces) => {
        calls.push(`purge ${pieces.join(',')}`);
        await store.removePieces(hash, pieces, 'policy');
      },
      announceNow: (hash) => calls.push(`announce ${hash === infoHash}`),
      topUpPacing: (hash, paced) => pacing.push([hash, paced]),
      ...(options.reserveDir ? { reserve: new DiskPieceReserve(options.reserveDir, store) } : {}),
      ...(options.ingestedFile ? { ingestedRecord: recordFile(options.ingestedFile) } : {}),
    });
  const part = makePart(registry);
  const counts = (swarmCopies: number[], cdnCopies: number[], demand = 2): StatsReading => ({
    counts: { version: 1, receivedAt: now, swarmCopies, cdnCopies, demand, seeds: 0, leechers: demand },
    problem: null,
  });
  return {
    store,
    infoHash,
    source,
    log,
    registry,
    calls,
    pacing,
    part,
    makePart,
    counts,
    tick: (ms: number) => (now += ms),
  };
}

let stopping: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stopping) await stop();
  stopping = [];
});

describe('StorageControlPart', () => {
  it('ingests the pieces the swarm lacks from the recorded origin, announces, logs and counts each with its reason', async () => {
    const t = await setup();
    stopping.push(() => t.part.stop());
    // This node holds 0 and 1 (the tracker knows it); piece 2 has a copy outside the CDN, piece 3 none.
    t.source.set(t.infoHash, t.counts([1, 1, 1, 0], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.calls).toEqual(['ingest http://origin.example/x 3', 'announce true']);
    expect(t.store.get(t.infoHash)!.bitfield.get(3)).toBe(true);
    const line = t.log.lines.find((l) => l.msg === 'storage control: ingest (rare)');
    expect(line).toMatchObject({ infoHash: t.infoHash, action: 'ingest', reason: 'rare', pieces: [3] });
    expect(await t.registry.getSingleMetricAsString('edgepeer_storage_control_pieces_total')).toContain(
      'edgepeer_storage_control_pieces_total{action="ingest",reason="rare"} 1',
    );
    const explained = t.part.explain(t.infoHash)!;
    expect(explained.pieces.map((p) => `${p.action}:${p.reason}`)).toEqual([
      'keep:only-copy',
      'keep:only-copy',
      'skip:enough-copies',
      'ingest:rare',
    ]);
    expect(explained.lastOperation).toMatchObject({ action: 'ingest', pieces: [3], ok: true });
  });

  it('tells top-up after each round whether to pace the swarm: not while this node is the only source of a wanted piece', async () => {
    const t = await setup();
    stopping.push(() => t.part.stop());
    // This node holds 0 and 1 and nobody else has them (no seed yet): the only source, not paced.
    t.source.set(t.infoHash, t.counts([1, 1, 1, 1], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.pacing).toEqual([[t.infoHash, false]]);
    expect(t.part.explain(t.infoHash)).toMatchObject({ soleSource: true });
    // Seeds arrive: every piece has copies outside the CDN, so peers can give what the edge leaves them.
    t.tick(1000);
    t.source.set(t.infoHash, t.counts([3, 3, 2, 2], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.pacing.at(-1)).toEqual([t.infoHash, true]);
  });

  it('does not pace a thin swarm: seeds outside the CDN below paceSeedsPerLeecher per leecher', async () => {
    const t = await setup({ settings: { paceSeedsPerLeecher: 2 } });
    stopping.push(() => t.part.stop());
    // 2 copies outside of every piece (2 seeds at most), 2 leechers: 1 seed per leecher, below 2.
    t.source.set(t.infoHash, t.counts([3, 3, 2, 2], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.pacing).toEqual([[t.infoHash, false]]);
    expect(t.part.explain(t.infoHash)).toMatchObject({ soleSource: false, paced: false });
    expect(renderExplanation(t.part.explain(t.infoHash)!)).toContain(
      'thin swarm: fewer than 2 seeds outside the CDN per leecher; top-up does not pace it',
    );
    // 4 seeds for 2 leechers: paced.
    t.tick(1000);
    t.source.set(t.infoHash, t.counts([5, 5, 4, 4], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.pacing.at(-1)).toEqual([t.infoHash, true]);
  });

  it('keeps what it ingested across a restart, so a TTL counts from the ingest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-ingested-'));
    stopping.push(() => rm(dir, { recursive: true, force: true }));
    const ingestedFile = join(dir, 'storage-control', 'ingested.json');
    const t = await setup({ ingestedFile, settings: { ttlMs: 10_000, highCopies: 4 } });
    t.source.set(t.infoHash, t.counts([1, 1, 1, 0], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.calls).toEqual(['ingest http://origin.example/x 3', 'announce true']);
    await t.part.stop();
    const record = JSON.parse(await readFile(ingestedFile, 'utf8'));
    expect(record.swarms[t.infoHash]).toMatchObject({ pieceCount: 4, ingestedAt: { 3: expect.any(Number) } });

    // Restarted, 11 s after the ingest, with piece 3 now below the high mark but above the low one: TTL.
    const restarted = t.makePart();
    stopping.push(() => restarted.stop());
    await restarted.restore();
    expect(t.log.lines.find((l) => l.msg.startsWith('storage control: restored'))).toMatchObject({ swarms: 1 });
    t.tick(11_000);
    t.source.set(t.infoHash, t.counts([1, 1, 1, 3], [1, 1, 0, 1]));
    await restarted.runRound();
    expect(t.calls.slice(2)).toEqual(['purge 3', 'announce true']);
    expect(t.log.lines.find((l) => l.msg === 'storage control: purge (ttl)')).toMatchObject({ pieces: [3] });
    // Purged: nothing of its own is left to remember.
    await restarted.stop();
    expect(JSON.parse(await readFile(ingestedFile, 'utf8')).swarms).toEqual({});
  });

  it('says a damaged record of what it ingested cannot be used, and runs on with TTLs started again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-ingested-'));
    stopping.push(() => rm(dir, { recursive: true, force: true }));
    const ingestedFile = join(dir, 'ingested.json');
    await writeFile(ingestedFile, '{"version": 1, "swarms": {"nothex": {}}}');
    const t = await setup({ ingestedFile });
    stopping.push(() => t.part.stop());
    await t.part.restore();
    expect(t.log.lines.find((l) => l.msg.includes('damaged'))).toMatchObject({
      level: 40,
      detail: 'nothex is not an info hash',
    });
    t.source.set(t.infoHash, t.counts([1, 1, 1, 0], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.calls).toEqual(['ingest http://origin.example/x 3', 'announce true']);
  });

  it('purges plentiful pieces through the store, then announces', async () => {
    const t = await setup();
    stopping.push(() => t.part.stop());
    t.source.set(t.infoHash, t.counts([3, 1, 1, 1], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.calls).toEqual(['purge 0', 'announce true']);
    expect(t.store.get(t.infoHash)!.bitfield.get(0)).toBe(false);
    expect(t.log.lines.find((l) => l.msg === 'storage control: purge (plentiful)')).toMatchObject({ pieces: [0] });
  });

  it('sets plentiful pieces aside and puts them back without the origin; a damaged one comes from the origin', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-aside-'));
    stopping.push(() => rm(dir, { recursive: true, force: true }));
    const t = await setup({ reserveDir: dir });
    stopping.push(() => t.part.stop());
    t.source.set(t.infoHash, t.counts([3, 3, 1, 1], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.calls).toEqual(['purge 0,1', 'announce true']);
    expect(t.store.get(t.infoHash)!.bitfield.get(0)).toBe(false);
    expect((await readdir(join(dir, t.infoHash))).sort()).toEqual(['0', '1']);
    expect(t.part.explain(t.infoHash)!.purge).toEqual([
      { piece: 0, reason: 'plentiful', setAside: true },
      { piece: 1, reason: 'plentiful', setAside: true },
    ]);
    const text = renderExplanation(t.part.explain(t.infoHash)!);
    expect(text).toContain('plentiful pieces are set aside');
    expect(text).toContain('set aside here (not served): 2 pieces');
    // Piece 1's file is damaged while aside: it must not be served, so it comes from the origin.
    await writeFile(join(dir, t.infoHash, '1'), 'not the piece');
    t.calls.length = 0;
    t.tick(1000);
    t.source.set(t.infoHash, t.counts([0, 0, 1, 1], [0, 0, 0, 0]));
    await t.part.runRound();
    expect(t.calls).toEqual(['ingest http://origin.example/x 1', 'announce true']);
    expect(t.store.get(t.infoHash)!.bitfield.get(0)).toBe(true);
    expect(await t.store.readPiece(t.infoHash, 0)).toEqual(realData.subarray(0, 16_384));
    expect(t.log.lines.find((l) => l.msg === 'storage control: put back from the pieces set aside')).toMatchObject({
      pieces: 1,
    });
    expect(t.part.status()).toMatchObject({ piecesRestored: 1, piecesSetAside: 0 });
    expect(await readdir(join(dir, t.infoHash))).toEqual([]);
  });

  it('discards what it set aside of an object that left the store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-aside-'));
    stopping.push(() => rm(dir, { recursive: true, force: true }));
    const t = await setup({ reserveDir: dir });
    stopping.push(() => t.part.stop());
    t.source.set(t.infoHash, t.counts([3, 3, 1, 1], [1, 1, 0, 0]));
    await t.part.runRound();
    expect((await readdir(join(dir, t.infoHash))).sort()).toEqual(['0', '1']);
    await t.store.removeObject(t.infoHash, 'purge');
    await t.part.runRound();
    expect(await readdir(join(dir, t.infoHash))).toEqual([]);
    expect(t.part.status()).toMatchObject({ piecesSetAside: 0 });
  });

  it('waits before trying a failing origin again, and says why in the explanation', async () => {
    const t = await setup({ failIngest: true });
    stopping.push(() => t.part.stop());
    t.source.set(t.infoHash, t.counts([1, 1, 0, 0], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.calls).toEqual(['ingest http://origin.example/x 2,3', 'announce true']);
    expect(t.log.lines.find((l) => l.msg.includes('ingest from the origin failed'))).toBeDefined();
    t.tick(1000);
    await t.part.runRound();
    expect(t.calls).toHaveLength(2);
    expect(t.part.explain(t.infoHash)!.pieces[2]).toMatchObject({ action: 'defer', reason: 'ingest-blocked' });
    expect(t.part.explain(t.infoHash)!.lastOperation).toMatchObject({
      ok: false,
      error: { code: 'EDGEPEER_ORIGIN_STATUS' },
    });
    t.tick(5000);
    await t.part.runRound();
    expect(t.calls).toHaveLength(4);
  });

  it('holds on unreachable statistics: warns once, ingests and purges nothing', async () => {
    const t = await setup();
    stopping.push(() => t.part.stop());
    t.source.set(t.infoHash, t.counts([9, 9, 0, 0], [1, 1, 0, 0]));
    t.source.set(t.infoHash, {
      ...t.counts([9, 9, 0, 0], [1, 1, 0, 0]),
      problem: { kind: 'unreachable', detail: 'connection refused', since: 1 },
    });
    await t.part.runRound();
    await t.part.runRound();
    expect(t.calls).toEqual([]);
    const warnings = t.log.lines.filter((l) => l.msg.includes('holding decisions'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ stats: 'unreachable' });
    expect(t.part.status()).toMatchObject({ holding: 1, piecesIngested: 0, piecesPurged: 0 });
    expect(await t.registry.getSingleMetricAsString('edgepeer_storage_control_holding_swarms')).toContain(
      'edgepeer_storage_control_holding_swarms 1',
    );
  });

  it('cannot ingest an object with no recorded origin', async () => {
    const t = await setup({ origin: false });
    stopping.push(() => t.part.stop());
    t.source.set(t.infoHash, t.counts([1, 1, 0, 0], [1, 1, 0, 0]));
    await t.part.runRound();
    expect(t.calls).toEqual([]);
    expect(t.part.explain(t.infoHash)!.pieces[3]!.detail).toContain('no origin is recorded');
  });

  it('runs a round when the statistics change', async () => {
    const t = await setup();
    stopping.push(() => t.part.stop());
    t.part.start();
    const ingested = t.log.waitFor((l) => l.msg === 'storage control: ingest done');
    t.source.set(t.infoHash, t.counts([1, 1, 1, 0], [1, 1, 0, 0]));
    await ingested;
    expect(t.source.followed.has(t.infoHash)).toBe(true);
  });
});
