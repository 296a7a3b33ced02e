import { describe, expect, it } from 'vitest';
import { checkPieceIndexes, formatPieceList, parsePieceList } from '../../src/metainfo/index.ts';

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

describe('piece lists as data', () => {
  it('parses without a piece count (syntax only), refusing a list beyond what any object holds', () => {
    expect(parsePieceList('3-5,1')).toEqual([1, 3, 4, 5]);
    expect(() => parsePieceList('0-99999999999')).toThrow(/out of range/);
  });

  it('formats indexes back into the shortest list, the inverse of parsing', () => {
    expect(formatPieceList([7, 0, 1, 2, 2, 9, 10])).toBe('0-2,7,9-10');
    expect(formatPieceList([])).toBe('');
    for (const spec of ['0', '0-3,200', '1,3,5-9,11']) expect(formatPieceList(parsePieceList(spec))).toBe(spec);
  });

  it('checks indexes against an object, naming the first out of range and the object', () => {
    expect(checkPieceIndexes([3, 1, 3], 4, 'clip.bin')).toEqual([1, 3]);
    expect(() => checkPieceIndexes([1, 4], 4, 'clip.bin')).toThrow(
      'piece 4 is out of range: clip.bin has pieces 0 to 3',
    );
    expect(() => checkPieceIndexes([1.5], 4, 'clip.bin')).toThrow(/piece 1.5 is out of range/);
    expect(() => checkPieceIndexes([0], 0, 'empty')).toThrow('piece 0 is out of range: empty has no pieces');
  });
});
