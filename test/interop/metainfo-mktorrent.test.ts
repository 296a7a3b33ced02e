// edgepeer must give the same info hash as mktorrent (Debian's mktorrent 1.1) for the same content, name
// and piece length. mktorrent's own torrent is read with parseTorrent, and the info dictionaries compared
// byte for byte: the hash, the raw pieces, the file order and every key.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTorrent, type Metainfo, parseTorrent } from '../../src/metainfo/index.ts';
import { metainfoFor, run, writeTree } from './metainfo-support.ts';

let base: string;
let torrentCount = 0;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'edgepeer-mktorrent-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function mktorrent(target: string, log2PieceLength: number, options: string[] = []): Promise<Metainfo> {
  const output = join(base, `out-${torrentCount++}.torrent`);
  await run('mktorrent', ['-l', String(log2PieceLength), '-t', '1', '-o', output, ...options, target]);
  return parseTorrent(await readFile(output), output);
}

function expectSameInfo(ours: Metainfo, theirs: Metainfo): void {
  expect(ours.files.map((file) => file.path.join('/'))).toEqual(theirs.files.map((file) => file.path.join('/')));
  expect(ours.pieceHashes.equals(theirs.pieceHashes)).toBe(true);
  expect(ours.info.equals(theirs.info)).toBe(true);
  expect(ours.infoHash).toBe(theirs.infoHash);
}

// Lengths chosen so that pieces straddle files at every piece length below and the last piece is short.
const TREE = {
  'a/z': 40_000,
  'a.txt': 1_000,
  'a-b': 70_001,
  'a/b/c/deep.bin': 33_333,
  A: 5,
  'B/up': 12_345,
  b: 7,
  zero: 0,
  'sub/zero-too': 0,
  '.hidden': 99,
  '.dotdir/inner': 100,
  'é/ü.txt': 2_000,
  'e/x': 3,
  'space name/file with spaces': 4_096,
};

describe('info hash identical to mktorrent', () => {
  it.each([15, 16, 17])('for a directory tree with piece length 2^%d', async (log2) => {
    const root = join(base, `tree-${log2}`, 'content');
    await writeTree(root, TREE, { 'link-to-file': 'a-b', 'link-to-dir': 'a/b' });
    await mkdir(join(root, 'empty/nested'), { recursive: true });
    await run('mkfifo', [join(root, 'a-fifo')]);
    const theirs = await mktorrent(root, log2);
    const ours = await metainfoFor(root, 2 ** log2);
    expectSameInfo(ours, theirs);
    expect(ours.length % 2 ** log2).not.toBe(0);
    // What mktorrent includes: hidden files, zero-length files, followed symlinks; no empty directories, no FIFOs.
    const paths = ours.files.map((file) => file.path.join('/'));
    expect(paths).toEqual(
      expect.arrayContaining(['.hidden', '.dotdir/inner', 'zero', 'link-to-file', 'link-to-dir/c/deep.bin']),
    );
    expect(paths.some((path) => path.startsWith('empty'))).toBe(false);
    expect(paths).not.toContain('a-fifo');
    expect(paths.indexOf('a-b')).toBeLessThan(paths.indexOf('a.txt'));
    expect(paths.indexOf('a.txt')).toBeLessThan(paths.indexOf('a/b/c/deep.bin'));
    expect(paths.indexOf('B/up')).toBeLessThan(paths.indexOf('a-b'));
  });

  it.each([15, 18])('for a single file with piece length 2^%d', async (log2) => {
    const root = join(base, `single-${log2}`);
    await writeTree(root, { 'movie.mp4': 300_001 });
    const target = join(root, 'movie.mp4');
    expectSameInfo(await metainfoFor(target, 2 ** log2), await mktorrent(target, log2));
  });

  it('for a file whose length is an exact multiple of the piece length', async () => {
    const root = join(base, 'exact');
    await writeTree(root, { 'exact.bin': 4 * 32_768 });
    const target = join(root, 'exact.bin');
    expectSameInfo(await metainfoFor(target, 32_768), await mktorrent(target, 15));
  });

  it('for a directory holding a single file, and a trailing slash on the target', async () => {
    const root = join(base, 'one-file-dir');
    await writeTree(root, { only: 50_000 });
    const theirs = await mktorrent(`${root}/`, 15);
    const ours = await metainfoFor(`${root}/`, 32_768);
    expect(ours.multiFile).toBe(true);
    expectSameInfo(ours, theirs);
  });

  it('for a private torrent', async () => {
    const root = join(base, 'private');
    await writeTree(root, { f: 70_000 });
    const target = join(root, 'f');
    const theirs = await mktorrent(target, 15, ['-p']);
    expect(theirs.private).toBe(true);
    expectSameInfo(await metainfoFor(target, 32_768, { private: true }), theirs);
  });

  it.each([
    ['one web seed', ['-a', 'http://a/1,http://a/2', '-a', 'udp://b/1', '-w', 'http://w/1', '-c', 'a comment']],
    ['several web seeds and one tracker', ['-a', 'http://a/1', '-w', 'http://w/1', '-w', 'http://w/2']],
  ])('writing the whole .torrent file byte for byte as mktorrent does, with %s', async (_what, options) => {
    const root = join(base, `whole-${torrentCount}`);
    await writeTree(root, { 'f.bin': 50_000 });
    const target = join(root, 'f.bin');
    const output = join(base, `whole-${torrentCount++}.torrent`);
    await run('mktorrent', ['-l', '15', '-t', '1', '-o', output, ...options, target]);
    const theirBytes = await readFile(output);
    const theirs = parseTorrent(theirBytes);
    const ours = await metainfoFor(target, 32_768, {
      announceList: theirs.announceList,
      urlList: theirs.urlList,
      comment: theirs.comment,
      createdBy: theirs.createdBy,
      creationDate: theirs.creationDate,
    });
    expect(encodeTorrent(ours).toString('latin1')).toBe(theirBytes.toString('latin1'));
  });

  it('and, like mktorrent, refuses a dangling symlink', async () => {
    const root = join(base, 'dangling', 'content');
    await writeTree(root, { f: 10 }, { broken: 'nowhere' });
    await expect(mktorrent(root, 15)).rejects.toThrow(/broken/);
    await expect(metainfoFor(root, 32_768)).rejects.toMatchObject({ code: 'EDGEPEER_SOURCE_UNREADABLE' });
  });
});
