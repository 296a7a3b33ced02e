// The caching layer the wire and HTTP servers read pieces through: verified bytes from the layer below
// (on an edge, the verifying layer over the disk store) kept in memory within a byte budget, one read per
// concurrent demand. createPieceCache composes the agent's stack, caching(verifying(store)).
import { LRUCache } from 'lru-cache';
import { InflightLoads } from './inflight-loads.ts';
import type { Catalog, PieceCache, PieceCacheStats, PieceSource, ScrubResult, Store } from './types.ts';
import {
  checkSpan,
  removeCorruptPieces,
  VerifyingSource,
  type VerifyingSourceOptions,
  type VerifyPolicy,
} from './verifying-source.ts';

export type { VerifyPolicy };

export interface PieceCacheOptions {
  /** Memory budget for cached piece bytes. */
  maxBytes: number;
  /** The verifying layer's SHA-1 check (the hashing pool's; tests may pass a node:crypto one). */
  verify: VerifyingSourceOptions['verify'];
  /** How the verifying layer checks a piece read from the store; default 'checksum'. */
  verifyPolicy?: VerifyPolicy;
  /**
   * What happens to a held piece whose bytes fail their check; default: it leaves the store (reason
   * 'corrupt', so peers and trackers are told), or stays when the store is read-only.
   */
  onCorrupt?: VerifyingSourceOptions['onCorrupt'];
}

/** What the caching layer needs of the catalog: piece sizes, and the events that make cached pieces stale. */
type CatalogView = Pick<Catalog, 'get' | 'on'>;

/**
 * Cache keys are numbers, object id × PIECE_KEY_SPACE + piece index: a lookup builds and hashes no string
 * (it runs for every HTTP range and peer block). 2^26 pieces per object is more than any metainfo holds (its
 * piece hashes alone would be 1.3 GB); 2^27 object ids stay below 2^53.
 */
const PIECE_KEY_SPACE = 2 ** 26;

/** Caches whole verified pieces from `source`, keyed by object and index. */
export class CachingSource implements PieceSource {
  readonly #catalog: CatalogView;
  readonly #source: PieceSource;
  readonly #maxBytes: number;
  readonly #cache: LRUCache<number, Buffer>;
  readonly #inflight = new InflightLoads<number>();
  /** Object ids of cache keys, by lower-case info hash, and back; dropped with the object, never reused. */
  readonly #objectIds = new Map<string, number>();
  readonly #objectKeys = new Map<number, string>();
  #nextObjectId = 0;
  /** Cached piece indexes per object, to evict a whole object without scanning the cache. */
  readonly #cachedByObject = new Map<string, Set<number>>();
  /** Bumped by every eviction of an object's pieces: a read that started before must not be cached. */
  readonly #epochs = new Map<string, number>();
  #hits = 0;
  #misses = 0;

  constructor(catalog: CatalogView, source: PieceSource, options: { maxBytes: number }) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) {
      throw new RangeError(`piece cache maxBytes must be a positive integer, got ${options.maxBytes}`);
    }
    this.#catalog = catalog;
    this.#source = source;
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
    catalog.on('pieces-removed', (infoHash, pieceIndexes) => this.evict(infoHash, pieceIndexes));
    catalog.on('object-removed', (infoHash) => this.evict(infoHash));
  }

  getPiece(infoHash: string, pieceIndex: number, signal?: AbortSignal): Promise<Buffer> {
    const objectKey = this.#objectKeyOf(infoHash);
    const key = this.#keyOf(objectKey, pieceIndex);
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#hits++;
      return Promise.resolve(cached);
    }
    const shared = this.#inflight.join(key, signal);
    if (shared !== undefined) {
      this.#hits++;
      return shared;
    }
    this.#misses++;
    // One read for every caller: it goes on (and is cached) when the caller that started it gives up.
    return this.#inflight.start(key, () => this.#load(objectKey, pieceIndex, key), signal);
  }

  readSpanSync(
    infoHash: string,
    pieceIndex: number,
    from: number,
    to: number,
    maxReadBytes: number,
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
    return this.#source.readSpanSync(objectKey, pieceIndex, from, to, maxReadBytes, into);
  }

  /** True when the piece is in memory now; not counted as a hit (accounting asks it). */
  holds(infoHash: string, pieceIndex: number): boolean {
    return this.#cache.has(this.#keyOf(this.#objectKeyOf(infoHash), pieceIndex));
  }

  /** The cached piece (counted as a hit), or undefined without reading anything. */
  peekPiece(infoHash: string, pieceIndex: number): Buffer | undefined {
    const cached = this.#cache.get(this.#keyOf(this.#objectKeyOf(infoHash), pieceIndex));
    if (cached !== undefined) this.#hits++;
    return cached;
  }

  /** Indexes of an object's pieces in memory now (the dashboard's piece map), in no order. */
  cachedPieces(infoHash: string): number[] {
    return [...(this.#cachedByObject.get(infoHash.toLowerCase()) ?? [])];
  }

  /** Drops cached pieces of an object (all of them without `pieceIndexes`). */
  evict(infoHash: string, pieceIndexes?: number[]): void {
    const objectKey = this.#objectKeyOf(infoHash);
    this.#epochs.set(objectKey, (this.#epochs.get(objectKey) ?? 0) + 1);
    const indexes = pieceIndexes ?? [...(this.#cachedByObject.get(objectKey) ?? [])];
    for (const index of indexes) {
      const key = this.#keyOf(objectKey, index);
      this.#cache.delete(key);
      this.#inflight.forget(key);
    }
    if (pieceIndexes === undefined) {
      const id = this.#objectIds.get(objectKey);
      this.#inflight.forgetWhere((key) => Math.floor(key / PIECE_KEY_SPACE) === id);
      // Nothing of the object is left under its id (a read in flight will not cache: its epoch moved on).
      if (id !== undefined) {
        this.#objectIds.delete(objectKey);
        this.#objectKeys.delete(id);
      }
    }
  }

  stats(): { hits: number; misses: number; bytes: number; maxBytes: number } {
    return { hits: this.#hits, misses: this.#misses, bytes: this.#cache.calculatedSize, maxBytes: this.#maxBytes };
  }

  async #load(objectKey: string, pieceIndex: number, key: number): Promise<Buffer> {
    const epoch = this.#epochs.get(objectKey) ?? 0;
    const data = await this.#source.getPiece(objectKey, pieceIndex);
    if ((this.#epochs.get(objectKey) ?? 0) === epoch && this.#catalog.get(objectKey)?.bitfield.get(pieceIndex)) {
      this.#cache.set(key, data);
      if (this.#cache.has(key)) {
        const cached = this.#cachedByObject.get(objectKey) ?? new Set<number>();
        cached.add(pieceIndex);
        this.#cachedByObject.set(objectKey, cached);
      }
    }
    return data;
  }

  // The last info hash asked for and its lower-cased form: callers pass the store's own string request after
  // request, and a fresh toLowerCase() copy would be hashed anew by every Map lookup (measurable per request).
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
}

/**
 * The agent's stack over `store`: caching(verifying(store)), one object with both layers' operations and
 * counters. A piece that fails its check leaves the store unless `onCorrupt` says otherwise.
 */
export function createPieceCache(store: Store, options: PieceCacheOptions): PieceCache {
  const verifying = new VerifyingSource(store, {
    verify: options.verify,
    onCorrupt: options.onCorrupt ?? removeCorruptPieces(store),
    ...(options.verifyPolicy === undefined ? {} : { verifyPolicy: options.verifyPolicy }),
  });
  const caching = new CachingSource(store, verifying, { maxBytes: options.maxBytes });
  return {
    getPiece: (infoHash, pieceIndex, signal) => caching.getPiece(infoHash, pieceIndex, signal),
    readSpanSync: (infoHash, pieceIndex, from, to, maxReadBytes, into) =>
      caching.readSpanSync(infoHash, pieceIndex, from, to, maxReadBytes, into),
    peekPiece: (infoHash, pieceIndex) => caching.peekPiece(infoHash, pieceIndex),
    holds: (infoHash, pieceIndex) => caching.holds(infoHash, pieceIndex),
    evict: (infoHash, pieceIndexes) => caching.evict(infoHash, pieceIndexes),
    cachedPieces: (infoHash) => caching.cachedPieces(infoHash),
    scrubPiece: (infoHash, pieceIndex): Promise<ScrubResult> => verifying.scrubPiece(infoHash, pieceIndex),
    stats: (): PieceCacheStats => ({ ...caching.stats(), ...verifying.stats() }),
  };
}
