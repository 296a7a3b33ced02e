// A damaged metainfo file in the store must cost its object, never the process: a peer's handshake for it
// once threw from a socket handler and took the agent down (issue 12).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPieceCache, openStore, type StagingStore, type Store } from '../../src/store/index.ts';
import { createPeerWireServer, type PeerWireServer } from '../../src/wire/index.ts';
import { connectPeer, makeObject, pieceBytes, waitFor } from './helpers.ts';

describe('peer wire: an object whose metainfo is damaged on disk', () => {
  const good = makeObject('good.bin', 50_000, 16_384);
  const damaged = makeObject('damaged.bin', 50_000, 16_384);
  let dir: string;
  let store: Store & StagingStore;
  let server: PeerWireServer;
  let port: number;
  const damagedEvents: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-wire-damaged-'));
    const writer = await openStore(dir, { mode: 'write' });
    for (const object of [good, damaged]) {
      await writer.addObject(object.metainfo);
      for (let i = 0; i < object.metainfo.pieceCount; i++)
        await writer.writePiece(object.infoHash, i, pieceBytes(object, i));
    }
    await writer.close();
    await writeFile(join(dir, 'objects', damaged.infoHash, 'metainfo.torrent'), 'd4:infoi1ee');
    store = await openStore(dir, { mode: 'write' });
    store.on('object-damaged', (infoHash) => damagedEvents.push(infoHash));
    const cache = createPieceCache(store, {
      maxBytes: 1 << 20,
      verify: async (data, expected) => createHash('sha1').update(data).digest().equals(expected),
    });
    server = createPeerWireServer({ store, cache, port: 0, host: '127.0.0.1' });
    ({ port } = await server.listen());
  });
  afterAll(async () => {
    await server?.close(0);
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('closes that handshake, tells the store once, and keeps serving the other objects', async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const peer = await connectPeer(port, damaged.infoHash);
      await once(peer.socket, 'close');
      peer.close();
    }
    expect(damagedEvents).toEqual([damaged.infoHash]);
    const other = await connectPeer(port, good.infoHash);
    await waitFor(other.wire, 'have-all'); // the whole object, BEP 6
    other.close();
    expect(server.stats()).toMatchObject({ internalErrors: 0 });
  });
});
