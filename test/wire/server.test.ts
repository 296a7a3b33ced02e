import { once } from 'node:events';
import type { Socket } from 'node:net';
import bencode from 'bencode';
import Wire from 'bittorrent-protocol';
import utMetadata from 'ut_metadata';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log/index.ts';
import { createPeerWireServer, type MseMode, type PeerWireLimits, type PeerWireServer } from '../../src/wire/index.ts';
import { TOP_UP_WINDOW_MS, TopUpLedger } from '../../src/wire/top-up.ts';
import {
  closed,
  connectPeer,
  GatedCache,
  handshakeBytes,
  hold,
  holdPieces,
  MemoryStore,
  makeObject,
  message,
  pieceBytes,
  pieceCacheOf,
  rawConnect,
  requestBlock,
  type TestObject,
  type TestPeer,
  waitFor,
} from './helpers.ts';

const PIECE = 32 * 1024;
const BLOCK = 16 * 1024;

interface LogLine {
  level: string;
  obj: object;
  msg: string;
}

interface Harness {
  server: PeerWireServer;
  port: number;
  store: MemoryStore;
  cache: GatedCache;
  logs: LogLine[];
  /** Piece bytes sent per object, as told to onUploaded. */
  uploaded: Map<string, number>;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(
  limits: Partial<PeerWireLimits> = {},
  store = new MemoryStore(),
  mse?: MseMode,
  topUpBytesPerSecond?: number,
  topUpLedger?: TopUpLedger,
): Promise<Harness> {
  const cache = new GatedCache(store);
  const logs: LogLine[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => logs.push({ level: 'error', obj, msg }),
  };
  const uploaded = new Map<string, number>();
  const onUploaded = (infoHash: string, bytes: number) => uploaded.set(infoHash, (uploaded.get(infoHash) ?? 0) + bytes);
  const host = ['127.0.0.1', '::1'];
  const server = createPeerWireServer({
    store,
    cache,
    port: 0,
    host,
    logger,
    limits,
    onUploaded,
    ...(mse ? { mse } : {}),
    ...(topUpBytesPerSecond ? { topUpBytesPerSecond } : {}),
    ...(topUpLedger ? { topUpLedger } : {}),
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close(0));
  return { server, port, store, cache, logs, uploaded };
}

async function peer(port: number, infoHash: string, options: Parameters<typeof connectPeer>[2] = {}) {
  const p = await connectPeer(port, infoHash, options);
  cleanups.push(() => p.close());
  return p;
}

/** Downloads every block of every piece in `pieces` and returns the pieces' bytes. */
async function download(p: TestPeer, object: TestObject, pieces: number[]): Promise<Buffer[]> {
  return Promise.all(
    pieces.map(async (index) => {
      const size = Math.min(PIECE, object.content.length - index * PIECE);
      const blocks: Promise<Buffer>[] = [];
      for (let begin = 0; begin < size; begin += BLOCK) {
        blocks.push(requestBlock(p.wire, index, begin, Math.min(BLOCK, size - begin)));
      }
      return Buffer.concat(await Promise.all(blocks));
    }),
  );
}

async function unchoked(p: TestPeer): Promise<void> {
  const unchoke = waitFor(p.wire, 'unchoke');
  p.wire.interested();
  await unchoke;
}

describe('peer wire server: serving', () => {
  it('sends have-all to a fast peer with its extended handshake, and serves every piece byte for byte', async () => {
    const h = await startServer();
    const object = makeObject('full.bin', 5 * PIECE + 1000, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash);
    const haveAll = waitFor(p.wire, 'have-all');
    const [, handshake] = await waitFor<[string, Record<string, unknown>]>(
      p.wire,
      'extended',
      (k) => k === 'handshake',
    );
    await haveAll;
    expect(handshake.metadata_size).toBe(object.metainfo.info.length);
    expect(handshake.reqq).toBe(2000);
    expect(handshake.upload_only).toBe(1);
    expect(new TextDecoder().decode(handshake.v as Uint8Array)).toBe('edgepeer');
    expect(Object.keys(handshake.m as object).sort()).toEqual(['lt_donthave', 'ut_metadata']);

    await unchoked(p);
    const pieces = await download(p, object, [0, 1, 2, 3, 4, 5]);
    expect(Buffer.concat(pieces).equals(object.content)).toBe(true);
    expect(h.server.stats()).toMatchObject({ uploadedBytes: object.content.length, connections: 1, unchoked: 1 });
    expect(h.uploaded).toEqual(new Map([[object.infoHash, object.content.length]]));
    expect(h.server.peers()[0]).toMatchObject({ infoHash: object.infoHash, fast: true, choked: false });
  });

  it("tells the peer's own pieces (for the dashboard): none, its bitfield, then each have", async () => {
    const h = await startServer();
    const object = makeObject('peer-pieces.bin', 10 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash, { fast: false });
    await waitFor(p.wire, 'bitfield');
    const theirs = async (held: number) => {
      while (h.server.peers()[0]?.piecesHeld !== held) await new Promise((resolve) => setImmediate(resolve));
    };
    expect(h.server.peers()[0]).toMatchObject({ piecesHeld: 0, pieceCount: 10 });
    p.wire.bitfield(Buffer.from([0b1100_0000, 0b0100_0000])); // pieces 0, 1 and 9
    await theirs(3);
    p.wire.have(5);
    await theirs(4);
    p.wire.have(9); // held already: still 4
    p.wire.have(2);
    await theirs(5);
  });

  it('serves a peer without the fast extension, announcing pieces with a bitfield', async () => {
    const h = await startServer();
    const object = makeObject('plain.bin', 3 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash, { fast: false });
    const [bitfield] = await waitFor<[{ get(i: number): boolean }]>(p.wire, 'bitfield');
    expect([0, 1, 2, 3].map((i) => bitfield.get(i))).toEqual([true, true, true, false]);
    await unchoked(p);
    const pieces = await download(p, object, [2]);
    expect(pieces[0]!.equals(pieceBytes(object, 2))).toBe(true);
  });

  it('advertises exactly the pieces held and rejects requests for the others', async () => {
    const h = await startServer({ allowedFastSetSize: 0 });
    const object = makeObject('partial.bin', 10 * PIECE, PIECE);
    await hold(h.store, object, [1, 4, 9]);
    const p = await peer(h.port, object.infoHash);
    const [bitfield] = await waitFor<[{ get(i: number): boolean }]>(p.wire, 'bitfield');
    expect([...Array(10).keys()].filter((i) => bitfield.get(i))).toEqual([1, 4, 9]);
    await unchoked(p);
    await expect(requestBlock(p.wire, 2, 0, BLOCK)).rejects.toThrow(/rejected/);
    const [piece] = await download(p, object, [4]);
    expect(piece!.equals(pieceBytes(object, 4))).toBe(true);
    expect(h.server.stats().requestsRejected).toBe(1);
  });

  it('sends have-none for an object with no pieces yet, then have as pieces arrive', async () => {
    const h = await startServer();
    const object = makeObject('growing.bin', 4 * PIECE, PIECE);
    await hold(h.store, object, []);
    const p = await peer(h.port, object.infoHash);
    await waitFor(p.wire, 'have-none');
    const have = waitFor<[number]>(p.wire, 'have', (i) => i === 3);
    await holdPieces(h.store, object, [3]);
    await have;
    await unchoked(p);
    const [piece] = await download(p, object, [3]);
    expect(piece!.equals(pieceBytes(object, 3))).toBe(true);
  });

  it('drops a handshake for an info hash it does not hold, and keeps serving others', async () => {
    const h = await startServer();
    const object = makeObject('known.bin', PIECE, PIECE);
    await hold(h.store, object);
    const stranger = await peer(h.port, 'ab'.repeat(20));
    await closed(stranger.socket);
    const p = await peer(h.port, object.infoHash);
    await waitFor(p.wire, 'have-all');
  });

  it('closes peers that want nothing from it: upload-only (BEP 21) or holding every piece', async () => {
    const h = await startServer();
    const object = makeObject('seeds.bin', PIECE, PIECE);
    await hold(h.store, object);
    const uploadOnly = await connectPeer(h.port, object.infoHash, { extendedHandshake: { upload_only: 1 } });
    cleanups.push(() => uploadOnly.close());
    await closed(uploadOnly.socket);
    const seed = await peer(h.port, object.infoHash);
    await waitFor(seed.wire, 'have-all');
    seed.wire.haveAll();
    await closed(seed.socket);
    const leecher = await peer(h.port, object.infoHash, { extendedHandshake: { upload_only: 0 } });
    await waitFor(leecher.wire, 'have-all');
    expect(h.server.stats().connections).toBe(1);
  });

  it('accepts IPv6 connections', async () => {
    const h = await startServer();
    const object = makeObject('six.bin', PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash, { host: '::1' });
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    const [piece] = await download(p, object, [0]);
    expect(piece!.equals(pieceBytes(object, 0))).toBe(true);
  });
});

describe('peer wire server: lifecycle', () => {
  it('close() ends every connection and stops listening; listen() reports the addresses', async () => {
    const store = new MemoryStore();
    const object = makeObject('bye.bin', PIECE, PIECE);
    await hold(store, object);
    const cache = pieceCacheOf(store);
    const listeners = store.listenerCount('pieces-added');
    const server = createPeerWireServer({ store, cache, port: 0, host: '127.0.0.1' });
    const { port, addresses } = await server.listen();
    expect(addresses).toEqual([`127.0.0.1:${port}`]);
    const p = await connectPeer(port, object.infoHash);
    cleanups.push(() => p.close());
    await waitFor(p.wire, 'have-all');
    await Promise.all([server.close(500), closed(p.socket)]);
    expect(server.stats().connections).toBe(0);
    await expect(rawConnect(port)).rejects.toThrow(/ECONNREFUSED/);
    expect(store.listenerCount('pieces-added')).toBe(listeners);
  });

  it('fails listen() with EDGEPEER_ADDRESS_IN_USE naming the address when the port is taken', async () => {
    const h = await startServer();
    const other = createPeerWireServer({ store: h.store, cache: h.cache, port: h.port, host: '127.0.0.1' });
    await expect(other.listen()).rejects.toMatchObject({
      code: 'EDGEPEER_ADDRESS_IN_USE',
      message: /^peer wire: cannot listen on 127\.0\.0\.1:\d+: the address is already in use/,
    });
  });
});

describe('peer wire server: pieces leaving the store', () => {
  it('tells a peer with lt_donthave which pieces are gone and rejects their queued requests', async () => {
    const h = await startServer();
    const object = makeObject('purged.bin', 4 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash, { extensions: ['lt_donthave'] });
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    const donthave = waitFor<[string, Uint8Array]>(p.wire, 'extended', (k) => k === 'lt_donthave');
    await h.store.removePieces(object.infoHash, [2], 'purge');
    const [, payload] = await donthave;
    expect(Buffer.from(payload).readUInt32BE(0)).toBe(2);
    await expect(requestBlock(p.wire, 2, 0, BLOCK)).rejects.toThrow(/rejected/);
  });

  it('rejects the blocks of a piece purged while the peer is downloading it, and goes on with the others', async () => {
    const h = await startServer({ allowedFastSetSize: 0 });
    const object = makeObject('in-flight.bin', 4 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash, { extensions: ['lt_donthave'] });
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    // The read of piece 2 is held back: its blocks are queued and it is the piece being fetched for sending.
    let open!: () => void;
    h.cache.gate = new Promise((resolve) => {
      open = resolve;
    });
    const outcome = (index: number, begin: number) =>
      requestBlock(p.wire, index, begin, BLOCK).then(
        (block) => (block.equals(pieceBytes(object, index).subarray(begin, begin + BLOCK)) ? 'served' : 'wrong bytes'),
        () => 'rejected',
      );
    const requests = [outcome(2, 0), outcome(2, BLOCK), outcome(3, 0), outcome(3, BLOCK)];
    // A request past the end, rejected at once: the four before it are queued by then.
    await expect(requestBlock(p.wire, 9, 0, BLOCK)).rejects.toThrow(/rejected/);
    expect(h.cache.asked[0]).toBe(2);
    const donthave = waitFor<[string, Uint8Array]>(p.wire, 'extended', (k) => k === 'lt_donthave');
    await h.store.removePieces(object.infoHash, [2], 'policy');
    expect(Buffer.from((await donthave)[1]).readUInt32BE(0)).toBe(2);
    open();
    expect(await Promise.all(requests)).toEqual(['rejected', 'rejected', 'served', 'served']);
    expect(h.server.stats()).toMatchObject({ connections: 1, uploadedBytes: PIECE });
  });

  it('disconnects a peer that cannot be told (no lt_donthave), so it reconnects to a fresh bitfield', async () => {
    const h = await startServer();
    const object = makeObject('retract.bin', 4 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash);
    await waitFor(p.wire, 'have-all');
    await h.store.removePieces(object.infoHash, [0], 'expired');
    await closed(p.socket);
    const again = await peer(h.port, object.infoHash);
    const [bitfield] = await waitFor<[{ get(i: number): boolean }]>(again.wire, 'bitfield');
    expect([0, 1, 2, 3].map((i) => bitfield.get(i))).toEqual([false, true, true, true]);
  });

  it('closes the peers of an object removed from the store', async () => {
    const h = await startServer();
    const object = makeObject('gone.bin', PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash);
    await waitFor(p.wire, 'have-all');
    await h.store.removeObject(object.infoHash, 'purge');
    await closed(p.socket);
    expect(h.server.stats().connections).toBe(0);
  });

  it('never sends a piece that fails verification: reject, lt_donthave, and a log line', async () => {
    const h = await startServer();
    const object = makeObject('rotten.bin', 4 * PIECE, PIECE);
    await hold(h.store, object, 'all', [1]);
    const p = await peer(h.port, object.infoHash, { extensions: ['lt_donthave'] });
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    const pieces: number[] = [];
    p.wire.on('piece', (index: number) => pieces.push(index));
    const donthave = waitFor<[string, Uint8Array]>(p.wire, 'extended', (k) => k === 'lt_donthave');
    await expect(requestBlock(p.wire, 1, 0, BLOCK)).rejects.toThrow(/rejected/);
    expect(Buffer.from((await donthave)[1]).readUInt32BE(0)).toBe(1);
    await download(p, object, [0]);
    expect(pieces).not.toContain(1);
    expect(h.logs.some((l) => l.level === 'warn' && /verification/.test(l.msg))).toBe(true);
  });
});

describe('peer wire server: limits', () => {
  it('rejects requests beyond maxQueuedRequests (BEP 6)', async () => {
    const h = await startServer({ maxQueuedRequests: 4 });
    const object = makeObject('queue.bin', 8 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash);
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    let open!: () => void;
    h.cache.gate = new Promise((resolve) => {
      open = resolve;
    });
    const requests = [...Array(8).keys()].map((i) =>
      requestBlock(p.wire, i, 0, BLOCK).then(
        () => 'served',
        () => 'rejected',
      ),
    );
    await waitFor(p.wire, 'reject', () => h.server.stats().requestsRejected === 4);
    open();
    expect(await Promise.all(requests)).toEqual([...Array(4).fill('served'), ...Array(4).fill('rejected')]);
  });

  it('reads ahead the next prefetchDepth pieces of the queue while sending the current one', async () => {
    for (const [depth, expected] of [
      [1, [0, 1, 1, 2]],
      [3, [0, 1, 2, 3]],
    ] as const) {
      const h = await startServer({ prefetchDepth: depth });
      const object = makeObject('ahead.bin', 8 * PIECE, PIECE);
      await hold(h.store, object);
      const p = await peer(h.port, object.infoHash);
      await waitFor(p.wire, 'have-all');
      await unchoked(p);
      let open!: () => void;
      h.cache.gate = new Promise((resolve) => {
        open = resolve;
      });
      const served = download(p, object, [0, 1, 2, 3, 4, 5]);
      // A request past the end, rejected at once: every request before it is queued by then.
      await expect(requestBlock(p.wire, 8, 0, BLOCK)).rejects.toThrow(/rejected/);
      open();
      const pieces = await served;
      expect(Buffer.concat(pieces).equals(object.content.subarray(0, 6 * PIECE))).toBe(true);
      // Piece 0 read for sending, then the pieces read ahead before piece 1 is read for sending.
      expect(h.cache.asked.slice(0, 4), `depth ${depth}`).toEqual(expected);
    }
  });

  it('rejects blocks longer than maxBlockLength and ranges past the end of a piece', async () => {
    const h = await startServer({ maxBlockLength: 16 * 1024 });
    const object = makeObject('blocks.bin', 2 * PIECE + 100, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash);
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    await expect(requestBlock(p.wire, 0, 0, 32 * 1024)).rejects.toThrow(/rejected/);
    await expect(requestBlock(p.wire, 0, PIECE - 10, 20)).rejects.toThrow(/rejected/);
    await expect(requestBlock(p.wire, 2, 0, 101)).rejects.toThrow(/rejected/);
    await expect(requestBlock(p.wire, 3, 0, 100)).rejects.toThrow(/rejected/);
    expect((await requestBlock(p.wire, 2, 0, 100)).equals(object.content.subarray(2 * PIECE))).toBe(true);
  });

  it('serves 128 KiB blocks when configured to', async () => {
    const h = await startServer({ maxBlockLength: 128 * 1024 });
    const object = makeObject('big-blocks.bin', 2 * 256 * 1024, 256 * 1024);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash);
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    const block = await requestBlock(p.wire, 1, 128 * 1024, 128 * 1024);
    expect(block.equals(object.content.subarray(384 * 1024))).toBe(true);
  });

  it('refuses connections over maxConnections and maxConnectionsPerIp', async () => {
    const h = await startServer({ maxConnections: 3, maxConnectionsPerIp: 2 });
    const object = makeObject('crowd.bin', PIECE, PIECE);
    await hold(h.store, object);
    const a = await peer(h.port, object.infoHash);
    const b = await peer(h.port, object.infoHash);
    await Promise.all([waitFor(a.wire, 'have-all'), waitFor(b.wire, 'have-all')]);
    const third = await peer(h.port, object.infoHash);
    await closed(third.socket);
    const six = await peer(h.port, object.infoHash, { host: '::1' });
    await waitFor(six.wire, 'have-all');
    const fourth = await peer(h.port, object.infoHash, { host: '::1' });
    await closed(fourth.socket);
    expect(h.server.stats()).toMatchObject({ connections: 3, refused: 2 });
  });

  it('closes a connection that sends no handshake in time', async () => {
    const h = await startServer({ handshakeTimeoutMs: 100 });
    const socket = await rawConnect(h.port);
    cleanups.push(() => socket.destroy());
    await closed(socket);
  });

  it('closes an idle peer and keeps a quiet one alive with keep-alives', async () => {
    const h = await startServer({ idleTimeoutMs: 400, keepAliveIntervalMs: 100 });
    const object = makeObject('idle.bin', PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash);
    await waitFor(p.wire, 'have-all');
    let keepAlives = 0;
    p.socket.on('data', (chunk: Buffer) => {
      if (chunk.length === 4 && chunk.readUInt32BE(0) === 0) keepAlives++;
    });
    await closed(p.socket);
    expect(keepAlives).toBeGreaterThanOrEqual(1);
  });
});

describe('peer wire server: choking', () => {
  it('rotates one upload slot between two interested peers when the quantum is up', async () => {
    const h = await startServer({
      uploadSlots: 1,
      optimisticSlots: 0,
      slotQuantumMs: 100,
      rechokeIntervalMs: 20,
      allowedFastSetSize: 0,
    });
    const object = makeObject('slots.bin', 4 * PIECE, PIECE);
    await hold(h.store, object);
    const a = await peer(h.port, object.infoHash);
    const b = await peer(h.port, object.infoHash);
    await Promise.all([waitFor(a.wire, 'have-all'), waitFor(b.wire, 'have-all')]);
    await unchoked(a);
    b.wire.interested();
    // While b waits, its requests are rejected.
    await expect(requestBlock(b.wire, 0, 0, BLOCK)).rejects.toThrow(/choking|rejected/);
    const aChoked = waitFor(a.wire, 'choke');
    await waitFor(b.wire, 'unchoke');
    await aChoked;
    const [piece] = await download(b, object, [1]);
    expect(piece!.equals(pieceBytes(object, 1))).toBe(true);
    expect(h.server.stats().slotRotations).toBeGreaterThanOrEqual(1);
  });

  it('gives a freed slot to the waiting peer at once', async () => {
    const h = await startServer({ uploadSlots: 1, optimisticSlots: 0, slotQuantumMs: 3_600_000 });
    const object = makeObject('freed.bin', PIECE, PIECE);
    await hold(h.store, object);
    const a = await peer(h.port, object.infoHash);
    const b = await peer(h.port, object.infoHash);
    await Promise.all([waitFor(a.wire, 'have-all'), waitFor(b.wire, 'have-all')]);
    await unchoked(a);
    const bUnchoked = waitFor(b.wire, 'unchoke');
    b.wire.interested();
    a.close();
    await bUnchoked;
  });

  it('serves allowed-fast pieces to a choked peer (BEP 6)', async () => {
    const h = await startServer({ uploadSlots: 1, optimisticSlots: 0, allowedFastSetSize: 3 });
    const object = makeObject('fast-set.bin', 20 * PIECE, PIECE);
    await hold(h.store, object);
    const allowed: number[] = [];
    const p = await peer(h.port, object.infoHash);
    p.wire.on('allowed-fast', (i: number) => allowed.push(i));
    await waitFor(p.wire, 'allowed-fast', () => allowed.length === 3);
    expect(p.wire.peerChoking).toBe(true);
    const [piece] = await download(p, object, [allowed[0]!]);
    expect(piece!.equals(pieceBytes(object, allowed[0]!))).toBe(true);
  });
});

describe('peer wire server: metadata (BEP 9)', () => {
  it('hands the info dictionary to a magnet-link client (the ut_metadata package)', async () => {
    const h = await startServer();
    const object = makeObject('magnet.bin', 40 * PIECE, PIECE);
    await hold(h.store, object);
    const socket = (await rawConnect(h.port)) as Socket;
    cleanups.push(() => socket.destroy());
    const wire = new Wire() as Wire & {
      ut_metadata: { fetch(): void; on(e: string, f: (m: Uint8Array) => void): void };
    };
    wire.use(utMetadata());
    socket.pipe(wire as unknown as NodeJS.WritableStream);
    (wire as unknown as NodeJS.ReadableStream).pipe(socket);
    wire.handshake(object.infoHash, Buffer.alloc(20, 7), { fast: true });
    wire.ut_metadata.fetch();
    const [torrent] = await waitFor<[Uint8Array]>(wire.ut_metadata as never, 'metadata');
    const info = bencode.encode((bencode.decode(torrent) as Record<string, unknown>).info);
    expect(Buffer.from(info).equals(object.metainfo.info)).toBe(true);
    expect(h.server.stats().metadataPiecesSent).toBeGreaterThanOrEqual(1);
  });
});

describe('peer wire server: malformed input closes that connection only', () => {
  async function openRaw(h: Harness, object: TestObject): Promise<Socket> {
    const socket = await rawConnect(h.port);
    cleanups.push(() => socket.destroy());
    socket.write(handshakeBytes(object.infoHash));
    await once(socket, 'data');
    return socket;
  }

  const cases: [string, (object: TestObject) => Buffer][] = [
    ['a 4 GiB length prefix', () => Buffer.from([0xff, 0xff, 0xff, 0xff, 6])],
    ['a request of the wrong length', () => message(6, 0, 0)],
    ['a have with trailing bytes', () => message(4, 0, 0)],
    ['a bitfield of the wrong size', () => message(5, Buffer.alloc(9))],
    ['a ut_metadata request that is not bencoded', () => message(20, Buffer.from([1]), Buffer.from('garbage'))],
    ['an empty extended message', () => message(20)],
  ];
  for (const [what, bytes] of cases) {
    it(`closes on ${what}, with a log line`, async () => {
      const h = await startServer();
      const object = makeObject('strict.bin', 4 * PIECE, PIECE);
      await hold(h.store, object);
      const bystander = await peer(h.port, object.infoHash);
      await waitFor(bystander.wire, 'have-all');
      const socket = await openRaw(h, object);
      socket.write(bytes(object));
      await closed(socket);
      expect(h.logs.filter((l) => l.level === 'warn' && /malformed/.test(l.msg))).toHaveLength(1);
      expect(h.server.stats().protocolErrors).toBe(1);
      await unchoked(bystander);
      const [piece] = await download(bystander, object, [0]);
      expect(piece!.equals(pieceBytes(object, 0))).toBe(true);
    });
  }

  it('closes on a fast-extension message from a peer that did not negotiate it', async () => {
    const h = await startServer();
    const object = makeObject('nofast.bin', PIECE, PIECE);
    await hold(h.store, object);
    const socket = await rawConnect(h.port);
    cleanups.push(() => socket.destroy());
    socket.write(handshakeBytes(object.infoHash, { fast: false }));
    await once(socket, 'data');
    socket.write(message(14));
    await closed(socket);
    expect(h.server.stats().protocolErrors).toBe(1);
  });

  it('closes on something that is not a plaintext BitTorrent handshake, counted apart and not warned about', async () => {
    const h = await startServer({}, new MemoryStore(), 'off');
    const socket = await rawConnect(h.port);
    cleanups.push(() => socket.destroy());
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed(socket);
    expect(h.server.stats()).toMatchObject({ notBitTorrent: 1, protocolErrors: 0 });
    expect(h.logs.filter((l) => l.level === 'warn')).toEqual([]);
  });
});

describe('peer wire server: encrypted handshakes (MSE)', () => {
  /** A bittorrent-protocol client that starts with an encrypted handshake offering `peEnabled` methods. */
  async function encryptedPeer(port: number, infoHash: string, peEnabled: 1 | 2) {
    const socket = await rawConnect(port);
    cleanups.push(() => socket.destroy());
    const wire = new Wire('tcpOutgoing', peEnabled);
    socket.pipe(wire as unknown as NodeJS.WritableStream);
    (wire as unknown as NodeJS.ReadableStream).pipe(socket);
    wire.once('crypto-handshake', () => wire.handshake(infoHash, Buffer.alloc(20, 3), { fast: true }));
    (wire as unknown as { startEncryption(h: string): void }).startEncryption(infoHash);
    return { wire, socket, close: () => socket.destroy() } as TestPeer;
  }

  it('accepts an encrypted handshake and goes on in plaintext when the peer offers it', async () => {
    const h = await startServer();
    const object = makeObject('mse.bin', 4 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await encryptedPeer(h.port, object.infoHash, 1);
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    const [piece] = await download(p, object, [2]);
    expect(piece!.equals(pieceBytes(object, 2))).toBe(true);
    expect(h.server.stats()).toMatchObject({ encryptedHandshakes: 1, protocolErrors: 0 });
  });

  it('serves a peer offering only RC4 (Transmission by default) through RC4 with the default settings', async () => {
    const h = await startServer();
    const object = makeObject('transmission.bin', 4 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await encryptedPeer(h.port, object.infoHash, 2);
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    const [piece] = await download(p, object, [3]);
    expect(piece!.equals(pieceBytes(object, 3))).toBe(true);
    expect(h.server.stats()).toMatchObject({ encryptedHandshakes: 1, rc4Refused: 0 });
  });

  it("closes a peer offering only RC4 with mse 'plaintext', and serves it with 'rc4'", async () => {
    const object = makeObject('rc4.bin', 4 * PIECE, PIECE);
    const strict = await startServer({}, new MemoryStore(), 'plaintext');
    await hold(strict.store, object);
    const refused = await encryptedPeer(strict.port, object.infoHash, 2);
    await closed(refused.socket);
    expect(strict.server.stats()).toMatchObject({ rc4Refused: 1, connections: 0 });

    const lenient = await startServer({}, new MemoryStore(), 'rc4');
    await hold(lenient.store, object);
    const p = await encryptedPeer(lenient.port, object.infoHash, 2);
    await waitFor(p.wire, 'have-all');
    await unchoked(p);
    const [piece] = await download(p, object, [1]);
    expect(piece!.equals(pieceBytes(object, 1))).toBe(true);
  });

  it('closes an encrypted handshake for an object it does not hold', async () => {
    const h = await startServer();
    await hold(h.store, makeObject('held.bin', PIECE, PIECE));
    const p = await encryptedPeer(h.port, 'cd'.repeat(20), 1);
    await closed(p.socket);
    expect(h.server.stats()).toMatchObject({ encryptedHandshakes: 0, connections: 0 });
  });

  it("closes an encrypted handshake at once with mse 'off'", async () => {
    const h = await startServer({}, new MemoryStore(), 'off');
    const object = makeObject('nomse.bin', PIECE, PIECE);
    await hold(h.store, object);
    const p = await encryptedPeer(h.port, object.infoHash, 1);
    await closed(p.socket);
    expect(h.server.stats().notBitTorrent).toBe(1);
  });
});

describe('peer wire server: back-pressure', () => {
  it('keeps at most sendBufferBytes queued for a peer that stops reading, then finishes when it reads', async () => {
    const blockLength = 128 * 1024;
    const sendBufferBytes = 256 * 1024;
    const h = await startServer({ maxBlockLength: blockLength, maxQueuedRequests: 1000, sendBufferBytes });
    const object = makeObject('slow-reader.bin', 64 * 1024 * 1024, 1024 * 1024);
    await hold(h.store, object);
    const socket = await rawConnect(h.port);
    cleanups.push(() => socket.destroy());
    socket.write(handshakeBytes(object.infoHash));
    await once(socket, 'data');
    socket.pause();
    const requests: Buffer[] = [message(2)];
    const blocks = object.content.length / blockLength;
    for (let i = 0; i < blocks; i++) requests.push(message(6, Math.floor(i / 8), (i % 8) * blockLength, blockLength));
    socket.write(Buffer.concat(requests));
    // The kernel's buffers fill first; then the server must stop at its own budget.
    await until(() => h.server.stats().sendQueueBytes > 0);
    await until(() => h.server.stats().requestsReceived === blocks);
    const stalled = h.server.stats();
    expect(stalled.sendQueueBytes).toBeLessThanOrEqual(sendBufferBytes + blockLength + 13);
    expect(stalled.blocksSent).toBeLessThan(blocks);
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.resume();
    await until(() => h.server.stats().blocksSent === blocks);
    await until(() => received >= blocks * (blockLength + 13));
  });
});

/** Resolves once `condition` holds, checking on every turn of the event loop; rejects after `ms`. */
async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('peer wire server: top-up (storageControl.topUpRate)', () => {
  it('pauses sending to a leecher whose HAVEs show other peers give it the rate, and sends once they stop', async () => {
    const h = await startServer({ allowedFastSetSize: 0 }, new MemoryStore(), undefined, 64 * 1024);
    const object = makeObject('topup.bin', 16 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash);
    await unchoked(p);
    // Nothing from others yet: served.
    const [first] = await download(p, object, [0]);
    expect(first!.equals(pieceBytes(object, 0))).toBe(true);
    // The leecher announces 8 pieces (256 KiB) it got elsewhere: 112 KiB/s from others, above 64 KiB/s.
    // TCP keeps order: the server reads these HAVEs before the request.
    for (let i = 8; i < 16; i++) p.wire.have(i);
    const asked = Date.now();
    const [block] = await download(p, object, [1]);
    // Not refused: held until those HAVEs left the 2 s window, then sent, intact, on the same connection.
    expect(block!.equals(pieceBytes(object, 1))).toBe(true);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(TOP_UP_WINDOW_MS - 500);
    expect(h.server.stats()).toMatchObject({ requestsRejected: 0, connections: 1, uploadedBytes: 2 * PIECE });
    expect(h.server.stats().topUpPauses).toBeGreaterThan(0);
  });

  it("counts what HTTP sent the same address (a web seed) before the leecher's HAVEs show it", async () => {
    const ledger = new TopUpLedger(64 * 1024);
    const h = await startServer({ allowedFastSetSize: 0 }, new MemoryStore(), undefined, 64 * 1024, ledger);
    const object = makeObject('topup-http.bin', 16 * PIECE, PIECE);
    await hold(h.store, object);
    const p = await peer(h.port, object.infoHash);
    await unchoked(p);
    // HTTP sent this address the window's whole allowance (128 KiB in 2 s at 64 KiB/s); no HAVE shows it yet.
    ledger.sent('127.0.0.1', object.infoHash, 2 * 64 * 1024, true);
    const asked = Date.now();
    const [block] = await download(p, object, [0]);
    expect(block!.equals(pieceBytes(object, 0))).toBe(true);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(TOP_UP_WINDOW_MS - 500);
    expect(h.server.stats()).toMatchObject({ requestsRejected: 0, uploadedBytes: PIECE });
    expect(h.server.stats().topUpPauses).toBeGreaterThan(0);
  });
});
