// The Store contract (src/store/types.ts) beyond the catalog's, for every implementation: writes, raw
// reads, removals and their errors. test/store/store-contract.test.ts runs it against the disk store and
// the memory store; a new store passes it or does not ship.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '../../src/errors/index.ts';
import type { RemovalReason, Store } from '../../src/store/index.ts';
import { makeObject } from './helpers.ts';

export interface OpenedStore {
  store: Store;
  close(): Promise<void>;
}

export function storeContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`Store contract: ${name}`, () => {
    const test = makeObject({
      name: 'stored',
      pieceLength: 16_384,
      fileLengths: [10_000, 30_000, 9_000],
      filePaths: [['a.bin'], ['sub', 'b.bin'], ['c.bin']],
    });
    const { metainfo } = test;
    const { infoHash } = metainfo;

    async function withStore(body: (store: Store) => Promise<void>): Promise<void> {
      const opened = await open();
      try {
        await body(opened.store);
      } finally {
        await opened.close();
      }
    }

    it('adds an object once: adding it again refreshes TTL and source and tells no one', () =>
      withStore(async (store) => {
        const added: string[] = [];
        store.on('object-added', (object) => added.push(object.infoHash));
        const first = await store.addObject(metainfo, { source: 'https://origin.example/stored/' });
        expect(first.source).toBe('https://origin.example/stored/');
        expect(first.expiresAt).toBeNull();
        const before = Date.now();
        const again = await store.addObject(metainfo, { ttlMs: 60_000 });
        expect(again.infoHash).toBe(infoHash);
        expect(again.source).toBe('https://origin.example/stored/');
        expect(again.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
        expect(added).toEqual([infoHash]);
        expect(store.metainfoOf(infoHash)?.infoHash).toBe(infoHash);
        expect(store.get(infoHash)!.metainfo.files.length).toBe(3);
      }));

    it('refuses metainfo it cannot keep and a TTL that is not a duration', () =>
      withStore(async (store) => {
        // as a hand-made metainfo may be (parseTorrent and buildMetainfo refuse it)
        const skewed = { ...metainfo, pieceCount: metainfo.pieceCount + 1 };
        await expect(store.addObject(skewed)).rejects.toThrow(/cannot be stored: it has 4 pieces but 60 bytes/);
        await expect(store.addObject(metainfo, { ttlMs: -1 })).rejects.toThrow(/TTL must be a non-negative/);
        expect(store.list()).toEqual([]);
      }));

    it('finds objects by info hash or unique name, and names the candidates of an ambiguous one', () =>
      withStore(async (store) => {
        await store.addObject(metainfo);
        const twin = makeObject({ name: 'stored', pieceLength: 16_384, fileLengths: [100], seed: 'twin' });
        expect(store.find(infoHash.toUpperCase()).infoHash).toBe(infoHash);
        expect(store.find('stored').infoHash).toBe(infoHash);
        expect(() => store.find('nothing')).toThrow(NotFoundError);
        await store.addObject(twin.metainfo);
        expect(() => store.find('stored')).toThrow(/ambiguous: 2 objects/);
      }));

    it('writes pieces as given, reads them back as they are held, whole and in spans', () =>
      withStore(async (store) => {
        await store.addObject(metainfo);
        for (const index of [0, 1, 2]) await store.writePiece(infoHash, index, test.piece(index));
        expect(store.get(infoHash)!.complete).toBe(true);
        for (const index of [0, 1, 2])
          expect((await store.readPiece(infoHash, index)).equals(test.piece(index))).toBe(true);
        // a span across the boundary of two files, after a read has opened them
        const span = store.readPieceSpanSync(infoHash, 0, 9_990, 10_010);
        expect(span?.equals(test.piece(0).subarray(9_990, 10_010))).toBe(true);
        const into = Buffer.alloc(64, 0xaa);
        const read = store.readPieceSpanSync(infoHash, 2, 0, 16, into);
        expect(read?.buffer).toBe(into.buffer);
        expect(read?.equals(test.piece(2).subarray(0, 16))).toBe(true);
        // writing a held piece again changes nothing, even with other bytes
        await store.writePiece(infoHash, 1, Buffer.alloc(test.piece(1).length));
        expect((await store.readPiece(infoHash, 1)).equals(test.piece(1))).toBe(true);
      }));

    it('answers bad reads and writes with errors naming what was wrong, and changes nothing', () =>
      withStore(async (store) => {
        await store.addObject(metainfo);
        await store.writePiece(infoHash, 0, test.piece(0));
        await expect(store.writePiece(infoHash, 1, Buffer.alloc(5))).rejects.toThrow(
          /piece 1 of stored is 16384 bytes, got 5/,
        );
        await expect(store.writePiece(infoHash, 3, Buffer.alloc(5))).rejects.toThrow(/piece 3 is out of range/);
        await expect(store.writePiece('0'.repeat(40), 0, test.piece(0))).rejects.toThrow(NotFoundError);
        await expect(store.readPiece(infoHash, 1)).rejects.toThrow(/piece 1 of stored .* is not held/);
        await expect(store.readPiece(infoHash, -1)).rejects.toThrow(InvalidArgumentError);
        expect(() => store.readPieceSpanSync(infoHash, 1, 0, 10)).toThrow(NotFoundError);
        expect(() => store.readPieceSpanSync(infoHash, 0, 10, 10)).toThrow(InvalidArgumentError);
        expect(() => store.readPieceSpanSync(infoHash, 0, 0, 20_000)).toThrow(/not a span of piece 0/);
        expect(() => store.readPieceSpanSync(infoHash, 0, 0, 100, Buffer.alloc(10))).toThrow(/cannot take 100/);
        expect(store.get(infoHash)!.bitfield.toBuffer()).toEqual(Buffer.from([0x80]));
      }));

    it('removes held pieces only, in order, once, and says why', () =>
      withStore(async (store) => {
        await store.addObject(metainfo);
        for (const index of [0, 2]) await store.writePiece(infoHash, index, test.piece(index));
        const removed: unknown[] = [];
        store.on('pieces-removed', (...args) => removed.push(args));
        await store.removePieces(infoHash, [2, 1, 0, 2], 'corrupt');
        await store.removePieces(infoHash, [0], 'purge');
        expect(removed).toEqual([[infoHash, [0, 2], 'corrupt']]);
        await expect(store.readPiece(infoHash, 0)).rejects.toThrow(NotFoundError);
        await expect(store.removePieces(infoHash, [7], 'purge')).rejects.toThrow(/piece 7 is out of range/);
        await expect(store.removePieces(infoHash, [0], 'bored' as RemovalReason)).rejects.toThrow(
          /removal reason must be one of/,
        );
        // pieces come back after removal
        await store.writePiece(infoHash, 0, test.piece(0));
        expect((await store.readPiece(infoHash, 0)).equals(test.piece(0))).toBe(true);
      }));

    it('removes objects and their pieces; an unknown one is NotFoundError', () =>
      withStore(async (store) => {
        await store.addObject(metainfo);
        await store.writePiece(infoHash, 0, test.piece(0));
        const removed: unknown[] = [];
        store.on('object-removed', (...args) => removed.push(args));
        await store.removeObject(infoHash.toUpperCase(), 'expired');
        expect(removed).toEqual([[infoHash, 'expired']]);
        await expect(store.readPiece(infoHash, 0)).rejects.toThrow(NotFoundError);
        await expect(store.removeObject(infoHash, 'purge')).rejects.toThrow(NotFoundError);
        // and it can come back, empty
        const again = await store.addObject(metainfo);
        expect(again.piecesHeld).toBe(0);
      }));

    it('lists the objects whose TTL has run out', () =>
      withStore(async (store) => {
        const other = makeObject({ name: 'kept', pieceLength: 16_384, fileLengths: [10] });
        await store.addObject(metainfo, { ttlMs: 1_000 });
        await store.addObject(other.metainfo);
        expect(store.listExpired().map((o) => o.infoHash)).toEqual([]);
        expect(store.listExpired(Date.now() + 2_000).map((o) => o.infoHash)).toEqual([infoHash]);
      }));
  });
}
