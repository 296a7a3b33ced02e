import { describe, expect, it } from 'vitest';
import { buildMetainfo, encodeTorrent, parseTorrent } from '../../src/metainfo/index.ts';
import { contentBytes, pieceHashesOf, sha1Hex } from './helpers.ts';

describe('buildMetainfo', () => {
  it('writes a single-file info dictionary byte for byte as mktorrent does', () => {
    const content = contentBytes(40_000);
    const pieceHashes = pieceHashesOf(content, 32_768);
    const metainfo = buildMetainfo({
      name: 'clip.mp4',
      pieceLength: 32_768,
      multiFile: false,
      files: [{ path: [], length: content.length }],
      pieceHashes,
    });
    const expected = Buffer.concat([
      Buffer.from('d6:lengthi40000e4:name8:clip.mp412:piece lengthi32768e6:pieces40:'),
      pieceHashes,
      Buffer.from('e'),
    ]);
    expect(metainfo.info.equals(expected)).toBe(true);
    expect(metainfo.infoHash).toBe(sha1Hex(expected));
    expect(metainfo).toMatchObject({
      name: 'clip.mp4',
      pieceLength: 32_768,
      pieceCount: 2,
      length: 40_000,
      multiFile: false,
      private: false,
      files: [{ path: [], length: 40_000, offset: 0 }],
      announceList: [],
      urlList: [],
    });
  });

  it('writes a multi-file dictionary keeping the given order, with private only when true', () => {
    const files = [
      { path: ['b', 'x.bin'], length: 10 },
      { path: ['a.txt'], length: 0 },
      { path: ['é'], length: 5 },
    ];
    const pieceHashes = pieceHashesOf(contentBytes(15), 16_384);
    const metainfo = buildMetainfo({
      name: 'set',
      pieceLength: 16_384,
      multiFile: true,
      files,
      pieceHashes,
      private: true,
    });
    const expected = Buffer.concat([
      Buffer.from(
        'd5:filesld6:lengthi10e4:pathl1:b5:x.bineed6:lengthi0e4:pathl5:a.txteed6:lengthi5e4:pathl2:éeee4:name3:set12:piece lengthi16384e6:pieces20:',
      ),
      pieceHashes,
      Buffer.from('7:privatei1ee'),
    ]);
    expect(metainfo.info.equals(expected)).toBe(true);
    expect(metainfo.files.map((file) => file.offset)).toEqual([0, 10, 10]);
    expect(metainfo.length).toBe(15);
    expect(metainfo.private).toBe(true);
  });

  it('marks a multi-file torrent with one file as multi-file', () => {
    const metainfo = buildMetainfo({
      name: 'd',
      pieceLength: 16_384,
      multiFile: true,
      files: [{ path: ['only'], length: 3 }],
      pieceHashes: pieceHashesOf(contentBytes(3), 16_384),
    });
    expect(metainfo.info.subarray(0, 8).toString()).toBe('d5:files');
  });

  it('copies the piece hashes so the caller may reuse its buffer', () => {
    const pieceHashes = pieceHashesOf(contentBytes(3), 16_384);
    const metainfo = buildMetainfo({
      name: 'n',
      pieceLength: 16_384,
      multiFile: false,
      files: [{ path: [], length: 3 }],
      pieceHashes,
    });
    const before = Buffer.from(metainfo.pieceHashes);
    pieceHashes.fill(0);
    expect(metainfo.pieceHashes.equals(before)).toBe(true);
  });

  it.each([
    ['an unsafe name', { name: '../x' }],
    ['an empty name', { name: '' }],
    ['a zero piece length', { pieceLength: 0 }],
    ['a fractional piece length', { pieceLength: 1.5 }],
    ['a negative file length', { files: [{ path: [], length: -1 }] }],
    [
      'two files in a single-file torrent',
      {
        files: [
          { path: [], length: 1 },
          { path: [], length: 2 },
        ],
      },
    ],
    ['a path in a single-file torrent', { files: [{ path: ['x'], length: 3 }] }],
    ['too few piece hashes', { pieceHashes: Buffer.alloc(0) }],
    ['too many piece hashes', { pieceHashes: Buffer.alloc(40) }],
    ['piece hashes not a multiple of 20', { pieceHashes: Buffer.alloc(21) }],
    ['empty content', { files: [{ path: [], length: 0 }], pieceHashes: Buffer.alloc(0) }],
  ])('rejects %s with a MetainfoError', (_what, change) => {
    const input = {
      name: 'n',
      pieceLength: 16_384,
      multiFile: false,
      files: [{ path: [] as string[], length: 3 }],
      pieceHashes: Buffer.alloc(20),
      ...change,
    };
    expect(() => buildMetainfo(input)).toThrow(expect.objectContaining({ code: 'EDGEPEER_METAINFO_INVALID' }));
  });

  it.each([
    ['an empty path', [{ path: [], length: 1 }]],
    ['a ".." component', [{ path: ['a', '..', 'b'], length: 1 }]],
    ['a "." component', [{ path: ['.'], length: 1 }]],
    ['an empty component', [{ path: ['a', ''], length: 1 }]],
    ['a slash', [{ path: ['a/b'], length: 1 }]],
    ['a backslash', [{ path: ['a\\b'], length: 1 }]],
    ['a NUL', [{ path: ['a\0'], length: 1 }]],
    [
      'the same path twice',
      [
        { path: ['a'], length: 1 },
        { path: ['a'], length: 1 },
      ],
    ],
    [
      'a file that is also a directory',
      [
        { path: ['a'], length: 1 },
        { path: ['a', 'b'], length: 1 },
      ],
    ],
    [
      'a directory that is also a file, listed first',
      [
        { path: ['a', 'b'], length: 1 },
        { path: ['a'], length: 1 },
      ],
    ],
    ['no files', []],
  ])('rejects a multi-file torrent with %s', (_what, files) => {
    const length = files.reduce((sum, file) => sum + file.length, 0);
    const input = {
      name: 'n',
      pieceLength: 16_384,
      multiFile: true,
      files,
      pieceHashes: Buffer.alloc(length > 0 ? 20 : 0),
    };
    expect(() => buildMetainfo(input)).toThrow(expect.objectContaining({ code: 'EDGEPEER_METAINFO_INVALID' }));
  });
});

describe('encodeTorrent', () => {
  it('round-trips through parseTorrent with trackers, web seeds and descriptive fields', () => {
    const content = contentBytes(100_000, 7);
    const metainfo = buildMetainfo({
      name: 'movie',
      pieceLength: 32_768,
      multiFile: true,
      files: [
        { path: ['a', 'one.bin'], length: 60_000 },
        { path: ['two.bin'], length: 40_000 },
      ],
      pieceHashes: pieceHashesOf(content, 32_768),
      announceList: [['http://t1/announce', 'http://t2/announce'], ['udp://t3:80']],
      urlList: ['http://seed/'],
      comment: 'hello',
      createdBy: 'edgepeer',
      creationDate: 1_700_000_000,
    });
    const parsed = parseTorrent(encodeTorrent(metainfo));
    expect(parsed).toEqual(metainfo);
  });

  it('writes the outer keys in order, announce-list only when there is more than one tracker', () => {
    const metainfo = buildMetainfo({
      name: 'n',
      pieceLength: 16_384,
      multiFile: false,
      files: [{ path: [], length: 3 }],
      pieceHashes: Buffer.alloc(20),
      announceList: [['http://t/a']],
      createdBy: 'x',
      creationDate: 5,
    });
    const text = encodeTorrent(metainfo).toString('latin1');
    expect(text.startsWith('d8:announce10:http://t/a10:created by1:x13:creation datei5e4:infod')).toBe(true);
    expect(text).not.toContain('announce-list');
    expect(text.endsWith('ee')).toBe(true);
  });

  it('writes the stored info bytes, not a re-encoding', () => {
    // Unsorted keys: valid bencode that a re-encoder would reorder, changing the hash.
    const info = Buffer.concat([
      Buffer.from('d4:name1:n6:lengthi3e12:piece lengthi16384e6:pieces20:'),
      Buffer.alloc(20),
      Buffer.from('e'),
    ]);
    const torrent = Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]);
    const parsed = parseTorrent(torrent);
    expect(parsed.infoHash).toBe(sha1Hex(info));
    expect(encodeTorrent(parsed).equals(torrent)).toBe(true);
  });
});
