// Shared by the tracker tests: announce queries, bencoded answers, a small in-memory store implementing the
// part of the Store contract the announce client uses, and a clock the tests move by hand.
import { EventEmitter } from 'node:events';
import { buildMetainfo, type Metainfo } from '../../src/metainfo/index.ts';
import type { BitfieldView, StoredObject, StoreEvents } from '../../src/store/types.ts';
import type { Clock } from '../../src/tracker/client/timer-queue.ts';
import { type BencodeDictionary, decodeBencode, isDictionary } from '../../src/tracker/protocol/bencode.ts';
import { percentEncode } from '../../src/tracker/protocol/query.ts';

export function peerId(n: number): Buffer {
  return Buffer.from(`-TT0001-${String(n).padStart(12, '0')}`);
}

/** An announce query with sensible defaults; values may be text or bytes; undefined removes a default. */
export function announceQueryOf(values: Record<string, string | number | Uint8Array | undefined>): string {
  const defaults: Record<string, string | number | Uint8Array | undefined> = {
    info_hash: Buffer.alloc(20, 0xab),
    peer_id: peerId(1),
    port: 6881,
    uploaded: 0,
    downloaded: 0,
    left: 100,
    compact: 1,
  };
  return Object.entries({ ...defaults, ...values })
    .filter((entry): entry is [string, string | number | Uint8Array] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${typeof value === 'number' ? value : percentEncode(value)}`)
    .join('&');
}

export async function getBencoded(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: BencodeDictionary }> {
  const response = await fetch(url, init);
  const bytes = Buffer.from(await response.arrayBuffer());
  const body = decodeBencode(bytes);
  if (!isDictionary(body)) throw new Error(`not a bencoded dictionary: ${bytes.toString('latin1').slice(0, 200)}`);
  return { status: response.status, body };
}

export function text(value: unknown): string | undefined {
  return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
}

/** A live bitfield over a boolean array (what StoredObject.bitfield is to the client). */
export class TestBitfield implements BitfieldView {
  readonly length: number;
  readonly bits: boolean[];

  constructor(length: number, held: (index: number) => boolean = () => false) {
    this.length = length;
    this.bits = Array.from({ length }, (_, i) => held(i));
  }

  get(index: number): boolean {
    return this.bits[index] === true;
  }

  count(): number {
    return this.bits.filter(Boolean).length;
  }

  toBuffer(): Buffer {
    const bytes = Buffer.alloc(Math.ceil(this.length / 8));
    this.bits.forEach((bit, i) => {
      if (bit) bytes[i >> 3]! |= 0x80 >> (i & 7);
    });
    return bytes;
  }
}

export function testMetainfo(options: {
  name?: string;
  pieceCount: number;
  pieceLength?: number;
  lastPieceLength?: number;
  announceList?: string[][];
}): Metainfo {
  const pieceLength = options.pieceLength ?? 16_384;
  const length = (options.pieceCount - 1) * pieceLength + (options.lastPieceLength ?? pieceLength);
  return buildMetainfo({
    name: options.name ?? `object-${Math.random().toString(36).slice(2)}`,
    pieceLength,
    multiFile: false,
    files: [{ path: [], length }],
    pieceHashes: Buffer.alloc(20 * options.pieceCount, 7),
    announceList: options.announceList,
  });
}

/** The part of the Store contract the announce client uses, in memory. */
export class MemoryObjectStore extends EventEmitter<StoreEvents> {
  readonly objects = new Map<string, StoredObject & { bitfield: TestBitfield }>();

  list(): StoredObject[] {
    return [...this.objects.values()];
  }

  get(infoHash: string): StoredObject | undefined {
    return this.objects.get(infoHash);
  }

  metainfoOf(infoHash: string): Metainfo | undefined {
    return this.objects.get(infoHash)?.metainfo;
  }

  add(metainfo: Metainfo, held: (index: number) => boolean = () => true, announce = true): StoredObject {
    const bitfield = new TestBitfield(metainfo.pieceCount, held);
    const object = {
      infoHash: metainfo.infoHash,
      name: metainfo.name,
      length: metainfo.length,
      pieceLength: metainfo.pieceLength,
      pieceCount: metainfo.pieceCount,
      metainfo,
      bitfield,
      piecesHeld: bitfield.count(),
      complete: bitfield.count() === metainfo.pieceCount,
      addedAt: Date.now(),
      expiresAt: null,
      source: null,
    };
    this.objects.set(metainfo.infoHash, object);
    if (announce) this.emit('object-added', object);
    return object;
  }

  setPieces(infoHash: string, indexes: number[], held: boolean): void {
    const object = this.objects.get(infoHash)!;
    for (const index of indexes) object.bitfield.bits[index] = held;
    if (held) this.emit('pieces-added', infoHash, indexes);
    else this.emit('pieces-removed', infoHash, indexes, 'purge');
  }

  remove(infoHash: string): void {
    this.objects.delete(infoHash);
    this.emit('object-removed', infoHash, 'purge');
  }
}

/** A clock the test moves; pending promises get to run after every timer. */
export class ManualClock implements Clock {
  time = 1_700_000_000_000;
  #timers: Array<{ at: number; callback: () => void; id: number }> = [];
  #nextId = 1;

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const id = this.#nextId++;
    this.#timers.push({ at: this.time + Math.max(0, delayMs), callback, id });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  /** Runs every timer due within `ms`, in order, letting promise chains settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.#timers[0];
      if (next === undefined || next.at > end) break;
      this.#timers.shift();
      this.time = Math.max(this.time, next.at);
      next.callback();
    }
    this.time = end;
    await settle();
  }
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
