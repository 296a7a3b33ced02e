// The shared slab across threads: what one thread caches is a hit for another, what one evicts is gone for
// all, the counters are one set, and a reader never gets bytes that a writer in another thread is changing.
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createPieceSlab,
  openStore,
  type PieceSource,
  SharedCachingSource,
  type StagingStore,
  type Store,
} from '../../src/store/index.ts';
import { CHURN_PIECE, churnPiece } from './fixtures/slab-pieces.ts';
import { makeObject, tempFolder } from './helpers.ts';

let removeFolder: () => Promise<void>;
let store: Store & StagingStore;
const object = makeObject({ name: 'shared.bin', pieceLength: 16_384, fileLengths: [16_384 * 4], single: true });
const { infoHash } = object.metainfo;

beforeEach(async () => {
  let dataDir: string;
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
  store = await openStore(dataDir, { mode: 'write' });
  await store.addObject(object.metainfo);
  for (let index = 0; index < 4; index++) await store.writePiece(infoHash, index, object.piece(index));
});

afterEach(async () => {
  await store.close();
  await removeFolder();
});

/** A source that reads the store's bytes (they are the test's) and counts what it was asked. */
function countingSource(): PieceSource & { reads: number } {
  const source = {
    reads: 0,
    getPiece(hash: string, index: number) {
      source.reads++;
      return store.readPiece(hash, index);
    },
    readSpanSync: () => undefined,
  };
  return source;
}

describe('shared piece cache', () => {
  it('answers one thread from what another cached, evicts for all, and counts for all', async () => {
    const slab = createPieceSlab({ maxBytes: 1 << 20, slotBytes: 16_384 });
    const first = countingSource();
    const second = countingSource();
    const a = new SharedCachingSource(store, first, slab);
    const b = new SharedCachingSource(store, second, slab);
    expect(await a.getPiece(infoHash, 1)).toEqual(object.piece(1));
    expect(await b.getPiece(infoHash, 1)).toEqual(object.piece(1));
    expect(b.readSpanSync(infoHash, 1, 10, 20, 0)).toEqual(object.piece(1).subarray(10, 20));
    expect([first.reads, second.reads]).toEqual([1, 0]);
    expect(b.cachedPieces(infoHash)).toEqual([1]);
    expect(a.stats()).toEqual({ hits: 2, misses: 1, bytes: 16_384, maxBytes: 1 << 20 });
    expect(b.stats()).toEqual(a.stats());
    a.evict(infoHash, [1]);
    expect(b.holds(infoHash, 1)).toBe(false);
    expect(b.readSpanSync(infoHash, 1, 10, 20, 0)).toBeUndefined();
    expect(b.stats().bytes).toBe(0);
  });

  it('lends a span as a view of the slab: its slot is not written again until it is given back', async () => {
    const slab = createPieceSlab({ maxBytes: 16_384, slotBytes: 16_384 });
    const source = countingSource();
    const cache = new SharedCachingSource(store, source, slab);
    await cache.getPiece(infoHash, 2);
    const span = cache.readSpanSync(infoHash, 2, 100, 4196, 0, Buffer.alloc(16_384))!;
    expect(span.buffer).toBe(slab.buffer);
    expect(span).toEqual(object.piece(2).subarray(100, 4196));
    // The only slot is lent: another piece is served but not cached, and the span keeps its bytes.
    expect(await cache.getPiece(infoHash, 3)).toEqual(object.piece(3));
    expect(cache.holds(infoHash, 3)).toBe(false);
    expect(span).toEqual(object.piece(2).subarray(100, 4196));
    cache.releaseSpan(span);
    cache.releaseSpan(Buffer.alloc(10)); // not the slab's: ignored
    await cache.getPiece(infoHash, 3);
    await cache.getPiece(infoHash, 3);
    expect(cache.holds(infoHash, 3)).toBe(true);
    expect(cache.holds(infoHash, 2)).toBe(false);
  });

  it("keeps a thread's copy of a whole piece while its slot does not change (the wire asks per block)", async () => {
    const slab = createPieceSlab({ maxBytes: 1 << 20, slotBytes: 16_384 });
    const first = new SharedCachingSource(store, countingSource(), slab);
    const other = new SharedCachingSource(store, countingSource(), slab);
    await first.getPiece(infoHash, 1);
    const copy = await other.getPiece(infoHash, 1);
    expect(await other.getPiece(infoHash, 1)).toBe(copy);
    expect(other.peekPiece(infoHash, 1)).toBe(copy);
    first.evict(infoHash, [1]);
    await first.getPiece(infoHash, 1);
    const again = await other.getPiece(infoHash, 1);
    expect(again).not.toBe(copy);
    expect(again).toEqual(object.piece(1));
  });

  it('does not cache a piece longer than a slot, and still serves it', async () => {
    const slab = createPieceSlab({ maxBytes: 1 << 20, slotBytes: 8192 });
    const source = countingSource();
    const cache = new SharedCachingSource(store, source, slab);
    expect(await cache.getPiece(infoHash, 0)).toEqual(object.piece(0));
    expect(await cache.getPiece(infoHash, 0)).toEqual(object.piece(0));
    expect(source.reads).toBe(2);
    expect(cache.stats().bytes).toBe(0);
  });

  it('never hands a reader bytes another thread is writing: every hit is exactly its piece', async () => {
    // Two slots, eight pieces: the other thread overwrites slots all the time while this one reads them.
    const slab = createPieceSlab({ maxBytes: 2 * CHURN_PIECE, slotBytes: CHURN_PIECE });
    const pieces = 8;
    const churnHash = 'ab'.repeat(20);
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(new URL('./fixtures/slab-churn.ts', import.meta.url), {
      workerData: { slab, infoHash: churnHash, pieces, stop },
    });
    const messages: unknown[] = [];
    const next = () =>
      new Promise<unknown>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    messages.push(await next());
    const reader = new SharedCachingSource(
      { get: () => undefined, on: () => undefined } as never,
      { getPiece: () => Promise.reject(new Error('not read here')), readSpanSync: () => undefined },
      slab,
    );
    const expected = Array.from({ length: pieces }, (_, index) => churnPiece(index));
    let hits = 0;
    let wrong = 0;
    // Until enough hits were checked while the writer ran (each read races its changes): spans lent (held a
    // little while, as a socket would) and whole pieces copied.
    const lent: [number, Buffer][] = [];
    for (let attempt = 0; hits < 20_000 && attempt < 50_000_000; attempt++) {
      const index = attempt % pieces;
      const bytes =
        attempt % 2 === 0
          ? reader.readSpanSync(churnHash, index, 0, CHURN_PIECE, 0)
          : reader.peekPiece(churnHash, index);
      if (bytes === undefined) continue;
      hits++;
      if (!bytes.equals(expected[index]!)) wrong++;
      if (attempt % 2 === 0) lent.push([index, bytes]);
      if (lent.length === 2) {
        const [heldIndex, held] = lent.shift()!;
        if (!held.equals(expected[heldIndex]!)) wrong++;
        reader.releaseSpan(held);
      }
    }
    Atomics.store(stop, 0, 1);
    const rounds = (await next()) as number;
    await worker.terminate();
    expect(messages).toEqual(['started']);
    expect(hits).toBe(20_000);
    expect(rounds).toBeGreaterThan(10);
    expect(wrong).toBe(0);
  });
});
