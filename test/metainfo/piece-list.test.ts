import { describe, expect, it } from 'vitest';
import { parsePieceList } from '../../src/metainfo/index.ts';

describe('parsePieceList', () => {
  it('gives sorted unique indexes of ranges and single pieces', () => {
    expect(parsePieceList('0-3,200', 300)).toEqual([0, 1, 2, 3, 200]);
    expect(parsePieceList(' 7 , 2-4,3, 5 - 5 ,0', 8)).toEqual([0, 2, 3, 4, 5, 7]);
    expect(parsePieceList('0-9', 10)).toHaveLength(10);
    expect(parsePieceList('299', 300)).toEqual([299]);
  });

  it.each([
    ['', 10, /piece list "": is empty/],
    ['  ', 10, /is empty/],
    ['5-2', 10, /range "5-2" is reversed/],
    ['0-10', 10, /"0-10" is out of range: pieces are 0 to 9/],
    ['1,10', 10, /"10" is out of range/],
    ['0', 0, /the object has no pieces/],
    ['1,,2', 10, /"" is not a piece index or range/],
    ['1,x', 10, /"x" is not a piece index or range \(expected N or N-M\)/],
    ['-1', 10, /"-1" is not a piece index/],
    ['3-', 10, /"3-" is not a piece index/],
    ['1.5', 10, /"1.5" is not a piece index/],
    ['1-2-3', 10, /"1-2-3" is not a piece index/],
    ['0x10', 100, /"0x10" is not a piece index/],
    ['99999999999999999999999', 10, /out of range/],
  ])('rejects %j (of %d pieces)', (spec, count, fragment) => {
    expect(() => parsePieceList(spec, count)).toThrow(expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }));
    expect(() => parsePieceList(spec, count)).toThrow(fragment);
  });

  it('rejects a bad piece count', () => {
    expect(() => parsePieceList('0', -1)).toThrow(expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }));
  });
});
