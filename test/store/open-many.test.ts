// Opening must not scale with metainfo size or file count: the index is read in one pass and metainfo
// is read per object on first use. scripts/store-open-bench.ts measures 100k objects (docs/store.md);
// this is the same at a size that runs in a second or two.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import { makeObject, type TestObject, tempFolder } from './helpers.ts';

const COUNT = 400;
let dataDir: string;
let removeFolder: () => Promise<void>;
const objects: TestObject[] = Array.from({ length: COUNT }, (_, i) =>
  makeObject({ name: `object-${i}`, pieceLength: 16_384, fileLengths: [20_000], single: true }),
);

beforeAll(async () => {
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
  const store = await openStore(dataDir, { mode: 'write' });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < COUNT; i = next++) {
      const { metainfo } = objects[i]!;
      await store.addObject(metainfo, { ttlMs: i % 2 === 0 ? 1000 : 10_000_000 });
      await store.writePiece(metainfo.infoHash, i % 2, objects[i]!.piece(i % 2));
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  await store.close();
}, 60_000);

afterAll(async () => {
  await removeFolder();
});

describe(`a store of ${COUNT} objects`, () => {
  it('opens with every object, bitmap and TTL, reading no metainfo until asked', async () => {
    // Spoil one object's metainfo file: opening and listing must not notice, only that object's metainfo.
    const spoiled = objects[7]!.metainfo.infoHash;
    await writeFile(join(dataDir, 'objects', spoiled, 'metainfo.torrent'), 'not bencode');
    for (const mode of ['read', 'write'] as const) {
      const started = performance.now();
      const store = await openStore(dataDir, { mode });
      const listed = store.list();
      const elapsed = performance.now() - started;
      expect(listed).toHaveLength(COUNT);
      expect(store.listExpired(Date.now() + 5000)).toHaveLength(COUNT / 2);
      expect(store.find('object-123').bitfield.get(1)).toBe(true);
      expect(store.find('object-124').bitfield.get(0)).toBe(true);
      expect(store.find('object-9').metainfo.infoHash).toBe(objects[9]!.metainfo.infoHash);
      expect(() => store.get(spoiled)!.metainfo).toThrow(expect.objectContaining({ code: 'EDGEPEER_STORE_CORRUPT' }));
      console.info(`opened ${COUNT} objects in ${mode} mode and listed them in ${elapsed.toFixed(1)} ms`);
      await store.close();
    }
  });
});
