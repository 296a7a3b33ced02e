import { describe, expect, it } from 'vitest';
import { parseRoute, routeOf } from '../../src/http/routes.ts';

const hash = 'AB'.repeat(20);
const lower = hash.toLowerCase();

describe('parseRoute', () => {
  it('reads object URLs, single- and multi-file, decoding percent-escapes', () => {
    expect(parseRoute(`/objects/${hash}/movie.mp4`)).toEqual({
      kind: 'object',
      infoHash: lower,
      segments: ['movie.mp4'],
    });
    expect(parseRoute(`/objects/${lower}/my%20dir/sub/f%C3%A9.bin?x=1`)).toEqual({
      kind: 'object',
      infoHash: lower,
      segments: ['my dir', 'sub', 'fé.bin'],
    });
  });

  it('reads piece URLs', () => {
    expect(parseRoute(`/pieces/${hash}/0`)).toEqual({ kind: 'piece', infoHash: lower, pieceIndex: 0 });
    expect(parseRoute(`/pieces/${hash}/1234`)).toEqual({ kind: 'piece', infoHash: lower, pieceIndex: 1234 });
  });

  it('accepts the absolute form', () => {
    expect(parseRoute(`http://edge.example:8080/pieces/${hash}/7`)).toEqual({
      kind: 'piece',
      infoHash: lower,
      pieceIndex: 7,
    });
  });

  it('refuses traversal attempts and malformed paths with a reason', () => {
    for (const target of [
      `/objects/${hash}/..`,
      `/objects/${hash}/a/../../etc/passwd`,
      `/objects/${hash}/%2e%2e/x`,
      `/objects/${hash}/a%2Fb`,
      `/objects/${hash}/a%5Cb`,
      `/objects/${hash}/a%00b`,
      `/objects/${hash}/a//b`,
      `/objects/${hash}/%E0%A4%A`,
      `/objects/${hash}/.`,
      '/objects/xyz/name',
      `/pieces/${hash}/-1`,
      `/pieces/${hash}/01`,
      `/pieces/${hash}/1.5`,
      `/pieces/${hash}/99999999999`,
      `/pieces/${hash}/1/2`,
      `/pieces/${hash}`,
      '*',
      'ftp://x/y',
      '',
    ]) {
      expect(parseRoute(target).kind, target).toBe('bad');
    }
  });

  it('says unknown for paths outside the URL space and for folders', () => {
    expect(parseRoute('/')).toEqual({ kind: 'unknown' });
    expect(parseRoute('/etc/passwd')).toEqual({ kind: 'unknown' });
    expect(parseRoute(`/objects/${hash}/dir/`)).toEqual({ kind: 'unknown' });
  });

  it("routes the object's own URL (the web seed base) with no segments: a single-file object's file", () => {
    expect(parseRoute(`/objects/${hash}/`)).toEqual({ kind: 'object', infoHash: hash.toLowerCase(), segments: [] });
    expect(parseRoute(`/objects/${hash}`)).toEqual({ kind: 'object', infoHash: hash.toLowerCase(), segments: [] });
  });
});

describe('routeOf', () => {
  it('answers as parseRoute does, and the same route object for a target seen before', () => {
    const hash = 'ab'.repeat(20);
    const targets = [
      `/objects/${hash}/a.bin`,
      `/pieces/${hash}/3`,
      '/objects/zz/a',
      '/elsewhere',
      `/objects/${hash}/a.bin`,
    ];
    for (const target of targets) expect(routeOf(target)).toEqual(parseRoute(target));
    const first = routeOf(`/pieces/${hash}/9`);
    routeOf(`/pieces/${hash}/10`);
    expect(routeOf(`/pieces/${hash}/9`)).toBe(first);
  });

  it('stays right when more distinct targets come than it remembers', () => {
    const hash = 'cd'.repeat(20);
    for (let i = 0; i < 10_000; i += 1)
      expect(routeOf(`/pieces/${hash}/${i}`)).toEqual({ kind: 'piece', infoHash: hash, pieceIndex: i });
  });
});
