import { describe, expect, it } from 'vitest';
import { buildMetainfo, magnetLink, parseMagnet } from '../../src/metainfo/index.ts';

const metainfo = buildMetainfo({
  name: 'big movie & co.mp4',
  pieceLength: 16_384,
  multiFile: false,
  files: [{ path: [], length: 3 }],
  pieceHashes: Buffer.alloc(20),
  announceList: [['http://t1/announce?x=1&y=2'], ['udp://t2:80']],
  urlList: ['http://seed/a b'],
});

describe('magnetLink', () => {
  it('writes xt, dn, xl, tr and ws with values escaped', () => {
    const link = magnetLink(metainfo);
    expect(link).toBe(
      `magnet:?xt=urn:btih:${metainfo.infoHash}&dn=big%20movie%20%26%20co.mp4&xl=3` +
        '&tr=http%3A%2F%2Ft1%2Fannounce%3Fx%3D1%26y%3D2&tr=udp%3A%2F%2Ft2%3A80&ws=http%3A%2F%2Fseed%2Fa%20b',
    );
  });

  it('adds extra trackers and web seeds after the metainfo ones, without repeats', () => {
    const parsed = parseMagnet(
      magnetLink(metainfo, { trackers: ['udp://t2:80', 'http://t3/'], webSeeds: ['http://edge/'] }),
    );
    expect(parsed).toEqual({
      infoHash: metainfo.infoHash,
      name: 'big movie & co.mp4',
      trackers: ['http://t1/announce?x=1&y=2', 'udp://t2:80', 'http://t3/'],
      webSeeds: ['http://seed/a b', 'http://edge/'],
    });
  });
});

describe('parseMagnet', () => {
  const hex = '0123456789abcdef0123456789abcdef01234567';

  it('reads a base32 info hash', () => {
    const base32 = 'AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH';
    expect(parseMagnet(`magnet:?xt=urn:btih:${base32}`).infoHash).toBe(hex);
    expect(parseMagnet(`magnet:?xt=urn:btih:${base32.toLowerCase()}`).infoHash).toBe(hex);
  });

  it('reads upper-case hex, numbered keys and the first btih among several xt', () => {
    const parsed = parseMagnet(
      `MAGNET:?xt=urn:btmh:1220${'ab'.repeat(32)}&xt=urn:btih:${hex.toUpperCase()}&tr.1=http://a/&tr.2=http://b/&dn=x+y`,
    );
    expect(parsed).toEqual({ infoHash: hex, name: 'x y', trackers: ['http://a/', 'http://b/'], webSeeds: [] });
  });

  it.each([
    ['not a magnet link', 'http://example/', /does not start with "magnet:\?"/],
    ['no info hash', 'magnet:?dn=x', /has no xt=urn:btih: info hash/],
    ['a v2 hash only', `magnet:?xt=urn:btmh:1220${'ab'.repeat(32)}`, /has no xt=urn:btih/],
    ['a short hash', 'magnet:?xt=urn:btih:abcd', /"urn:btih:abcd" is not a v1 info hash/],
    ['a hash with junk', `magnet:?xt=urn:btih:${'z'.repeat(40)}`, /is not a v1 info hash/],
  ])('rejects %s', (_what, uri, fragment) => {
    expect(() => parseMagnet(uri)).toThrow(expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }));
    expect(() => parseMagnet(uri)).toThrow(fragment);
  });
});
