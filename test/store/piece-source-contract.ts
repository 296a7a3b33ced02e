// The PieceSource contract (src/store/types.ts), for every implementation: verified bytes or an error that
// says why, never a byte that failed its check. Run by test/store/piece-source-contract.test.ts over each
// store and layer; the controller's remote source will run it too.
import { describe, expect, it } from 'vitest';
import { CorruptPieceError, InvalidArgumentError, NotFoundError } from '../../src/errors/index.ts';
import type { PieceSource, Store } from '../../src/store/index.ts';
import { makeObject } from './helpers.ts';
import type { OpenedStore } from './store-contract.ts';

const PIECE = 16_384;

export function pieceSourceContract(
  name: string,
  open: () => Promise<OpenedStore>,
  layer: (store: Store) => PieceSource,
): void {
  describe(`PieceSource contract: ${name}`, () => {
    // pieces 0-2 held as they should be, 3 held with a flipped byte, 4 (short) not held
    const test = makeObject({ name: 'sourced.bin', pieceLength: PIECE, fileLengths: [PIECE * 4 + 500], single: true });
    const { infoHash } = test.metainfo;

    async function withSource(body: (source: PieceSource, store: Store) => Promise<void>): Promise<void> {
      const { store, close } = await open();
      try {
        await store.addObject(test.metainfo);
        for (const index of [0, 1, 2, 3]) {
          const bytes = Buffer.from(test.piece(index));
          if (index === 3) bytes[100]! ^= 0x01;
          await store.writePiece(infoHash, index, bytes);
        }
        await body(layer(store), store);
      } finally {
        await close();
      }
    }

    it('gives the bytes of held pieces, the same to concurrent and later callers', () =>
      withSource(async (source) => {
        const [a, b] = await Promise.all([source.getPiece(infoHash, 1), source.getPiece(infoHash, 1)]);
        expect(a.equals(test.piece(1))).toBe(true);
        expect(b.equals(test.piece(1))).toBe(true);
        for (const index of [0, 1, 2])
          expect((await source.getPiece(infoHash, index)).equals(test.piece(index))).toBe(true);
      }));

    it('rejects a piece not held, or of an unknown object, with NotFoundError', () =>
      withSource(async (source) => {
        await expect(source.getPiece(infoHash, 4)).rejects.toThrow(NotFoundError);
        await expect(source.getPiece('0'.repeat(40), 0)).rejects.toThrow(NotFoundError);
        expect(source.readSpanSync(infoHash, 4, 0, 10, PIECE)).toBeUndefined();
      }));

    it('never hands out bytes that fail their hash: CorruptPieceError, and no span of them', () =>
      withSource(async (source) => {
        expect(source.readSpanSync(infoHash, 3, 0, 200, PIECE)).toBeUndefined();
        await expect(source.getPiece(infoHash, 3)).rejects.toThrow(CorruptPieceError);
        expect(source.readSpanSync(infoHash, 3, 0, 200, PIECE)).toBeUndefined();
        expect(source.readSpanSync(infoHash, 3, 1000, 2000, PIECE)).toBeUndefined();
      }));

    it('answers spans at once with the right bytes or not at all, within the read limit', () =>
      withSource(async (source) => {
        await source.getPiece(infoHash, 2);
        for (const [from, to] of [
          [0, 10],
          [PIECE - 10, PIECE],
          [5000, 9000],
        ] as const) {
          const span = source.readSpanSync(infoHash, 2, from, to, PIECE);
          if (span !== undefined) expect(span.equals(test.piece(2).subarray(from, to))).toBe(true);
          const into = Buffer.alloc(PIECE);
          const viaBuffer = source.readSpanSync(infoHash, 2, from, to, PIECE, into);
          if (viaBuffer !== undefined) expect(viaBuffer.equals(test.piece(2).subarray(from, to))).toBe(true);
        }
        // a piece not read yet, beyond the limit: nothing read at once unless already in memory
        const unread = source.readSpanSync(infoHash, 0, 0, 100, 0);
        if (unread !== undefined) expect(unread.equals(test.piece(0).subarray(0, 100))).toBe(true);
        expect(() => source.readSpanSync(infoHash, 2, 10, 10, PIECE)).toThrow(InvalidArgumentError);
        expect(() => source.readSpanSync(infoHash, 2, -1, 10, PIECE)).toThrow(InvalidArgumentError);
      }));

    it('gives up on a caller whose signal aborts, with the signal reason', () =>
      withSource(async (source) => {
        const aborted = new AbortController();
        aborted.abort(new Error('client went away'));
        await expect(source.getPiece(infoHash, 0, aborted.signal)).rejects.toThrow('client went away');
        expect((await source.getPiece(infoHash, 0)).equals(test.piece(0))).toBe(true);
      }));

    it('follows the store: a piece removed is not found, one written again is served', () =>
      withSource(async (source, store) => {
        await source.getPiece(infoHash, 1);
        await store.removePieces(infoHash, [1], 'purge');
        await expect(source.getPiece(infoHash, 1)).rejects.toThrow(NotFoundError);
        expect(source.readSpanSync(infoHash, 1, 0, 10, PIECE)).toBeUndefined();
        await store.writePiece(infoHash, 1, test.piece(1));
        expect((await source.getPiece(infoHash, 1)).equals(test.piece(1))).toBe(true);
      }));
  });
}
