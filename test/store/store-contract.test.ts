// The catalog and store contracts, run against every Store under src/store: the disk store and the memory
// store.
import { catalogContract } from './catalog-contract.ts';
import { openDiskStore, openMemoryStore } from './helpers.ts';
import { storeContract } from './store-contract.ts';

for (const [name, open] of [
  ['disk store', openDiskStore],
  ['memory store', openMemoryStore],
] as const) {
  storeContract(name, open);
  catalogContract(name, async () => {
    const { store, close } = await open();
    return {
      catalog: store,
      addObject: async (metainfo) => void (await store.addObject(metainfo)),
      addPieces: async (metainfo, indexes) => {
        for (const index of indexes) {
          const size = Math.min(metainfo.pieceLength, metainfo.length - index * metainfo.pieceLength);
          await store.writePiece(metainfo.infoHash, index, Buffer.alloc(size));
        }
      },
      removePieces: (infoHash, indexes) => store.removePieces(infoHash, indexes, 'purge'),
      removeObject: (infoHash) => store.removeObject(infoHash, 'purge'),
      close,
    };
  });
}
