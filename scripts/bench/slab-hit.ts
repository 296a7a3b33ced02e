import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHashPool } from '../../src/hashing/index.ts';
import {
  createPieceCache,
  createPieceSlab,
  createSharedPieceCache,
  openStore,
  type PieceCache,
} from '../../src/store/index.ts';
import { ingestRandomObject } from './random-object.ts';

const sizeMib = Number(process.argv[2] ?? 64);
const batches = Number(process.argv[3] ?? 2000);
const perBatch = Number(process.argv[4] ?? 2000);
const PIECE = 1024 * 1024;
const SPAN = 16 * 1024;

const dir = await mkdtemp(join(tmpdir(), 'edgepeer-slab-hit-'));
const store = await openStore(join(dir, 'store'), { mode: 'write' });
const pool = createHashPool();
try {
  const { infoHash, metainfo } = await ingestRandomObject(store, pool, sizeMib, PIECE);
  const length = sizeMib * PIECE;
  const verify = (data: Uint8Array, expected: Uint8Array) => pool.verify(data, expected);
  const caches: Array<{ name: string; cache: PieceCache; ns: number[] }> = [
    { name: 'cache', cache: createPieceCache(store, { maxBytes: 2 * length, verify }), ns: [] },
    {
      name: 'slab',
      cache: createSharedPieceCache(store, {
        slab: createPieceSlab({ maxBytes: 2 * length, slotBytes: PIECE }),
        verify,
      }),
      ns: [],
    },
  ];
  for (const { cache } of caches) {
    for (let piece = 0; piece < metainfo.pieceCount; piece++) await cache.getPiece(infoHash, piece);
  }
  // The same pseudo-random spans for both: piece and 16 KiB-aligned offset.
  const spans = new Int32Array(8192);
  for (let i = 0; i < spans.length; i++) spans[i] = (i * 7919) % (length / SPAN);
  const spansPerPiece = PIECE / SPAN;
  let sink = 0;
  function batch(cache: PieceCache, start: number): void {
    const release = cache.releaseSpan?.bind(cache);
    for (let i = 0; i < perBatch; i++) {
      const at = spans[(start + i) & 8191]!;
      const from = (at % spansPerPiece) * SPAN;
      const span = cache.readSpanSync(infoHash, Math.floor(at / spansPerPiece), from, from + SPAN, SPAN)!;
      sink += span[0]!;
      release?.(span);
    }
  }
  for (let b = 0; b < batches; b++) {
    // Which goes first alternates, so that neither pays for what the other left.
    for (let k = 0; k < caches.length; k++) {
      const lane = caches[b % 2 === 0 ? k : caches.length - 1 - k]!;
      const before = process.hrtime.bigint();
      batch(lane.cache, b * 131);
      lane.ns.push(Number(process.hrtime.bigint() - before) / perBatch);
    }
  }
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const [cache, slab] = caches.map((lane) => sorted(lane.ns)) as [number[], number[]];
  const median = (values: number[]) => values[Math.floor(values.length / 2)]!;
  const quartile = (values: number[]) => values[Math.floor(values.length / 4)]!;
  for (const [name, ns] of [
    ['cache', cache],
    ['slab', slab],
  ] as const) {
    console.log(
      `${name}: ns per hit lowest ${ns[0]!.toFixed(1)}, lower quartile ${quartile(ns).toFixed(1)}, median ${median(ns).toFixed(1)}`,
    );
  }
  console.log(
    `slab - cache: lowest ${(slab[0]! - cache[0]!).toFixed(1)} ns, lower quartile ${(quartile(slab) - quartile(cache)).toFixed(1)} ns, median ${(median(slab) - median(cache)).toFixed(1)} ns (sink ${sink & 1})`,
  );
} finally {
  await pool.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
