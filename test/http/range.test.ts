import { describe, expect, it } from 'vitest';
import { coalesce, parseRange } from '../../src/http/range.ts';

const limits = { maxRanges: 4, coalesceGap: 0 };

describe('parseRange', () => {
  it('reads a single closed range, clamping its end to the representation', () => {
    expect(parseRange('bytes=0-99', 1000, limits)).toEqual({ kind: 'ranges', ranges: [{ first: 0, last: 99 }] });
    expect(parseRange('bytes=900-5000', 1000, limits)).toEqual({ kind: 'ranges', ranges: [{ first: 900, last: 999 }] });
  });

  it('reads open-ended and suffix ranges', () => {
    expect(parseRange('bytes=990-', 1000, limits)).toEqual({ kind: 'ranges', ranges: [{ first: 990, last: 999 }] });
    expect(parseRange('bytes=-10', 1000, limits)).toEqual({ kind: 'ranges', ranges: [{ first: 990, last: 999 }] });
    expect(parseRange('bytes=-5000', 1000, limits)).toEqual({ kind: 'ranges', ranges: [{ first: 0, last: 999 }] });
  });

  it('says unsatisfiable when no range overlaps, including a zero suffix', () => {
    expect(parseRange('bytes=1000-', 1000, limits)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=1000-2000', 1000, limits)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 1000, limits)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=2000-3000, 5000-', 1000, limits)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=99999999999999999999-', 1000, limits)).toEqual({ kind: 'unsatisfiable' });
  });

  it('keeps the satisfiable ranges of a mixed set', () => {
    expect(parseRange('bytes=2000-3000, 0-9', 1000, limits)).toEqual({
      kind: 'ranges',
      ranges: [{ first: 0, last: 9 }],
    });
  });

  it('ignores other units and malformed specifiers (the whole representation is sent)', () => {
    for (const header of [
      'items=0-1',
      'bytes=',
      'bytes=a-b',
      'bytes=5-1',
      'bytes=1-2-3',
      'bytes=0-1,x',
      'bytes 0-1',
      '',
    ]) {
      expect(parseRange(header, 1000, limits), header).toEqual({ kind: 'ignore' });
    }
    expect(parseRange(undefined, 1000, limits)).toEqual({ kind: 'ignore' });
  });

  it('accepts whitespace and empty list elements around specs', () => {
    expect(parseRange('bytes= 0-9 , , 20-29', 1000, limits)).toEqual({
      kind: 'ranges',
      ranges: [
        { first: 0, last: 9 },
        { first: 20, last: 29 },
      ],
    });
  });

  it('refuses more ranges than allowed', () => {
    expect(parseRange('bytes=0-0,2-2,4-4,6-6,8-8', 1000, limits)).toEqual({ kind: 'excessive' });
  });

  it('merges overlapping and adjacent ranges, so the total never exceeds the representation', () => {
    const decision = parseRange('bytes=0-999,0-999,500-,-1000', 1000, limits);
    expect(decision).toEqual({ kind: 'ranges', ranges: [{ first: 0, last: 999 }] });
    expect(parseRange('bytes=10-19,0-9,30-39', 1000, limits)).toEqual({
      kind: 'ranges',
      ranges: [
        { first: 0, last: 19 },
        { first: 30, last: 39 },
      ],
    });
  });

  it('ignores Range on an empty representation', () => {
    expect(parseRange('bytes=0-', 0, limits)).toEqual({ kind: 'ignore' });
    expect(parseRange('bytes=-5', 0, limits)).toEqual({ kind: 'ignore' });
  });
});

describe('coalesce', () => {
  it('merges ranges within the gap and sorts them', () => {
    expect(
      coalesce(
        [
          { first: 100, last: 199 },
          { first: 0, last: 9 },
          { first: 60, last: 70 },
        ],
        40,
      ),
    ).toEqual([
      { first: 0, last: 9 },
      { first: 60, last: 199 },
    ]);
  });
});
