import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createPieceCache,
  createPieceSlab,
  createSharedPieceCache,
  openStore,
  type PieceCache,
  type PieceCacheOptions,
  type StagingStore,
  type Store,
} from '../../src/store/index.ts';
import { makeObject, nextEvent, sha1Verify, tempFolder } from './helpers.ts';

let dataDir: string;
let removeFolder: () => Promise<void>;
let store: Store & StagingStore;
let diskReads: number;

const object = makeObject({ name: 'clip.ts', pieceLength: 16_384, fileLengths: [100_000], single: true });
const { infoHash } = object.metainfo;
const dataFile = () => join(dataDir, 'objects', infoHash, 'data', 'clip.ts');

beforeEach(async () => {
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
  store = await openStore(dataDir, { mode: 'write' });
  await store.addObject(object.metainfo);
  await Promise.all(
    Array.from({ length: object.metainfo.pieceCount }, (_, index) =>
      store.writePiece(infoHash, index, object.piece(index)),
    ),
  );
  diskReads = 0;
  const readPiece = store.readPiece.bind(store);
  store.readPiece = (hash, index) => {
    diskReads++;
    return readPiece(hash, index);
  };
});

afterEach(async () => {
  await store.close();
  await removeFolder();
});

function cache(maxBytes = 1 << 20): PieceCache {
  return createPieceCache(store, { maxBytes, verify: sha1Verify });
}

/** The two caching layers (one thread's LRU, the serving threads' shared slab), under one contract. */
const implementations: [string, (options: PieceCacheOptions) => PieceCache][] = [
  ['piece cache', (options) => createPieceCache(store, options)],
  [
    'shared piece cache (slab of 16 KiB slots)',
    (options) =>
      createSharedPieceCache(store, {
        ...options,
        slab: createPieceSlab({ maxBytes: options.maxBytes, slotBytes: 16_384 }),
      }),
  ],
];

for (const [name, createPieceCache] of implementations) {
  const cache = (maxBytes = 1 << 20): PieceCache => createPieceCache({ maxBytes, verify: sha1Verify });
  describe(name, () => {
    it('serves verified pieces, from disk once and then from memory', async () => {
      const pieces = cache();
      expect(await pieces.getPiece(infoHash, 2)).toEqual(object.piece(2));
      expect(await pieces.getPiece(infoHash.toUpperCase(), 2)).toEqual(object.piece(2));
      expect(diskReads).toBe(1);
      expect(pieces.stats()).toEqual({
        hits: 1,
        misses: 1,
        bytes: 16_384,
        maxBytes: 1 << 20,
        corruptPieces: 0,
        directReads: 0,
        directBytes: 0,
      });
    });

    it('shares one disk read among concurrent callers of one piece', async () => {
      const pieces = cache();
      const results = await Promise.all(Array.from({ length: 10 }, () => pieces.getPiece(infoHash, 5)));
      expect(diskReads).toBe(1);
      for (const piece of results) expect(piece).toEqual(object.piece(5));
    });

    it('stays within its byte budget', async () => {
      const pieces = cache(2 * 16_384);
      for (let index = 0; index < object.metainfo.pieceCount; index++) await pieces.getPiece(infoHash, index);
      expect(pieces.stats().bytes).toBeLessThanOrEqual(2 * 16_384);
      await pieces.getPiece(infoHash, 0);
      expect(diskReads).toBe(object.metainfo.pieceCount + 1);
    });

    it('hashes a piece on its first disk read only, until it leaves the store (verifyPolicy first-read)', async () => {
      let hashed = 0;
      const counting = (data: Uint8Array, expected: Uint8Array) => {
        hashed++;
        return sha1Verify(data, expected);
      };
      const pieces = createPieceCache({ maxBytes: 16_384, verify: counting });
      for (const index of [0, 1, 0, 1]) expect(await pieces.getPiece(infoHash, index)).toEqual(object.piece(index));
      expect(diskReads).toBe(4);
      expect(hashed).toBe(2);
      await store.removePieces(infoHash, [0], 'purge');
      await store.writePiece(infoHash, 0, object.piece(0));
      await pieces.getPiece(infoHash, 0);
      expect(hashed).toBe(3);
    });

    it('hashes on every disk read with verifyPolicy every-read', async () => {
      let hashed = 0;
      const counting = (data: Uint8Array, expected: Uint8Array) => {
        hashed++;
        return sha1Verify(data, expected);
      };
      const pieces = createPieceCache({ maxBytes: 16_384, verify: counting, verifyPolicy: 'every-read' });
      for (const index of [0, 1, 0, 1]) await pieces.getPiece(infoHash, index);
      expect(hashed).toBe(4);
    });

    it('rejects a piece whose bytes rotted on disk, removes it from the store and tells listeners', async () => {
      const bytes = await readFile(dataFile());
      bytes[3 * 16_384 + 100]! ^= 0x20;
      await writeFile(dataFile(), bytes);
      const pieces = cache();
      const removed = nextEvent(store, 'pieces-removed');
      await expect(pieces.getPiece(infoHash, 3)).rejects.toMatchObject({
        code: 'EDGEPEER_PIECE_CORRUPT',
        details: { subject: infoHash, pieceIndex: 3 },
      });
      expect(await removed).toEqual([infoHash, [3], 'corrupt']);
      expect(store.get(infoHash)!.bitfield.get(3)).toBe(false);
      expect(pieces.stats().corruptPieces).toBe(1);
      await expect(pieces.getPiece(infoHash, 3)).rejects.toMatchObject({ code: 'EDGEPEER_NOT_FOUND' });
      expect(await pieces.getPiece(infoHash, 4)).toEqual(object.piece(4));
      await store.writePiece(infoHash, 3, object.piece(3));
      expect(await pieces.getPiece(infoHash, 3)).toEqual(object.piece(3));
    });

    it('treats a data file that vanished as corruption of the pieces read from it', async () => {
      await store.close(); // an open handle would still read the unlinked file, correctly
      await unlink(dataFile());
      store = await openStore(dataDir, { mode: 'write' });
      const pieces = cache();
      await expect(pieces.getPiece(infoHash, 0)).rejects.toMatchObject({ code: 'EDGEPEER_PIECE_CORRUPT' });
      expect(store.get(infoHash)!.bitfield.get(0)).toBe(false);
    });

    it('drops cached pieces when they leave the store', async () => {
      const pieces = cache();
      await pieces.getPiece(infoHash, 0);
      await pieces.getPiece(infoHash, 1);
      await store.removePieces(infoHash, [0], 'purge');
      expect(pieces.stats().bytes).toBe(16_384);
      await expect(pieces.getPiece(infoHash, 0)).rejects.toMatchObject({ code: 'EDGEPEER_NOT_FOUND' });
      await store.removeObject(infoHash, 'purge');
      expect(pieces.stats().bytes).toBe(0);
      await expect(pieces.getPiece(infoHash, 1)).rejects.toMatchObject({ code: 'EDGEPEER_NOT_FOUND' });
    });

    it('evicts on request', async () => {
      const pieces = cache();
      await pieces.getPiece(infoHash, 0);
      await pieces.getPiece(infoHash, 1);
      pieces.evict(infoHash, [1]);
      expect(pieces.stats().bytes).toBe(16_384);
      pieces.evict(infoHash);
      expect(pieces.stats().bytes).toBe(0);
    });

    it('names the pieces of an object it holds in memory, without counting a hit', async () => {
      const pieces = cache();
      expect(pieces.cachedPieces(infoHash)).toEqual([]);
      await pieces.getPiece(infoHash, 2);
      await pieces.getPiece(infoHash, 0);
      const hits = pieces.stats().hits;
      expect(pieces.cachedPieces(infoHash.toUpperCase()).sort()).toEqual([0, 2]);
      expect(pieces.stats().hits).toBe(hits);
      pieces.evict(infoHash, [0]);
      expect(pieces.cachedPieces(infoHash)).toEqual([2]);
    });
  });
}

describe('piece cache: spans without waiting', () => {
  /** A cache that holds one piece, so that reading another pushes the first out of memory. */
  function onePieceCache(verifyPolicy: 'first-read' | 'every-read' = 'first-read'): PieceCache {
    return createPieceCache(store, { maxBytes: 16_384, verify: sha1Verify, verifyPolicy });
  }

  it('answers a span of a cached piece from memory, as a view of the cached bytes, counted as a hit', async () => {
    const pieces = cache();
    const piece = await pieces.getPiece(infoHash, 2);
    const span = pieces.readSpanSync(infoHash.toUpperCase(), 2, 100, 200, 0);
    expect(span).toEqual(object.piece(2).subarray(100, 200));
    expect(span!.buffer).toBe(piece.buffer);
    expect(span!.byteOffset).toBe(piece.byteOffset + 100);
    expect(pieces.peekPiece(infoHash, 2)).toBe(piece);
    expect(pieces.peekPiece(infoHash, 3)).toBeUndefined();
    expect(diskReads).toBe(1);
    expect(pieces.stats()).toMatchObject({ hits: 2, misses: 1, directReads: 0, directBytes: 0 });
  });

  it('reads a span of a piece hashed since start straight from disk (first-read), counted as a direct read', async () => {
    const pieces = onePieceCache();
    await pieces.getPiece(infoHash, 0);
    await pieces.getPiece(infoHash, 6); // the last piece, 1,696 bytes
    await pieces.getPiece(infoHash, 1); // pushes 0 and 6 out of memory
    expect(pieces.peekPiece(infoHash, 0)).toBeUndefined();
    expect(pieces.readSpanSync(infoHash, 0, 10, 1_010, 16_384)).toEqual(object.piece(0).subarray(10, 1_010));
    expect(pieces.readSpanSync(infoHash, 6, 1_000, 1_696, 16_384)).toEqual(object.piece(6).subarray(1_000));
    expect(diskReads).toBe(3); // whole-piece reads: only getPiece's
    expect(pieces.stats()).toMatchObject({ hits: 0, misses: 3, directReads: 2, directBytes: 1_000 + 696 });
    expect(() => pieces.readSpanSync(infoHash, 6, 1_000, 1_697, 16_384)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }),
    );
    expect(() => pieces.readSpanSync(infoHash, 0, 10, 10, 16_384)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }),
    );
  });

  it('leaves to getPiece a piece not hashed yet, a span over maxDiskBytes, and pieces not held', async () => {
    const pieces = onePieceCache();
    expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toBeUndefined();
    await pieces.getPiece(infoHash, 0);
    await pieces.getPiece(infoHash, 1);
    expect(pieces.readSpanSync(infoHash, 0, 0, 4_097, 4_096)).toBeUndefined();
    expect(pieces.readSpanSync(infoHash, 0, 0, 4_096, 4_096)).toEqual(object.piece(0).subarray(0, 4_096));
    expect(pieces.readSpanSync('00'.repeat(20), 0, 0, 100, 16_384)).toBeUndefined();
    expect(pieces.readSpanSync(infoHash, 99, 0, 100, 16_384)).toBeUndefined();
    expect(pieces.stats()).toMatchObject({ directReads: 1, directBytes: 4_096 });
  });

  it('with verifyPolicy every-read, serves spans of cached pieces only, never from disk', async () => {
    const pieces = onePieceCache('every-read');
    await pieces.getPiece(infoHash, 0);
    expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toEqual(object.piece(0).subarray(0, 100));
    await pieces.getPiece(infoHash, 1);
    expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toBeUndefined();
    expect(pieces.stats()).toMatchObject({ directReads: 0 });
  });

  it('first-read trade-off: bytes that rot on disk after their piece was hashed are served by a direct read', async () => {
    const pieces = onePieceCache();
    await pieces.getPiece(infoHash, 3);
    await pieces.getPiece(infoHash, 4);
    const bytes = await readFile(dataFile());
    bytes[3 * 16_384 + 100]! ^= 0x20;
    await writeFile(dataFile(), bytes);
    const span = pieces.readSpanSync(infoHash, 3, 0, 200, 16_384);
    expect(span![100]).toBe(object.piece(3)[100]! ^ 0x20);
    expect(store.get(infoHash)!.bitfield.get(3)).toBe(true);
  });

  it('checksum (the default): bytes that rot on disk after their piece was hashed are never served', async () => {
    const pieces = createPieceCache(store, { maxBytes: 16_384, verify: sha1Verify });
    await pieces.getPiece(infoHash, 3);
    await pieces.getPiece(infoHash, 4); // pushes 3 out of memory
    expect(pieces.readSpanSync(infoHash, 3, 0, 200, 16_384)).toEqual(object.piece(3).subarray(0, 200));
    const bytes = await readFile(dataFile());
    bytes[3 * 16_384 + 100]! ^= 0x20;
    await writeFile(dataFile(), bytes);
    expect(pieces.readSpanSync(infoHash, 3, 0, 200, 16_384)).toBeUndefined();
    expect(pieces.readSpanSync(infoHash, 3, 1_000, 2_000, 16_384)).toBeUndefined(); // same block, other bytes
    const removed = nextEvent(store, 'pieces-removed');
    await expect(pieces.getPiece(infoHash, 3)).rejects.toMatchObject({ code: 'EDGEPEER_PIECE_CORRUPT' });
    expect(await removed).toEqual([infoHash, [3], 'corrupt']);
    expect(store.get(infoHash)!.bitfield.get(3)).toBe(false);
    expect(pieces.stats()).toMatchObject({ corruptPieces: 1, directReads: 1 });
  });

  it('checksum: later disk reads are checked by block sums, not SHA-1, down to the short last block', async () => {
    let hashed = 0;
    const counting = (data: Uint8Array, expected: Uint8Array) => {
      hashed++;
      return sha1Verify(data, expected);
    };
    const big = makeObject({ name: 'big.bin', pieceLength: 65_536, fileLengths: [65_536 + 40_000], single: true });
    const bigHash = big.metainfo.infoHash;
    await store.addObject(big.metainfo);
    for (const index of [0, 1]) await store.writePiece(bigHash, index, big.piece(index));
    // Holds no piece: every read below comes from disk.
    const pieces = createPieceCache(store, { maxBytes: 1, verify: counting, verifyPolicy: 'checksum' });
    for (const index of [0, 1, 0, 1]) expect(await pieces.getPiece(bigHash, index)).toEqual(big.piece(index));
    expect(hashed).toBe(2);
    // A span across two blocks is read as whole blocks, into the caller's buffer when it is large enough.
    const into = Buffer.alloc(65_536);
    const span = pieces.readSpanSync(bigHash, 0, 16_000, 17_000, 65_536, into);
    expect(span).toEqual(big.piece(0).subarray(16_000, 17_000));
    expect(span!.buffer).toBe(into.buffer);
    expect(pieces.readSpanSync(bigHash, 1, 39_000, 40_000, 65_536)).toEqual(big.piece(1).subarray(39_000));
    const file = join(dataDir, 'objects', bigHash, 'data', 'big.bin');
    const bytes = await readFile(file);
    bytes[65_536 + 39_999]! ^= 0x01; // the last byte of the object, in the piece's short last block
    await writeFile(file, bytes);
    expect(pieces.readSpanSync(bigHash, 1, 0, 100, 65_536)).toEqual(big.piece(1).subarray(0, 100)); // other block
    expect(pieces.readSpanSync(bigHash, 1, 39_000, 39_100, 65_536)).toBeUndefined();
    await expect(pieces.getPiece(bigHash, 1)).rejects.toMatchObject({ code: 'EDGEPEER_PIECE_CORRUPT' });
    expect(hashed).toBe(2);
  });

  it('trusts no direct read of a piece removed or written again until it is hashed again', async () => {
    const pieces = onePieceCache();
    await pieces.getPiece(infoHash, 0);
    await pieces.getPiece(infoHash, 1);
    expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toEqual(object.piece(0).subarray(0, 100));
    await store.removePieces(infoHash, [0], 'purge');
    expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toBeUndefined();
    await store.writePiece(infoHash, 0, object.piece(0));
    expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toBeUndefined();
    await pieces.getPiece(infoHash, 0);
    await pieces.getPiece(infoHash, 1);
    expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toEqual(object.piece(0).subarray(0, 100));
    // 'pieces-added' on its own (what a reader hears when the writer wrote a piece again) also ends the trust.
    store.emit('pieces-added', infoHash, [0]);
    expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toBeUndefined();
    await store.removeObject(infoHash, 'purge');
    expect(pieces.readSpanSync(infoHash, 1, 0, 100, 16_384)).toBeUndefined();
    expect(pieces.stats()).toMatchObject({ directReads: 2 });
  });

  it('over a read-mode store, refuses a piece the writer removed and wrote again since the reader last looked', async () => {
    const reader = await openStore(dataDir, { mode: 'read' });
    try {
      const pieces = createPieceCache(reader, { maxBytes: 16_384, verify: sha1Verify });
      for (const index of [2, 0, 1]) await pieces.getPiece(infoHash, index);
      expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toEqual(object.piece(0).subarray(0, 100));
      // The reader hears of both changes only inside the next read, after it decided to trust the piece.
      await store.removePieces(infoHash, [0], 'purge');
      await store.writePiece(infoHash, 0, object.piece(0));
      expect(pieces.readSpanSync(infoHash, 0, 0, 100, 16_384)).toBeUndefined();
      expect(reader.get(infoHash)!.bitfield.get(0)).toBe(true);
      expect(pieces.readSpanSync(infoHash, 2, 0, 100, 16_384)).toEqual(object.piece(2).subarray(0, 100));
      await store.removePieces(infoHash, [2], 'purge');
      expect(pieces.readSpanSync(infoHash, 2, 0, 100, 16_384)).toBeUndefined();
      expect(pieces.stats()).toMatchObject({ directReads: 2 });
    } finally {
      await reader.close();
    }
  });
});
