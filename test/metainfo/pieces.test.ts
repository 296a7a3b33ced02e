import { describe, expect, it } from 'vitest';
import {
  buildMetainfo,
  byteRangeSpans,
  type Metainfo,
  pieceHash,
  pieceSize,
  pieceSpans,
} from '../../src/metainfo/index.ts';
import { contentBytes, pieceHashesOf } from './helpers.ts';

function multiFile(lengths: number[], pieceLength: number): { metainfo: Metainfo; content: Buffer } {
  const total = lengths.reduce((sum, length) => sum + length, 0);
  const content = contentBytes(total, 3);
  const metainfo = buildMetainfo({
    name: 'm',
    pieceLength,
    multiFile: true,
    files: lengths.map((length, index) => ({ path: [`f${index}`], length })),
    pieceHashes: pieceHashesOf(content, pieceLength),
  });
  return { metainfo, content };
}

/** Reassembles bytes from spans over per-file slices of the content: the spans must cover exactly the range. */
function bytesOf(metainfo: Metainfo, content: Buffer, spans: ReturnType<typeof pieceSpans>): Buffer {
  return Buffer.concat(
    spans.map((span) => {
      const file = metainfo.files[span.fileIndex]!;
      expect(span.length).toBeGreaterThan(0);
      expect(span.fileOffset + span.length).toBeLessThanOrEqual(file.length);
      const start = file.offset + span.fileOffset;
      return content.subarray(start, start + span.length);
    }),
  );
}

describe('pieceSize and pieceHash', () => {
  const { metainfo, content } = multiFile([10_000, 0, 30_000], 16_384);

  it('gives full pieces and a shorter last piece', () => {
    expect(metainfo.pieceCount).toBe(3);
    expect([0, 1, 2].map((index) => pieceSize(metainfo, index))).toEqual([16_384, 16_384, 40_000 - 2 * 16_384]);
  });

  it('gives a 20-byte view of the piece hash', () => {
    const expected = pieceHashesOf(content, 16_384);
    expect(pieceHash(metainfo, 2).equals(expected.subarray(40, 60))).toBe(true);
    expect(pieceHash(metainfo, 2).buffer).toBe(metainfo.pieceHashes.buffer);
  });

  it.each([-1, 3, 1.5, Number.NaN])('rejects piece index %s', (index) => {
    expect(() => pieceSize(metainfo, index)).toThrow(expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }));
    expect(() => pieceHash(metainfo, index)).toThrow(expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }));
    expect(() => pieceSpans(metainfo, index)).toThrow(expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }));
  });
});

describe('pieceSpans', () => {
  it('splits a piece across files and skips zero-length files', () => {
    const { metainfo } = multiFile([10_000, 0, 30_000], 16_384);
    expect(pieceSpans(metainfo, 0)).toEqual([
      { fileIndex: 0, fileOffset: 0, length: 10_000 },
      { fileIndex: 2, fileOffset: 0, length: 6_384 },
    ]);
    expect(pieceSpans(metainfo, 2)).toEqual([{ fileIndex: 2, fileOffset: 22_768, length: 7_232 }]);
  });

  it('covers every piece of awkward layouts exactly', () => {
    const layouts = [
      [1],
      [0, 0, 5, 0],
      [16_384],
      [16_384, 16_384, 1],
      [1, 1, 1, 1, 1, 16_380, 0, 3],
      [50_000, 0, 0, 1, 49_999],
    ];
    for (const lengths of layouts) {
      for (const pieceLength of [16_384, 32_768]) {
        const { metainfo, content } = multiFile(lengths, pieceLength);
        for (let index = 0; index < metainfo.pieceCount; index++) {
          const start = index * pieceLength;
          const expected = content.subarray(start, start + pieceSize(metainfo, index));
          expect(bytesOf(metainfo, content, pieceSpans(metainfo, index)).equals(expected)).toBe(true);
        }
      }
    }
  });
});

describe('byteRangeSpans', () => {
  const { metainfo, content } = multiFile([7, 0, 100, 0, 0, 3, 20_000], 16_384);

  it('covers every range of a small sample exactly', () => {
    for (let offset = 0; offset <= 120; offset += 7) {
      for (const length of [0, 1, 5, 93, 110]) {
        if (offset + length > metainfo.length) continue;
        expect(
          bytesOf(metainfo, content, byteRangeSpans(metainfo, offset, length)).equals(
            content.subarray(offset, offset + length),
          ),
        ).toBe(true);
      }
    }
  });

  it('gives no spans for an empty range', () => {
    expect(byteRangeSpans(metainfo, 7, 0)).toEqual([]);
  });

  it('reaches the last byte', () => {
    expect(byteRangeSpans(metainfo, metainfo.length - 1, 1)).toEqual([{ fileIndex: 6, fileOffset: 19_999, length: 1 }]);
  });

  it.each([
    [-1, 1],
    [0, metainfo.length + 1],
    [metainfo.length, 1],
    [0.5, 1],
    [0, -1],
  ])('rejects offset %s length %s', (offset, length) => {
    expect(() => byteRangeSpans(metainfo, offset, length)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }),
    );
  });
});
