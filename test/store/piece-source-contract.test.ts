// The PieceSource contract over every store and every layer the agent composes: the verifying layer under
// each policy, and the caching layer over it (createPieceCache, the agent's stack).
import {
  createPieceCache,
  createPieceSlab,
  createSharedPieceCache,
  removeCorruptPieces,
  VerifyingSource,
} from '../../src/store/index.ts';
import { openDiskStore, openMemoryStore, sha1Verify } from './helpers.ts';
import { pieceSourceContract } from './piece-source-contract.ts';

for (const [storeName, open] of [
  ['disk store', openDiskStore],
  ['memory store', openMemoryStore],
] as const) {
  for (const verifyPolicy of ['checksum', 'every-read', 'first-read'] as const) {
    pieceSourceContract(`verifying (${verifyPolicy}) over the ${storeName}`, open, (store) => {
      return new VerifyingSource(store, { verify: sha1Verify, verifyPolicy, onCorrupt: removeCorruptPieces(store) });
    });
  }
  pieceSourceContract(`caching over verifying over the ${storeName}`, open, (store) =>
    createPieceCache(store, { maxBytes: 1 << 20, verify: sha1Verify }),
  );
  pieceSourceContract(`caching that keeps nothing, over verifying over the ${storeName}`, open, (store) =>
    createPieceCache(store, { maxBytes: 1, verify: sha1Verify }),
  );
  pieceSourceContract(`shared slab caching over verifying over the ${storeName}`, open, (store) =>
    createSharedPieceCache(store, {
      slab: createPieceSlab({ maxBytes: 1 << 20, slotBytes: 16_384 }),
      verify: sha1Verify,
    }),
  );
  pieceSourceContract(`shared slab of two slots over verifying over the ${storeName}`, open, (store) =>
    createSharedPieceCache(store, {
      slab: createPieceSlab({ maxBytes: 32_768, slotBytes: 16_384 }),
      verify: sha1Verify,
    }),
  );
}
