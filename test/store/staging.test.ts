import { mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type StagingStore, type Store } from '../../src/store/index.ts';
import { makeObject, nextEvent, type TestObject, tempFolder } from './helpers.ts';

let dataDir: string;
let removeFolder: () => Promise<void>;
let store: Store & StagingStore;

beforeEach(async () => {
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
  store = await openStore(dataDir, { mode: 'write' });
});

afterEach(async () => {
  await store.close();
  await removeFolder();
});

const multi = makeObject({
  name: 'site',
  pieceLength: 16_384,
  fileLengths: [20_000, 1, 0, 40_000],
  filePaths: [['index.html'], ['a', 'b', 'c.txt'], ['a', 'empty'], ['media', 'v.mp4']],
});
const single = makeObject({ name: 'movie.mkv', pieceLength: 32_768, fileLengths: [70_000], single: true });

/** Writes the object's files into a staging folder as a BitTorrent client would: D/<name>[/<path...>]. */
async function stage(folder: string, object: TestObject): Promise<void> {
  const { metainfo } = object;
  for (const [index, file] of metainfo.files.entries()) {
    const path = join(folder, metainfo.name, ...file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, object.fileContents[index]!);
  }
}

describe('staging', () => {
  it('adopts a staged multi-file folder by rename, with every piece held and readable', async () => {
    const staging = await store.createStaging();
    expect(dirname(staging)).toBe(join(dataDir, 'staging'));
    await stage(staging, multi);
    const added = nextEvent(store, 'object-added');
    const object = await store.adoptStaging(staging, multi.metainfo, { source: 'https://origin/site', ttlMs: 5000 });
    expect(await added).toEqual([object]);
    expect(object.complete).toBe(true);
    expect(object.source).toBe('https://origin/site');
    await expect(stat(staging)).rejects.toMatchObject({ code: 'ENOENT' });
    for (let index = 0; index < multi.metainfo.pieceCount; index++) {
      expect(await store.readPiece(multi.metainfo.infoHash, index)).toEqual(multi.piece(index));
    }
    await store.close();
    store = await openStore(dataDir, { mode: 'write' });
    expect(store.get(multi.metainfo.infoHash)?.complete).toBe(true);
  });

  it('is idempotent: adopting content already held drops the staged copy and refreshes TTL and source', async () => {
    const first = await store.createStaging();
    await stage(first, single);
    await store.adoptStaging(first, single.metainfo, { source: 'one' });
    const second = await store.createStaging();
    await stage(second, single);
    const again = await store.adoptStaging(second, single.metainfo, { source: 'two', ttlMs: 60_000 });
    expect(again.source).toBe('two');
    expect(again.expiresAt).toBeGreaterThan(Date.now());
    expect(store.list()).toHaveLength(1);
    expect(await readdir(join(dataDir, 'staging'))).toEqual([]);
  });

  it('removes staging folders left by a crash when the store is next opened', async () => {
    const leftover = await store.createStaging();
    await stage(leftover, single);
    await store.close();
    store = await openStore(dataDir, { mode: 'write' });
    expect(await readdir(join(dataDir, 'staging'))).toEqual([]);
    expect(store.list()).toEqual([]);
  });

  it('refuses staged data that does not match the metainfo, leaving the folder to the caller', async () => {
    const staging = await store.createStaging();
    await stage(staging, single);
    await writeFile(join(staging, 'movie.mkv'), single.content.subarray(0, 1000));
    await expect(store.adoptStaging(staging, single.metainfo)).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message: expect.stringContaining('has 1000 bytes, its metainfo says 70000'),
    });
    expect(store.list()).toEqual([]);
    await store.discardStaging(staging);
    await expect(stat(staging)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(join(dataDir, 'objects'))).toEqual([]);
  });

  it('refuses a staged symlink (the data folder must not lead elsewhere)', async () => {
    const elsewhere = join(dataDir, 'elsewhere.bin');
    await writeFile(elsewhere, single.content);
    const staging = await store.createStaging();
    await symlink(elsewhere, join(staging, 'movie.mkv'));
    await expect(store.adoptStaging(staging, single.metainfo)).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message: expect.stringContaining('not a regular file'),
    });
  });

  it('refuses folders that are not its own staging folders', async () => {
    await expect(store.adoptStaging(dataDir, single.metainfo)).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
    await expect(store.discardStaging(join(dataDir, 'objects'))).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
    expect((await stat(join(dataDir, 'objects'))).isDirectory()).toBe(true);
  });
});
