import { describe, expect, it } from 'vitest';
import { defaultPieceLength } from '../../src/metainfo/index.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

describe('defaultPieceLength', () => {
  it.each([
    // Never below 32 KiB, the least mktorrent accepts and Transmission's smallest.
    [0, 32 * KiB],
    [1, 32 * KiB],
    [300_000, 32 * KiB],
    [2000 * 32 * KiB, 32 * KiB],
    [2000 * 32 * KiB + 1, 64 * KiB],
    [1 * GiB, 1 * MiB],
    [2 * GiB, 2 * MiB],
    [100 * GiB, 16 * MiB],
    [Number.MAX_SAFE_INTEGER, 16 * MiB],
  ])('gives %d bytes pieces of %d', (total, expected) => {
    expect(defaultPieceLength(total)).toBe(expected);
  });

  it('aims at 1000 to 2000 pieces between the bounds', () => {
    for (let total = 40 * MiB; total < 30 * GiB; total = Math.floor(total * 1.37)) {
      const pieces = Math.ceil(total / defaultPieceLength(total));
      expect(pieces).toBeGreaterThan(1000);
      expect(pieces).toBeLessThanOrEqual(2000);
    }
  });

  it.each([-1, 1.5, Number.NaN])('rejects %s', (total) => {
    expect(() => defaultPieceLength(total)).toThrow(expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }));
  });
});
