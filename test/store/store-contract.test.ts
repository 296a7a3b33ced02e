// The catalog and store contracts, run against every Store under src/store: the disk store (written and
// followed by a reader) and the memory store.
import { MemoryStore, openStore } from '../../src/store/index.ts';
import { catalogContract } from './catalog-contract.ts';
import { tempFolder } from './helpers.ts';
import { storeContract } from './store-contract.ts';

async function diskStore() {
  const dir = await tempFolder();
  const store = await openStore(dir.path, { mode: 'write' });
  return {
    store,
    close: async () => {
      await store.close();
      await dir.remove();
    },
  };
}

async function memoryStore() {
  const store = new MemoryStore();
  return { store, close: () => store.close() };
}

for (const [name, open] of [
  ['disk store', diskStore],
  ['memory store', memoryStore],
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
