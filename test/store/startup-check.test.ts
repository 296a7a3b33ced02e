// The writer's check of data files at open: pieces of files that went missing, shrank or changed while
// the store was closed leave the bitmap before anything is announced.
import { mkdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type StagingStore, type Store } from '../../src/store/index.ts';
import { makeObject, tempFolder } from './helpers.ts';

let dataDir: string;
let removeFolder: () => Promise<void>;
let store: Store & StagingStore;

// Three files of 40,000 bytes in 16 KiB pieces: file 0 is in pieces 0-2, file 1 in 2-4, file 2 in 4-7.
const object = makeObject({ name: 'show', pieceLength: 16_384, fileLengths: [40_000, 40_000, 40_000] });
const { infoHash, pieceCount } = object.metainfo;
const filePath = (index: number) => join(dataDir, 'objects', infoHash, 'data', 'show', 'dir', `file-${index}.bin`);

beforeEach(async () => {
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
  store = await openStore(dataDir, { mode: 'write' });
  await store.addObject(object.metainfo);
  for (let index = 0; index < pieceCount; index++) await store.writePiece(infoHash, index, object.piece(index));
  await store.close();
});

afterEach(async () => {
  await store.close();
  await removeFolder();
});

async function reopen(): Promise<Store & StagingStore> {
  store = await openStore(dataDir, { mode: 'write' });
  return store;
}

function held(): number[] {
  const bitfield = store.get(infoHash)!.bitfield;
  return Array.from({ length: pieceCount }, (_, index) => index).filter((index) => bitfield.get(index));
}

describe('the data-file check at open', () => {
  it('finds nothing wrong in files as they were left, and keeps every piece', async () => {
    await reopen();
    expect(await store.checkDataFiles()).toEqual([]);
    expect(held()).toHaveLength(pieceCount);
  });

  it('takes out the pieces of a deleted file, and only those', async () => {
    await rm(filePath(1));
    await reopen();
    expect(held()).toHaveLength(pieceCount); // open alone reads no metainfo and changes nothing
    const findings = await store.checkDataFiles();
    expect(findings).toEqual([{ infoHash, name: 'show', path: filePath(1), problem: 'missing', piecesRemoved: 3 }]);
    expect(held()).toEqual([0, 1, 5, 6, 7]);
    await store.close();
    await reopen(); // durable: the removal went through the journal
    expect(held()).toEqual([0, 1, 5, 6, 7]);
  });

  it('takes out the pieces of a file cut short', async () => {
    await truncate(filePath(2), 30_000);
    await reopen();
    const findings = await store.checkDataFiles();
    expect(findings).toMatchObject([{ path: filePath(2), problem: 'shorter (30000 bytes of 40000)' }]);
    expect(held()).toEqual([0, 1, 2, 3]);
  });

  it('takes out the pieces of a file replaced by a folder', async () => {
    await rm(filePath(0));
    await mkdir(filePath(0));
    await reopen();
    expect(await store.checkDataFiles()).toMatchObject([{ problem: 'not a regular file', piecesRemoved: 3 }]);
  });

  it('takes out the pieces of a file changed in place since a clean close (same size, new mtime)', async () => {
    const bytes = await readFile(filePath(1));
    bytes[100]! ^= 0x01;
    await writeFile(filePath(1), bytes);
    const later = new Date(Date.now() + 60_000);
    await utimes(filePath(1), later, later);
    await reopen();
    expect(await store.checkDataFiles()).toMatchObject([{ path: filePath(1), problem: 'changed since the last run' }]);
    expect(held()).toEqual([0, 1, 5, 6, 7]);
  });

  it('without a record of the last close (a crash leaves none), compares sizes only', async () => {
    await rm(join(dataDir, 'index', 'data-files.json'));
    const later = new Date(Date.now() + 60_000);
    await utimes(filePath(1), later, later);
    await reopen();
    expect(await store.checkDataFiles()).toEqual([]);
    expect(held()).toHaveLength(pieceCount);
  });
});
