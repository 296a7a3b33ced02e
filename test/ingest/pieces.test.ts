import { describe, expect, it } from 'vitest';
import { cutPieces, forEachLimited, pieceRuns, pieceSizes } from '../../src/ingest/pieces.ts';

async function* chunks(...parts: string[]) {
  for (const part of parts) yield Buffer.from(part);
}

async function collect(iterable: AsyncIterable<Buffer>): Promise<string[]> {
  const out: string[] = [];
  for await (const piece of iterable) out.push(piece.toString());
  return out;
}

describe('cutPieces', () => {
  it('cuts chunks of any size into pieces, last one short', async () => {
    const pieces = await collect(cutPieces(chunks('ab', 'cdefg', 'h', 'ij'), pieceSizes(10, 4, 0, 2), 'u'));
    expect(pieces).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('fails on a truncated body, naming the source', async () => {
    await expect(collect(cutPieces(chunks('abc'), pieceSizes(8, 4, 0, 1), 'http://o/x'))).rejects.toMatchObject({
      code: 'EDGEPEER_ORIGIN_TRUNCATED',
      message: expect.stringContaining('http://o/x'),
    });
  });

  it('fails on a body longer than expected', async () => {
    await expect(collect(cutPieces(chunks('abcdefghi'), pieceSizes(8, 4, 0, 1), 'u'))).rejects.toMatchObject({
      code: 'EDGEPEER_ORIGIN_TRUNCATED',
    });
  });
});

describe('pieceRuns', () => {
  it('groups consecutive indexes and caps run length', () => {
    expect(pieceRuns([0, 1, 2, 5, 6, 9], 2)).toEqual([
      { first: 0, last: 1 },
      { first: 2, last: 2 },
      { first: 5, last: 6 },
      { first: 9, last: 9 },
    ]);
  });
});

describe('forEachLimited', () => {
  it('never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    await forEachLimited([1, 2, 3, 4, 5, 6], 2, async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => setImmediate(resolve));
      running--;
    });
    expect(peak).toBe(2);
  });

  it('rejects with the first failure', async () => {
    await expect(
      forEachLimited([1, 2, 3], 2, async (n) => {
        if (n === 2) throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });
});
