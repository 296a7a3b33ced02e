// The one cache the wire and HTTP servers read pieces through. Bytes come from disk at most once per
// concurrent demand, are checked against the piece's SHA-1 before anyone sees them, and stay in memory
// within a byte budget. A piece that fails its check on disk is taken out of the store (reason 'corrupt'),
// which tells peers and trackers through the store's events.
import { LRUCache } from 'lru-cache';
import { CorruptPieceError, InvalidArgumentError, NotFoundError, StoreCorruptError } from '../errors/index.ts';
import { pieceHash, pieceSize } from '../metainfo/index.ts';
import { ObjectBlockSums, SUM_BLOCK } from './block-sums.ts';
import { isPieceSpan } from './span.ts';
import type { PieceCache, PieceCacheStats, ScrubResult, Store } from './types.ts';

export type VerifyPolicy = 'checksum' | 'every-read' | 'first-read';

export interface PieceCacheOptions {
  /** Memory budget for cached piece bytes. */
  maxBytes: number;
  /**
   * True when SHA-1(data) equals `expected`. Must not detach or modify `data` (a transferring hash pool
   * must copy): the same buffer is then cached and handed to every caller.
   */
  verify: (data: Uint8Array, expected: Uint8Array) => Promise<boolean>;
  /**
   * 'checksum' (default): a piece is hashed (SHA-1) the first time this process reads it from disk, and the
   * checksums of its 16 KiB blocks are recorded then; every later read from disk (whole pieces and spans) is
   * checked against those checksums, several times cheaper than a SHA-1, so bytes that rot or are
   * overwritten on disk after the check are never served. 'every-read': a SHA-1 of the whole piece on every
   * disk read. 'first-read' (an explicit opt-out): hashed on the first read, later disk reads trusted
   * until the piece leaves the store or is written again.
   */
  verifyPolicy?: VerifyPolicy;
}

/**
 * Cache keys are numbers, object id × PIECE_KEY_SPACE + piece index: a lookup builds and hashes no string
 * (it runs for every HTTP range and peer block). 2^26 pieces per object is more than any metainfo holds (its
 * piece hashes alone would be 1.3 GB); 2^27 object ids stay below 2^53.
 */
const PIECE_KEY_SPACE = 2 ** 26;

class VerifyingPieceCache implements PieceCache {
  readonly #store: Store;
  readonly #verify: PieceCacheOptions['verify'];
  readonly #maxBytes: number;
  readonly #cache: LRUCache<number, Buffer>;
  readonly #inflight = new Map<number, Promise<Buffer>>();
  /** Object ids of cache keys, by lower-case info hash, and back; dropped with the object, never reused. */
  readonly #objectIds = new Map<string, number>();
  readonly #objectKeys = new Map<number, string>();
  #nextObjectId = 0;
  /** Cached piece indexes per object, to evict a whole object without scanning the cache. */
  readonly #cachedByObject = new Map<string, Set<number>>();
  /** Bumped by every eviction of an object's pieces: a read that started before must not be cached. */
  readonly #epochs = new Map<string, number>();
  /** Pieces hashed since start, per object ('first-read': trusted; 'checksum': their block sums recorded). */
  readonly #verified = new Map<string, Uint8Array>();
  /** Block checksums of the pieces in #verified, per object ('checksum' only). */
  readonly #blockSums = new Map<string, ObjectBlockSums>();
  readonly #policy: VerifyPolicy;
  #hits = 0;
  #misses = 0;
  #corruptPieces = 0;
  #directReads = 0;
  #directBytes = 0;

  constructor(store: Store, options: PieceCacheOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) {
      throw new RangeError(`piece cache maxBytes must be a positive integer, got ${options.maxBytes}`);
    }
    this.#store = store;
    this.#verify = options.verify;
    this.#policy = options.verifyPolicy ?? 'checksum';
    this.#maxBytes = options.maxBytes;
    this.#cache = new LRUCache<number, Buffer>({
      maxSize: options.maxBytes,
      sizeCalculation: (piece) => Math.max(1, piece.length),
      dispose: (_piece, key) => {
        const infoHash = this.#objectKeys.get(Math.floor(key / PIECE_KEY_SPACE)) ?? '';
        const index = key % PIECE_KEY_SPACE;
        const cached = this.#cachedByObject.get(infoHash);
        cached?.delete(index);
        if (cached?.size === 0) this.#cachedByObject.delete(infoHash);
      },
    });
    store.on('pieces-removed', (infoHash, pieceIndexes) => this.evict(infoHash, pieceIndexes));
    store.on('object-removed', (infoHash) => this.evict(infoHash));
    // Bytes written again are new bytes: hash them on their next read.
    store.on('pieces-added', (infoHash, pieceIndexes) => this.#forget(infoHash, pieceIndexes));
  }

  getPiece(infoHash: string, pieceIndex: number): Promise<Buffer> {
    const objectKey = this.#objectKeyOf(infoHash);
    const key = this.#keyOf(objectKey, pieceIndex);
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#hits++;
      return Promise.resolve(cached);
    }
    const shared = this.#inflight.get(key);
    if (shared !== undefined) {
      this.#hits++;
      return shared;
    }
    this.#misses++;
    const loading = this.#load(objectKey, pieceIndex, key).finally(() => {
      if (this.#inflight.get(key) === loading) this.#inflight.delete(key);
    });
    this.#inflight.set(key, loading);
    return loading;
  }

  readSpanSync(
    infoHash: string,
    pieceIndex: number,
    from: number,
    to: number,
    maxDiskBytes: number,
    into?: Buffer,
  ): Buffer | undefined {
    checkSpan(from, to);
    const objectKey = this.#objectKeyOf(infoHash);
    const cached = this.#cache.get(this.#keyOf(objectKey, pieceIndex));
    if (cached !== undefined) {
      checkSpan(from, to, cached.length);
      this.#hits++;
      return cached.subarray(from, to);
    }
    if (!(to - from <= maxDiskBytes) || !this.#verifiedSinceStart(objectKey, pieceIndex)) return undefined;
    const sums = this.#blockSums.get(objectKey);
    if (sums !== undefined) return this.#readCheckedSpan(objectKey, pieceIndex, from, to, sums, into);
    let bytes: Buffer | undefined;
    try {
      bytes = this.#store.readPieceSpanSync(objectKey, pieceIndex, from, to, into);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err;
      return undefined; // not held, or unreadable: getPiece says which (and takes a corrupt piece out)
    }
    // A read-mode store catches up with the writer inside that call: the piece may have left meanwhile.
    if (bytes === undefined || !this.#verifiedSinceStart(objectKey, pieceIndex)) return undefined;
    this.#directReads++;
    this.#directBytes += bytes.length;
    return bytes;
  }

  /**
   * A span read from disk whole blocks at a time and checked against the blocks' sums. A mismatch answers
   * undefined: the caller's getPiece then reads the piece, finds it corrupt and takes it out of the store.
   */
  #readCheckedSpan(
    objectKey: string,
    pieceIndex: number,
    from: number,
    to: number,
    sums: ObjectBlockSums,
    into: Buffer | undefined,
  ): Buffer | undefined {
    const object = this.#store.get(objectKey);
    if (object === undefined) return undefined;
    const blockFrom = from - (from % SUM_BLOCK);
    const blockTo = Math.min(Math.ceil(to / SUM_BLOCK) * SUM_BLOCK, pieceSize(object.metainfo, pieceIndex));
    const buffer = into !== undefined && into.length >= blockTo - blockFrom ? into : undefined;
    let blocks: Buffer | undefined;
    try {
      blocks = this.#store.readPieceSpanSync(objectKey, pieceIndex, blockFrom, blockTo, buffer);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err;
      return undefined;
    }
    if (blocks === undefined || !this.#verifiedSinceStart(objectKey, pieceIndex)) return undefined;
    if (!sums.matches(pieceIndex, blockFrom, blocks)) return undefined;
    this.#directReads++;
    this.#directBytes += to - from;
    return blocks.subarray(from - blockFrom, to - blockFrom);
  }

  async scrubPiece(infoHash: string, pieceIndex: number): Promise<ScrubResult> {
    const objectKey = this.#objectKeyOf(infoHash);
    const object = this.#store.get(objectKey);
    if (object === undefined || !object.bitfield.get(pieceIndex)) return 'gone';
    const metainfo = this.#store.metainfoOf(objectKey);
    if (metainfo === undefined) return 'gone';
    let data: Buffer;
    try {
      data = await this.#store.readPiece(objectKey, pieceIndex);
    } catch (err) {
      if (!(err instanceof StoreCorruptError)) throw err;
      return this.#scrubbedCorrupt(objectKey, pieceIndex, err);
    }
    // Always the SHA-1 of the metainfo: block sums only say the bytes did not change since a read.
    if (!(await this.#verify(data, pieceHash(metainfo, pieceIndex))))
      return this.#scrubbedCorrupt(objectKey, pieceIndex);
    if (this.#policy !== 'every-read' && this.#store.get(objectKey)?.bitfield.get(pieceIndex)) {
      this.#remember(objectKey, pieceIndex, data);
    }
    return 'ok';
  }

  async #scrubbedCorrupt(objectKey: string, pieceIndex: number, cause?: unknown): Promise<ScrubResult> {
    try {
      await this.#corrupt(objectKey, pieceIndex, cause);
    } catch (err) {
      if (err instanceof CorruptPieceError) return 'corrupt';
    }
    return 'gone';
  }

  peekPiece(infoHash: string, pieceIndex: number): Buffer | undefined {
    const cached = this.#cache.get(this.#keyOf(this.#objectKeyOf(infoHash), pieceIndex));
    if (cached !== undefined) this.#hits++;
    return cached;
  }

  // The last info hash asked for and its lower-cased form. Callers pass the store's own string request after
  // request; a fresh toLowerCase() copy would be hashed anew by every Map lookup (measurable per request).
  #lastInfoHash = '';
  #lastObjectKey = '';

  #objectKeyOf(infoHash: string): string {
    if (infoHash !== this.#lastInfoHash) {
      this.#lastInfoHash = infoHash;
      this.#lastObjectKey = infoHash.toLowerCase();
    }
    return this.#lastObjectKey;
  }

  #keyOf(objectKey: string, pieceIndex: number): number {
    let id = this.#objectIds.get(objectKey);
    if (id === undefined) {
      id = this.#nextObjectId++;
      this.#objectIds.set(objectKey, id);
      this.#objectKeys.set(id, objectKey);
    }
    if (!(pieceIndex >= 0 && pieceIndex < PIECE_KEY_SPACE)) {
      throw new RangeError(`piece index ${pieceIndex} is outside what the piece cache can key`);
    }
    return id * PIECE_KEY_SPACE + pieceIndex;
  }

  /** The piece was SHA-1-checked since it last entered the store ('first-read' and 'checksum' policies). */
  #verifiedSinceStart(objectKey: string, pieceIndex: number): boolean {
    const verified = this.#verified.get(objectKey);
    return verified !== undefined && (verified[pieceIndex >> 3]! & (1 << (pieceIndex & 7))) !== 0;
  }

  /** Bytes of a piece just read from disk match what was verified: by SHA-1, or by block sums once known. */
  async #checkRead(infoHash: string, pieceIndex: number, data: Buffer, expected: Uint8Array): Promise<boolean> {
    if (this.#policy === 'every-read' || !this.#verifiedSinceStart(infoHash, pieceIndex)) {
      return this.#verify(data, expected);
    }
    if (this.#policy === 'first-read') return true;
    return this.#blockSums.get(infoHash)?.matches(pieceIndex, 0, data) ?? this.#verify(data, expected);
  }

  async #load(infoHash: string, pieceIndex: number, key: number): Promise<Buffer> {
    const object = this.#store.get(infoHash);
    if (object === undefined || !object.bitfield.get(pieceIndex)) {
      throw new NotFoundError(`piece ${pieceIndex} of ${infoHash} is not held`, { subject: infoHash, pieceIndex });
    }
    const epoch = this.#epochs.get(infoHash) ?? 0;
    const expected = pieceHash(object.metainfo, pieceIndex);
    let data: Buffer;
    try {
      data = await this.#store.readPiece(infoHash, pieceIndex);
    } catch (err) {
      if (err instanceof StoreCorruptError) return this.#corrupt(infoHash, pieceIndex, err);
      throw err;
    }
    const known = this.#verifiedSinceStart(infoHash, pieceIndex);
    if (!(await this.#checkRead(infoHash, pieceIndex, data, expected))) return this.#corrupt(infoHash, pieceIndex);
    if (!known && this.#policy !== 'every-read' && (this.#epochs.get(infoHash) ?? 0) === epoch) {
      this.#remember(infoHash, pieceIndex, data);
    }
    if ((this.#epochs.get(infoHash) ?? 0) === epoch && this.#store.get(infoHash)?.bitfield.get(pieceIndex)) {
      this.#cache.set(key, data);
      if (this.#cache.has(key)) {
        const cached = this.#cachedByObject.get(infoHash) ?? new Set<number>();
        cached.add(pieceIndex);
        this.#cachedByObject.set(infoHash, cached);
      }
    }
    return data;
  }

  async #corrupt(infoHash: string, pieceIndex: number, cause?: unknown): Promise<never> {
    const object = this.#store.get(infoHash);
    if (object === undefined || !object.bitfield.get(pieceIndex)) {
      // Removed while we read it: the bytes were being discarded, not rotting.
      throw new NotFoundError(`piece ${pieceIndex} of ${infoHash} is not held`, { subject: infoHash, pieceIndex });
    }
    this.#corruptPieces++;
    let removed = true;
    try {
      await this.#store.removePieces(infoHash, [pieceIndex], 'corrupt');
    } catch {
      removed = false; // a read-only store cannot remove; the writer's cache will find it too
    }
    throw new CorruptPieceError(
      `piece ${pieceIndex} of ${object.name} (${infoHash}) does not match its SHA-1 on disk` +
        (removed ? '; it was removed from the store' : ''),
      { subject: infoHash, pieceIndex, cause },
    );
  }

  /** One bit per piece: a store of 100k objects fully read costs megabytes here, not gigabytes of Sets. */
  #remember(infoHash: string, pieceIndex: number, data: Buffer): void {
    let verified = this.#verified.get(infoHash);
    if (verified === undefined) {
      const metainfo = this.#store.get(infoHash)?.metainfo;
      if (metainfo === undefined || pieceIndex >= metainfo.pieceCount) return;
      verified = new Uint8Array(Math.ceil(metainfo.pieceCount / 8));
      this.#verified.set(infoHash, verified);
      if (this.#policy === 'checksum') {
        this.#blockSums.set(infoHash, new ObjectBlockSums(metainfo.pieceCount, metainfo.pieceLength));
      }
    }
    this.#blockSums.get(infoHash)?.record(pieceIndex, data);
    verified[pieceIndex >> 3]! |= 1 << (pieceIndex & 7);
  }

  #forget(infoHash: string, pieceIndexes?: number[]): void {
    const objectKey = this.#objectKeyOf(infoHash);
    const verified = this.#verified.get(objectKey);
    if (verified === undefined) return;
    if (pieceIndexes === undefined) {
      this.#verified.delete(objectKey);
      this.#blockSums.delete(objectKey);
    } else for (const index of pieceIndexes) verified[index >> 3]! &= ~(1 << (index & 7));
  }

  evict(infoHash: string, pieceIndexes?: number[]): void {
    const objectKey = this.#objectKeyOf(infoHash);
    this.#forget(objectKey, pieceIndexes);
    this.#epochs.set(objectKey, (this.#epochs.get(objectKey) ?? 0) + 1);
    const indexes = pieceIndexes ?? [...(this.#cachedByObject.get(objectKey) ?? [])];
    for (const index of indexes) {
      const key = this.#keyOf(objectKey, index);
      this.#cache.delete(key);
      this.#inflight.delete(key);
    }
    if (pieceIndexes === undefined) {
      const id = this.#objectIds.get(objectKey);
      for (const key of [...this.#inflight.keys()]) {
        if (Math.floor(key / PIECE_KEY_SPACE) === id) this.#inflight.delete(key);
      }
      // Nothing of the object is left under its id (a read in flight will not cache: its epoch moved on).
      if (id !== undefined) {
        this.#objectIds.delete(objectKey);
        this.#objectKeys.delete(id);
      }
    }
  }

  stats(): PieceCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      bytes: this.#cache.calculatedSize,
      maxBytes: this.#maxBytes,
      corruptPieces: this.#corruptPieces,
      directReads: this.#directReads,
      directBytes: this.#directBytes,
    };
  }
}

/** A span within a piece: 0 <= from < to (<= the piece's size, when known). */
function checkSpan(from: number, to: number, size?: number): void {
  if (!isPieceSpan(from, to, size)) {
    const piece = size === undefined ? 'a piece' : `a piece of ${size} bytes`;
    throw new InvalidArgumentError(`bytes [${from}, ${to}) are not a span of ${piece}`);
  }
}

/** The piece cache over `store`; `verify` is the hashing pool's (tests may pass a node:crypto one). */
export function createPieceCache(store: Store, options: PieceCacheOptions): PieceCache {
  return new VerifyingPieceCache(store, options);
}
