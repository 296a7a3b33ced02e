import { describe, expect, it } from 'vitest';
import { MetainfoError } from '../../src/errors/index.ts';
import { buildMetainfo, encodeTorrent, parseTorrent } from '../../src/metainfo/index.ts';
import { sha1Hex } from './helpers.ts';

const HASH = 'x'.repeat(20);

/** A torrent from literal bencode: `{{H}}` stands for one 20-byte piece hash. */
function torrent(text: string): Buffer {
  return Buffer.from(text.replaceAll('{{H}}', HASH), 'latin1');
}

const SINGLE = `d8:announce10:http://t/a4:infod6:lengthi3e4:name1:n12:piece lengthi16384e6:pieces20:{{H}}ee`;

function expectMetainfoError(data: Buffer, fragment: string | RegExp): void {
  let caught: unknown;
  try {
    parseTorrent(data, 'sample.torrent');
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MetainfoError);
  const error = caught as MetainfoError;
  expect(error.code).toBe('EDGEPEER_METAINFO_INVALID');
  expect(error.message).toMatch(/^sample\.torrent: /);
  expect(error.message).toMatch(fragment);
  expect(error.details.subject).toBe('sample.torrent');
}

describe('parseTorrent', () => {
  it('reads a single-file torrent', () => {
    const metainfo = parseTorrent(torrent(SINGLE));
    expect(metainfo).toMatchObject({
      name: 'n',
      length: 3,
      pieceLength: 16_384,
      pieceCount: 1,
      multiFile: false,
      files: [{ path: [], length: 3, offset: 0 }],
      announceList: [['http://t/a']],
      urlList: [],
      private: false,
    });
    expect(metainfo.infoHash).toBe(sha1Hex(torrent(`d6:lengthi3e4:name1:n12:piece lengthi16384e6:pieces20:{{H}}e`)));
  });

  it('reads a url-list given as one string, and private', () => {
    const metainfo = parseTorrent(
      torrent(`d4:infod6:lengthi3e4:name1:n12:piece lengthi16384e6:pieces20:{{H}}7:privatei1ee8:url-list8:http://se`),
    );
    expect(metainfo.urlList).toEqual(['http://s']);
    expect(metainfo.private).toBe(true);
  });

  it('prefers announce-list over announce and drops empty tiers', () => {
    const metainfo = parseTorrent(
      torrent(
        `d8:announce3:a:113:announce-listll3:b:1el3:c:13:c:2elee4:infod6:lengthi3e4:name1:n12:piece lengthi16384e6:pieces20:{{H}}ee`,
      ),
    );
    expect(metainfo.announceList).toEqual([['b:1'], ['c:1', 'c:2']]);
  });

  it('drops descriptive fields of the wrong type', () => {
    const metainfo = parseTorrent(
      torrent(
        `d7:commenti5e10:created byle13:creation date3:now4:infod6:lengthi3e4:name1:n12:piece lengthi16384e6:pieces20:{{H}}ee`,
      ),
    );
    expect(metainfo.comment).toBeUndefined();
    expect(metainfo.createdBy).toBeUndefined();
    expect(metainfo.creationDate).toBeUndefined();
  });

  it('ignores a __proto__ key rather than reading fields through it', () => {
    const data = torrent(`d9:__proto__d4:infod6:lengthi3e4:name1:n12:piece lengthi16384e6:pieces20:{{H}}eee`);
    expectMetainfoError(data, /no info dictionary/);
  });

  it.each([
    ['empty input', '', /not valid bencode: empty/],
    ['not a dictionary', 'li1ee', /not valid bencode/],
    ['truncated in the info dictionary', SINGLE.slice(0, 40), /truncated/],
    ['truncated inside the pieces string', SINGLE.slice(0, SINGLE.length - 10), /truncated/],
    ['a missing final "e"', SINGLE.slice(0, -1), /truncated/],
    ['trailing bytes', `${SINGLE}xyz`, /3 trailing bytes/],
    ['a negative string length', 'd4:infol-3:abcee', /not valid bencode/],
    ['an integer with a leading zero', SINGLE.replace('i3e', 'i03e'), /leading zero/],
    ['negative zero', SINGLE.replace('i3e', 'i-0e'), /negative zero/],
    ['a fractional integer', SINGLE.replace('i3e', 'i3.5e'), /malformed integer/],
    ['an empty integer', SINGLE.replace('i3e', 'ie'), /without digits/],
    ['a non-string key', 'di1ei2ee', /key at byte 1 is not a string/],
    ['a duplicate key', 'd4:infode4:infodee', /duplicate dictionary key/],
    ['deep nesting', `d4:info${'l'.repeat(100_000)}${'e'.repeat(100_000)}e`, /nesting deeper/],
    ['a string longer than the data', 'd4:info99999999999999999999:xe', /longer than the data/],
    ['no info', 'd8:announce1:ae', /no info dictionary/],
    ['info not a dictionary', 'd4:infoli1eee', /info is not a dictionary/],
    ['no name', SINGLE.replace('4:name1:n', ''), /info\.name is missing/],
    ['a name of the wrong type', SINGLE.replace('4:name1:n', '4:namei1e'), /info\.name is not a byte string/],
    ['an unsafe name', SINGLE.replace('4:name1:n', '4:name2:..'), /name "\.\." is "\.\."/],
    ['a name with a slash', SINGLE.replace('4:name1:n', '4:name3:a/b'), /contains "\/"/],
    ['a name that is not UTF-8', SINGLE.replace('4:name1:n', '4:name1:\xff'), /info\.name is not valid UTF-8/],
    ['no piece length', SINGLE.replace('12:piece lengthi16384e', ''), /piece length"\] is missing/],
    ['a zero piece length', SINGLE.replace('i16384e', 'i0e'), /piece length 0/],
    ['a negative piece length', SINGLE.replace('i16384e', 'i-5e'), /piece length -5/],
    ['a huge piece length', SINGLE.replace('i16384e', 'i99999999999999999999e'), /piece length/],
    [
      'pieces of the wrong type',
      SINGLE.replace('6:pieces20:{{H}}', '6:piecesi1e'),
      /info\.pieces is not a byte string/,
    ],
    ['pieces not a multiple of 20', SINGLE.replace('20:{{H}}', '21:{{H}}y'), /21 bytes, not a multiple of 20/],
    ['too many pieces', SINGLE.replace('20:{{H}}', '40:{{H}}{{H}}'), /holds 2 hashes but 3 bytes .* make 1/],
    ['too few pieces', SINGLE.replace('i3e', 'i16385e'), /holds 1 hashes but 16385 bytes .* make 2/],
    ['a negative length', SINGLE.replace('i3e', 'i-3e'), /info\.length has length -3/],
    ['a length of the wrong type', SINGLE.replace('i3e', '1:3'), /info\.length is not an integer/],
    ['zero length', SINGLE.replace('i3e', 'i0e').replace('20:{{H}}', '0:'), /no content/],
    ['both files and length', SINGLE.replace('6:lengthi3e', '5:filesle6:lengthi3e'), /both files and length/],
    ['neither files nor length', SINGLE.replace('6:lengthi3e', ''), /neither files nor length/],
    [
      'a private flag of the wrong type',
      SINGLE.replace('e6:pieces', 'e6:pieces').replace('{{H}}e', '{{H}}7:private1:1e'),
      /info\.private is not an integer/,
    ],
    [
      'announce-list of the wrong type',
      SINGLE.replace('8:announce10:http://t/a', '13:announce-listi1e'),
      /announce-list is not a list/,
    ],
    [
      'an announce-list tier of the wrong type',
      SINGLE.replace('8:announce10:http://t/a', '13:announce-listli1ee'),
      /announce-list\[0\] is not a list/,
    ],
    ['a url-list of the wrong type', `${SINGLE.slice(0, -1)}8:url-listi1ee`, /url-list is not a list/],
  ])('rejects %s', (_what, text, fragment) => {
    expectMetainfoError(torrent(text), fragment);
  });

  const MULTI_HEAD = 'd4:infod5:files';
  const MULTI_TAIL = '4:name1:d12:piece lengthi16384e6:pieces20:{{H}}ee';
  it.each([
    ['an empty files list', 'le', /info\.files is empty/],
    ['files not a list', 'i1e', /info\.files is not a list/],
    ['a file entry not a dictionary', 'li1ee', /info\.files\[0\] is not a dictionary/],
    ['a file without length', 'ld4:pathl1:aeee', /info\.files\[0\]\.length is missing/],
    ['a file with a negative length', 'ld6:lengthi-1e4:pathl1:aeee', /info\.files\[0\]\.length has length -1/],
    ['a file without path', 'ld6:lengthi3eee', /info\.files\[0\]\.path is not a list/],
    ['a file with an empty path', 'ld6:lengthi3e4:pathleee', /file 0 has an empty path/],
    [
      'a path component of the wrong type',
      'ld6:lengthi3e4:pathli1eeee',
      /info\.files\[0\]\.path\[0\] is not a byte string/,
    ],
    ['a ".." path component', 'ld6:lengthi3e4:pathl2:..1:aeee', /file 0 path "\.\.\/a" is unsafe/],
    ['a "." path component', 'ld6:lengthi3e4:pathl1:.eee', /is unsafe: a component is "\."/],
    ['an empty path component', 'ld6:lengthi3e4:pathl0:eee', /is unsafe: a component is empty/],
    ['a path component with a slash', 'ld6:lengthi3e4:pathl4:/etceee', /contains "\/"/],
    ['a path component with a backslash', 'ld6:lengthi3e4:pathl4:a\\bceee', /contains "\\"/],
    ['a path component with NUL', 'ld6:lengthi3e4:pathl2:a\0eee', /contains a NUL byte/],
    ['the same path twice', 'ld6:lengthi1e4:pathl1:aeed6:lengthi2e4:pathl1:aeee', /used twice/],
    [
      'a file that is a directory',
      'ld6:lengthi1e4:pathl1:aeed6:lengthi2e4:pathl1:a1:beee',
      /both a file and a directory/,
    ],
  ])('rejects a multi-file torrent with %s', (_what, files, fragment) => {
    expectMetainfoError(torrent(`${MULTI_HEAD}${files}${MULTI_TAIL}`), fragment);
  });

  it('names the default subject when none is given', () => {
    expect(() => parseTorrent(Buffer.from('x'))).toThrow(/^torrent: /);
  });

  it('keeps the info bytes as received', () => {
    const metainfo = buildMetainfo({
      name: 'n',
      pieceLength: 16_384,
      multiFile: false,
      files: [{ path: [], length: 3 }],
      pieceHashes: Buffer.from(HASH, 'latin1'),
    });
    const parsed = parseTorrent(encodeTorrent(metainfo));
    expect(parsed.info.equals(metainfo.info)).toBe(true);
    expect(parsed.infoHash).toBe(metainfo.infoHash);
  });
});
