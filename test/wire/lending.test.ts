// The wire server over the serving threads' shared slab, which lends blocks (views of its memory, pinned
// until the socket wrote them) instead of copying whole pieces: every byte right while a two-slot slab
// churns under several peers, and every block given back (no slot left pinned once the peers are done).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createPieceSlab,
  createSharedPieceCache,
  openStore,
  type PieceCache,
  type StagingStore,
  type Store,
} from '../../src/store/index.ts';
import { createPeerWireServer, type PeerWireServer } from '../../src/wire/index.ts';
import { makeObject, sha1Verify, tempFolder } from '../store/helpers.ts';
import { connectPeer, requestBlock, type TestPeer, waitFor } from './helpers.ts';

const PIECE = 32 * 1024;
const BLOCK = 16 * 1024;
const PIECES = 6;
const object = makeObject({ name: 'lent.bin', pieceLength: PIECE, fileLengths: [PIECE * PIECES], single: true });
const other = makeObject({ name: 'other.bin', pieceLength: PIECE, fileLengths: [PIECE * 2], single: true });

let removeFolder: () => Promise<void>;
let store: Store & StagingStore;
let cache: PieceCache;
let server: PeerWireServer;
let port: number;

beforeEach(async () => {
  let dataDir: string;
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
  store = await openStore(dataDir, { mode: 'write' });
  for (const held of [object, other]) {
    await store.addObject(held.metainfo);
    for (let index = 0; index < held.metainfo.pieceCount; index++) {
      await store.writePiece(held.metainfo.infoHash, index, held.piece(index));
    }
  }
  // Two slots for six pieces: pieces come and go while blocks of them are out.
  cache = createSharedPieceCache(store, {
    slab: createPieceSlab({ maxBytes: 2 * PIECE, slotBytes: PIECE }),
    verify: sha1Verify,
  });
  server = createPeerWireServer({ store, cache, port: 0, host: '127.0.0.1' });
  ({ port } = await server.listen());
});

afterEach(async () => {
  await server.close(0);
  await store.close();
  await removeFolder();
});

async function unchokedPeer(): Promise<TestPeer> {
  const p = await connectPeer(port, object.metainfo.infoHash);
  await waitFor(p.wire, 'have-all');
  const unchoke = waitFor(p.wire, 'unchoke');
  p.wire.interested();
  await unchoke;
  return p;
}

describe('peer wire over a lending cache (the serving threads slab)', () => {
  it('sends every block right while the slab churns, and gives every lent block back', async () => {
    const peers = await Promise.all([unchokedPeer(), unchokedPeer(), unchokedPeer()]);
    try {
      await Promise.all(
        peers.map(async (p, offset) => {
          for (let round = 0; round < 3; round++) {
            for (let step = 0; step < PIECES; step++) {
              const index = (step + offset * 2) % PIECES;
              const blocks = await Promise.all([
                requestBlock(p.wire, index, 0, BLOCK),
                requestBlock(p.wire, index, BLOCK, BLOCK),
              ]);
              expect(Buffer.concat(blocks).equals(object.piece(index))).toBe(true);
            }
          }
        }),
      );
      // Blocks were lent from the slab (hits), not only read whole from disk.
      expect(cache.stats().hits).toBeGreaterThan(0);
    } finally {
      for (const p of peers) p.close();
    }
    await Promise.all(
      peers.map((p) => new Promise((resolve) => (p.socket.closed ? resolve(null) : p.socket.once('close', resolve)))),
    );
    // No slot stays pinned: both take the other object's pieces.
    for (let index = 0; index < 2; index++) await cache.getPiece(other.metainfo.infoHash, index);
    expect(cache.holds!(other.metainfo.infoHash, 0)).toBe(true);
    expect(cache.holds!(other.metainfo.infoHash, 1)).toBe(true);
  });
});
