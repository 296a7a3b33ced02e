// Shared by the tracker tests: announce queries, bencoded answers, objects in src/store's memory store for
// the announce client to read, and a clock the tests move by hand.
import { buildMetainfo, type Metainfo, pieceSize } from '../../src/metainfo/index.ts';
import { MemoryStore, type StoredObject } from '../../src/store/index.ts';

export { MemoryStore };

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

export function testMetainfo(options: {
  name?: string;
  pieceCount: number;
  pieceLength?: number;
  lastPieceLength?: number;
  announceList?: string[][];
  private?: boolean;
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
    private: options.private,
  });
}

/**
 * Adds `metainfo`'s object to `store` (src/store's memory store) holding the pieces `held` picks (default
 * all), their bytes zeros: the announce client reads bitmaps, never bytes. Added before the client starts,
 * it is there from the start; added after, the client hears of it and its pieces before its first announce.
 */
export async function hold(
  store: MemoryStore,
  metainfo: Metainfo,
  held: (index: number) => boolean = () => true,
): Promise<StoredObject> {
  const object = await store.addObject(metainfo);
  await setPieces(
    store,
    metainfo.infoHash,
    [...Array(metainfo.pieceCount).keys()].filter((index) => held(index)),
    true,
  );
  return object;
}

/** Writes (held) or purges (not held) pieces of an object in `store`. */
export async function setPieces(store: MemoryStore, infoHash: string, indexes: number[], held: boolean) {
  if (!held) return store.removePieces(infoHash, indexes, 'purge');
  const metainfo = store.metainfoOf(infoHash)!;
  for (const index of indexes) await store.writePiece(infoHash, index, Buffer.alloc(pieceSize(metainfo, index)));
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
