// Test objects in src/store's memory store, read through the real piece cache, and a test peer: the
// bittorrent-protocol Wire over a real loopback socket to the server under test.
import { createHash, randomBytes } from 'node:crypto';
import { type EventEmitter, once } from 'node:events';
import { connect, type Socket } from 'node:net';
import Wire from 'bittorrent-protocol';
import { buildMetainfo, type Metainfo } from '../../src/metainfo/index.ts';
import { createPieceCache, MemoryStore, type PieceCache } from '../../src/store/index.ts';
import type { WirePieceCache } from '../../src/wire/index.ts';

export { MemoryStore };

export interface TestObject {
  metainfo: Metainfo;
  content: Buffer;
  infoHash: string;
}

/** Random content cut into pieces; the last piece shorter unless `length` is a multiple. */
export function makeObject(name: string, length: number, pieceLength: number): TestObject {
  const content = randomBytes(length);
  const hashes: Buffer[] = [];
  for (let at = 0; at < length; at += pieceLength) {
    hashes.push(
      createHash('sha1')
        .update(content.subarray(at, at + pieceLength))
        .digest(),
    );
  }
  const metainfo = buildMetainfo({
    name,
    pieceLength,
    multiFile: false,
    files: [{ path: [], length }],
    pieceHashes: Buffer.concat(hashes),
  });
  return { metainfo, content, infoHash: metainfo.infoHash };
}

export function pieceBytes(object: TestObject, index: number): Buffer {
  const { pieceLength } = object.metainfo;
  return object.content.subarray(index * pieceLength, (index + 1) * pieceLength);
}

/**
 * Puts a test object into `store` holding `held` pieces (default all); pieces in `corrupt` are held with
 * their first byte flipped, as bit rot leaves bytes on a store: the piece cache finds them when read.
 */
export async function hold(
  store: MemoryStore,
  test: TestObject,
  held: number[] | 'all' = 'all',
  corrupt: number[] = [],
): Promise<void> {
  await store.addObject(test.metainfo);
  await holdPieces(store, test, held === 'all' ? [...Array(test.metainfo.pieceCount).keys()] : held, corrupt);
}

/** Writes pieces of a test object held in `store` (corrupted ones too, see hold). */
export async function holdPieces(store: MemoryStore, test: TestObject, indexes: number[], corrupt: number[] = []) {
  for (const index of indexes) {
    const bytes = Buffer.from(pieceBytes(test, index));
    if (corrupt.includes(index)) bytes[0]! ^= 0xff;
    await store.writePiece(test.infoHash, index, bytes);
  }
}

/** The real piece cache over `store`, verifying with SHA-1 on this thread. */
export function pieceCacheOf(store: MemoryStore): PieceCache {
  return createPieceCache(store, {
    maxBytes: 64 * 1024 * 1024,
    verify: async (data, expected) => createHash('sha1').update(data).digest().equals(expected),
  });
}

/** The real cache, with reads that can be held back: `gate` set, getPiece waits for it (reads in flight). */
export class GatedCache implements WirePieceCache {
  readonly cache: PieceCache;
  gate: Promise<void> | null = null;
  /** Pieces asked for, in order (reads for sending and reads ahead). */
  readonly asked: number[] = [];

  constructor(store: MemoryStore) {
    this.cache = pieceCacheOf(store);
  }

  async getPiece(infoHash: string, pieceIndex: number): Promise<Buffer> {
    this.asked.push(pieceIndex);
    if (this.gate !== null) await this.gate;
    return this.cache.getPiece(infoHash, pieceIndex);
  }
}

/** An extension that only advertises a name in the client's extended handshake. */
export function advertise(name: string) {
  const Named = class {
    onMessage(): void {}
  };
  Object.defineProperty(Named.prototype, 'name', { value: name });
  return Named as unknown as { new (wire: Wire): object; prototype: { name: string } };
}

export interface TestPeer {
  wire: Wire;
  socket: Socket;
  close(): void;
}

/** Connects a bittorrent-protocol Wire to 127.0.0.1:port and sends the handshake. */
export async function connectPeer(
  port: number,
  infoHash: string,
  options: { fast?: boolean; extensions?: string[]; host?: string; extendedHandshake?: Record<string, unknown> } = {},
): Promise<TestPeer> {
  const socket = connect({ port, host: options.host ?? '127.0.0.1' });
  await once(socket, 'connect');
  const wire = new Wire();
  for (const name of options.extensions ?? []) wire.use(advertise(name));
  Object.assign(wire.extendedHandshake, options.extendedHandshake ?? {});
  socket.pipe(wire as unknown as NodeJS.WritableStream);
  (wire as unknown as NodeJS.ReadableStream).pipe(socket);
  socket.on('error', () => {});
  wire.handshake(infoHash, randomBytes(20), { dht: false, fast: options.fast ?? true });
  return {
    wire,
    socket,
    close() {
      socket.destroy();
      wire.destroy();
    },
  };
}

/** Resolves when `emitter` emits `event` with arguments passing `accept`; rejects after `ms`. */
export function waitFor<T extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  accept: (...args: T) => boolean = () => true,
  ms = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out waiting for '${event}'`));
    }, ms);
    const listener = (...args: unknown[]): void => {
      if (!accept(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as T);
    };
    emitter.on(event, listener);
  });
}

/** Requests one block and resolves with its bytes (rejects on reject/choke). */
export function requestBlock(wire: Wire, index: number, begin: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    wire.request(index, begin, length, (err, block) => (err ? reject(err) : resolve(Buffer.from(block!))));
  });
}

/** Resolves when the socket closes; rejects after `ms`. */
export function closed(socket: Socket, ms = 5000): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socket did not close')), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Opens a raw TCP connection (for malformed input). */
export async function rawConnect(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

export function handshakeBytes(infoHash: string, options: { fast?: boolean; extended?: boolean } = {}): Buffer {
  const reserved = Buffer.alloc(8);
  if (options.extended ?? true) reserved[5]! |= 0x10;
  if (options.fast ?? true) reserved[7]! |= 0x04;
  return Buffer.concat([
    Buffer.from([19]),
    Buffer.from('BitTorrent protocol'),
    reserved,
    Buffer.from(infoHash, 'hex'),
    randomBytes(20),
  ]);
}

export function message(id: number, ...fields: (number | Uint8Array)[]): Buffer {
  const parts = fields.map((f) => {
    if (typeof f !== 'number') return Buffer.from(f);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(f, 0);
    return b;
  });
  const body = Buffer.concat([Buffer.from([id]), ...parts]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length, 0);
  return Buffer.concat([length, body]);
}
