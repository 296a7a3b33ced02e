// In-memory Store and PieceCache (the wire server sees only their interfaces), and a test peer: the
// bittorrent-protocol Wire over a real loopback socket to the server under test.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { connect, type Socket } from 'node:net';
import Wire from 'bittorrent-protocol';
import { CorruptPieceError, NotFoundError } from '../../src/errors/index.ts';
import { buildMetainfo, type Metainfo } from '../../src/metainfo/index.ts';
import type { BitfieldView, RemovalReason, StoredObject, StoreEvents } from '../../src/store/types.ts';
import type { WirePieceCache, WireStore } from '../../src/wire/index.ts';

export class MemoryBitfield implements BitfieldView {
  readonly length: number;
  readonly bytes: Uint8Array;
  constructor(length: number) {
    this.length = length;
    this.bytes = new Uint8Array(Math.ceil(length / 8));
  }
  get(i: number): boolean {
    return i >= 0 && i < this.length && (this.bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0;
  }
  set(i: number, value: boolean): void {
    if (value) this.bytes[i >> 3]! |= 0x80 >> (i & 7);
    else this.bytes[i >> 3]! &= ~(0x80 >> (i & 7));
  }
  count(): number {
    let n = 0;
    for (let i = 0; i < this.length; i++) if (this.get(i)) n++;
    return n;
  }
  toBuffer(): Buffer {
    return Buffer.from(this.bytes);
  }
}

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

export class MemoryStore extends EventEmitter<StoreEvents> implements WireStore {
  readonly objects = new Map<string, { stored: StoredObject; bitfield: MemoryBitfield; test: TestObject }>();

  add(test: TestObject, held: number[] | 'all' = 'all'): StoredObject {
    const bitfield = new MemoryBitfield(test.metainfo.pieceCount);
    const indexes = held === 'all' ? [...Array(test.metainfo.pieceCount).keys()] : held;
    for (const i of indexes) bitfield.set(i, true);
    const stored: StoredObject = {
      infoHash: test.infoHash,
      name: test.metainfo.name,
      length: test.metainfo.length,
      metainfo: test.metainfo,
      bitfield,
      get piecesHeld() {
        return bitfield.count();
      },
      get complete() {
        return bitfield.count() === bitfield.length;
      },
      addedAt: Date.now(),
      expiresAt: null,
      source: null,
    };
    this.objects.set(test.infoHash, { stored, bitfield, test });
    this.emit('object-added', stored);
    return stored;
  }

  list(): StoredObject[] {
    return [...this.objects.values()].map((entry) => entry.stored);
  }

  get(infoHash: string): StoredObject | undefined {
    return this.objects.get(infoHash.toLowerCase())?.stored;
  }

  metainfoOf(infoHash: string): Metainfo | undefined {
    return this.get(infoHash)?.metainfo;
  }

  addPieces(infoHash: string, indexes: number[]): void {
    const entry = this.objects.get(infoHash)!;
    for (const i of indexes) entry.bitfield.set(i, true);
    this.emit('pieces-added', infoHash, indexes);
  }

  removePieces(infoHash: string, indexes: number[], reason: RemovalReason): void {
    const entry = this.objects.get(infoHash)!;
    for (const i of indexes) entry.bitfield.set(i, false);
    this.emit('pieces-removed', infoHash, indexes, reason);
  }

  removeObject(infoHash: string): void {
    this.objects.delete(infoHash);
    this.emit('object-removed', infoHash, 'purge');
  }
}

/** Reads from the test objects' content; `corrupt` pieces fail verification like the real cache's. */
export class MemoryCache implements WirePieceCache {
  readonly store: MemoryStore;
  readonly corrupt = new Set<string>();
  reads = 0;
  /** When set, getPiece waits for this before answering (to hold reads in flight). */
  gate: Promise<void> | null = null;

  constructor(store: MemoryStore) {
    this.store = store;
  }

  async getPiece(infoHash: string, pieceIndex: number): Promise<Buffer> {
    this.reads++;
    if (this.gate !== null) await this.gate;
    const entry = this.store.objects.get(infoHash);
    if (entry === undefined || !entry.bitfield.get(pieceIndex)) {
      throw new NotFoundError(`piece ${pieceIndex} of ${infoHash} is not held`);
    }
    const bytes = Buffer.from(pieceBytes(entry.test, pieceIndex));
    if (this.corrupt.has(`${infoHash}:${pieceIndex}`)) {
      bytes[0]! ^= 0xff;
      this.store.removePieces(infoHash, [pieceIndex], 'corrupt');
      throw new CorruptPieceError(`piece ${pieceIndex} of ${infoHash} does not match its hash`);
    }
    return bytes;
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
