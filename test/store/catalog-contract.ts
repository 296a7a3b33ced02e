// The Catalog contract (src/store/types.ts), for every implementation: what the wire and HTTP servers, the
// announce client and the scrub rely on. An implementation is driven through a small driver, since how
// objects and pieces get into a catalog differs (a store writes them; the controller will hear of them).
import { describe, expect, it } from 'vitest';
import type { Metainfo } from '../../src/metainfo/index.ts';
import type { Catalog, CatalogEvents } from '../../src/store/index.ts';
import { makeObject } from './helpers.ts';

export interface CatalogDriver {
  catalog: Catalog;
  addObject(metainfo: Metainfo): Promise<void>;
  addPieces(metainfo: Metainfo, pieceIndexes: number[]): Promise<void>;
  removePieces(infoHash: string, pieceIndexes: number[]): Promise<void>;
  removeObject(infoHash: string): Promise<void>;
  close(): Promise<void>;
}

/** Every event the catalog emits, in order. */
function record(catalog: Catalog): Array<[keyof CatalogEvents, ...unknown[]]> {
  const events: Array<[keyof CatalogEvents, ...unknown[]]> = [];
  for (const name of ['object-added', 'pieces-added', 'pieces-removed', 'object-removed'] as const) {
    catalog.on(name, (...args: unknown[]) => events.push([name, ...args]));
  }
  return events;
}

export function catalogContract(name: string, open: () => Promise<CatalogDriver>): void {
  describe(`Catalog contract: ${name}`, () => {
    const test = makeObject({
      name: 'catalogued.bin',
      pieceLength: 16_384,
      fileLengths: [16_384 * 4 + 100],
      single: true,
    });
    const { metainfo } = test;

    async function withDriver(body: (driver: CatalogDriver) => Promise<void>): Promise<void> {
      const driver = await open();
      try {
        await body(driver);
      } finally {
        await driver.close();
      }
    }

    it('lists an added object with its geometry and an empty bitfield, by info hash in any case', () =>
      withDriver(async (driver) => {
        const events = record(driver.catalog);
        await driver.addObject(metainfo);
        const object = driver.catalog.get(metainfo.infoHash)!;
        expect(object).toMatchObject({
          infoHash: metainfo.infoHash,
          name: metainfo.name,
          length: metainfo.length,
          pieceLength: metainfo.pieceLength,
          pieceCount: metainfo.pieceCount,
          piecesHeld: 0,
          complete: false,
        });
        expect(object.bitfield.length).toBe(5);
        expect(object.bitfield.toBuffer()).toEqual(Buffer.alloc(1));
        expect(driver.catalog.get(metainfo.infoHash.toUpperCase())?.infoHash).toBe(metainfo.infoHash);
        expect(driver.catalog.list().map((o) => o.infoHash)).toEqual([metainfo.infoHash]);
        expect(events.map(([event]) => event)).toEqual(['object-added']);
        expect((events[0]![1] as { infoHash: string }).infoHash).toBe(metainfo.infoHash);
      }));

    it('gives the metainfo by a call, and undefined for an unknown object, without throwing', () =>
      withDriver(async (driver) => {
        await driver.addObject(metainfo);
        expect(driver.catalog.metainfoOf(metainfo.infoHash)?.pieceHashes.equals(metainfo.pieceHashes)).toBe(true);
        expect(driver.catalog.metainfoOf('0'.repeat(40))).toBeUndefined();
        expect(driver.catalog.metainfoOf('not a hash')).toBeUndefined();
        expect(driver.catalog.get('0'.repeat(40))).toBeUndefined();
      }));

    it('keeps views live: an object read before pieces come and go follows them', () =>
      withDriver(async (driver) => {
        await driver.addObject(metainfo);
        const object = driver.catalog.get(metainfo.infoHash)!;
        const events = record(driver.catalog);
        await driver.addPieces(metainfo, [0, 1, 2, 3, 4]);
        expect([object.piecesHeld, object.complete, object.bitfield.count()]).toEqual([5, true, 5]);
        expect(object.bitfield.toBuffer()).toEqual(Buffer.from([0xf8]));
        await driver.removePieces(metainfo.infoHash, [1, 3]);
        expect([object.bitfield.get(1), object.bitfield.get(2), object.piecesHeld, object.complete]).toEqual([
          false,
          true,
          3,
          false,
        ]);
        const added = events
          .filter(([event]) => event === 'pieces-added')
          .flatMap(([, , indexes]) => indexes as number[]);
        expect(added.sort()).toEqual([0, 1, 2, 3, 4]);
        const removed = events.find(([event]) => event === 'pieces-removed')!;
        expect(removed.slice(1, 3)).toEqual([metainfo.infoHash, [1, 3]]);
      }));

    it('forgets a removed object and says so once', () =>
      withDriver(async (driver) => {
        await driver.addObject(metainfo);
        const events = record(driver.catalog);
        await driver.removeObject(metainfo.infoHash);
        expect(driver.catalog.get(metainfo.infoHash)).toBeUndefined();
        expect(driver.catalog.metainfoOf(metainfo.infoHash)).toBeUndefined();
        expect(driver.catalog.list()).toEqual([]);
        expect(events.map(([event, infoHash]) => [event, infoHash])).toEqual([['object-removed', metainfo.infoHash]]);
      }));
  });
}
