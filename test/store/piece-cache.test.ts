import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPieceCache, openStore, type PieceCache, type StagingStore, type Store } from '../../src/store/index.ts';
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

describe('piece cache', () => {
  it('serves verified pieces, from disk once and then from memory', async () => {
    const pieces = cache();
    expect(await pieces.getPiece(infoHash, 2)).toEqual(object.piece(2));
    expect(await pieces.getPiece(infoHash.toUpperCase(), 2)).toEqual(object.piece(2));
    expect(diskReads).toBe(1);
    expect(pieces.stats()).toEqual({ hits: 1, misses: 1, bytes: 16_384, maxBytes: 1 << 20, corruptPieces: 0 });
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
    const pieces = createPieceCache(store, { maxBytes: 16_384, verify: counting });
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
    const pieces = createPieceCache(store, { maxBytes: 16_384, verify: counting, verifyPolicy: 'every-read' });
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
});
