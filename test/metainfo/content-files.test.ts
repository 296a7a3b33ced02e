import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContentFiles } from '../../src/metainfo/index.ts';

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'edgepeer-content-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function tree(name: string, files: Record<string, string>): Promise<string> {
  const root = join(base, name);
  await mkdir(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

describe('listContentFiles', () => {
  it('lists a single file as a single-file torrent', async () => {
    const root = await tree('single', { 'movie.mp4': 'abc' });
    expect(await listContentFiles(join(root, 'movie.mp4'))).toEqual({
      name: 'movie.mp4',
      multiFile: false,
      files: [{ path: [], length: 3, absolutePath: join(root, 'movie.mp4') }],
    });
  });

  it('orders full relative paths byte by byte, includes hidden and empty files, drops empty directories', async () => {
    const root = await tree('order', {
      'a/z': '1',
      'a.txt': '22',
      'a-b': '333',
      'B/up': '4',
      b: '5',
      zero: '',
      '.hidden': '6',
      'é/x': '7',
      'e/x': '8',
    });
    await mkdir(join(root, 'empty', 'deeper'), { recursive: true });
    const listing = await listContentFiles(`${root}/`);
    expect(listing.name).toBe('order');
    expect(listing.multiFile).toBe(true);
    expect(listing.files.map((file) => file.path.join('/'))).toEqual([
      '.hidden',
      'B/up',
      'a-b',
      'a.txt',
      'a/z',
      'b',
      'e/x',
      'zero',
      'é/x',
    ]);
    expect(listing.files.find((file) => file.path.join('/') === 'a-b')).toEqual({
      path: ['a-b'],
      length: 3,
      absolutePath: join(root, 'a-b'),
    });
  });

  it('lists a directory holding one file as multi-file', async () => {
    const root = await tree('one', { only: 'x' });
    const listing = await listContentFiles(root);
    expect(listing.multiFile).toBe(true);
    expect(listing.files.map((file) => file.path)).toEqual([['only']]);
  });

  it('follows symlinks to files and directories', async () => {
    const root = await tree('links', { 'real/f': 'abcd', target: 'xyz' });
    await symlink('target', join(root, 'file-link'));
    await symlink('real', join(root, 'dir-link'));
    const listing = await listContentFiles(root);
    expect(listing.files.map((file) => [file.path.join('/'), file.length])).toEqual([
      ['dir-link/f', 4],
      ['file-link', 3],
      ['real/f', 4],
      ['target', 3],
    ]);
  });

  it('refuses a dangling symlink, naming it', async () => {
    const root = await tree('dangling', { f: 'x' });
    await symlink('nowhere', join(root, 'broken'));
    await expect(listContentFiles(root)).rejects.toMatchObject({
      code: 'EDGEPEER_SOURCE_UNREADABLE',
      details: { subject: join(root, 'broken') },
    });
  });

  it('refuses a symlink loop', async () => {
    const root = await tree('loop', { 'sub/f': 'x' });
    await symlink('..', join(root, 'sub', 'up'));
    await expect(listContentFiles(root)).rejects.toMatchObject({
      code: 'EDGEPEER_SOURCE_UNREADABLE',
      message: expect.stringContaining('symlink loop'),
    });
  });

  it('refuses a missing path and a directory without files', async () => {
    await expect(listContentFiles(join(base, 'missing'))).rejects.toMatchObject({ code: 'EDGEPEER_SOURCE_UNREADABLE' });
    const empty = join(base, 'empty-root');
    await mkdir(join(empty, 'sub'), { recursive: true });
    await expect(listContentFiles(empty)).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message: expect.stringContaining('holds no files'),
    });
  });
});
