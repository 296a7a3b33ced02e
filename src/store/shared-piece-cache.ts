// The piece cache shared by the serving threads (http.threads > 1): one slab of fixed-size slots in a
// SharedArrayBuffer, an index every thread reads without a lock, and the same operations as CachingSource.
// Integrity: a slot holds bytes the verifying layer checked; it is readable only while its generation is
// even (a writer makes it odd before it changes the slot and even once the bytes are in). A span for the
// HTTP hot path is lent, not copied (a 16 KiB copy costs a tenth of a request): the reader pins the slot in
// its thread's row, then checks the generation did not move; a writer makes the generation odd, then
// looks for pins and leaves a pinned slot alone (sequentially consistent Atomics: one of the two sees the
// other). The span is given back (releaseSpan) once the socket is done with it. Whole pieces are copied
// out and the generation checked after the copy. So no byte leaves that was half written or belongs to
// another piece. Changes to the index and the choice of a slot are made under one lock (misses only: each
// one is a disk read and a hash anyway); hits take no lock and write only their own thread's counters and pins.

import { InflightLoads } from './inflight-loads.ts';
import type { PieceCacheOptions } from './piece-cache.ts';
import type { Catalog, PieceCache, PieceCacheStats, PieceSource, ScrubResult, Store } from './types.ts';
import { checkSpan, removeCorruptPieces, VerifyingSource } from './verifying-source.ts';

/** The slab as plain data: what a serving thread is given (postMessage shares the buffer, copies nothing). */
export interface PieceSlab {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  readonly slotBytes: number;
}

// Control words (Int32): the lock, the eviction epoch, the clock hand, the threads attached.
const LOCK = 0;
const EPOCH = 1;
const HAND = 2;
const THREADS = 3;
const CONTROL_BYTES = 64;
// Float64 totals kept under the lock: bytes cached.
const TOTALS_BYTES = 64;
/** Counter rows, one per attached thread, 64 bytes apart so that threads do not share a cache line. */
export const MAX_SLAB_THREADS = 32;
const MAX_THREADS = MAX_SLAB_THREADS;
const ROW = 8;
const HITS = 0;
const MISSES = 1;
// Slot metadata (Int32, 16 words a slot): generation, info hash (5 words), piece index, length, referenced.
const META_WORDS = 16;
const GEN = 0;
const KEY = 1;
const PIECE = 6;
const LENGTH = 7;
const REF = 8;
const FREE = -1;
/** Whole-piece copies a thread keeps (see #copies). */
const COPIES_MAX_BYTES = 32 * 1024 * 1024;

interface Layout {
  metaOffset: number;
  /** Pins (Int32): a row of one word per slot for each thread, spans it lent and has not had back. */
  pinsOffset: number;
  indexOffset: number;
  indexSize: number;
  dataOffset: number;
  totalBytes: number;
}

function layoutOf(slots: number, slotBytes: number): Layout {
  const metaOffset = CONTROL_BYTES + TOTALS_BYTES + MAX_THREADS * ROW * 8;
  let indexSize = 1;
  while (indexSize < slots * 2) indexSize *= 2;
  const pinsOffset = metaOffset + slots * META_WORDS * 4;
  const indexOffset = pinsOffset + Math.ceil((MAX_THREADS * slots * 4) / 64) * 64;
  const dataOffset = Math.ceil((indexOffset + indexSize * 4) / 4096) * 4096;
  return { metaOffset, pinsOffset, indexOffset, indexSize, dataOffset, totalBytes: dataOffset + slots * slotBytes };
}

/** A slab of floor(maxBytes / slotBytes) slots; a piece longer than slotBytes is served but never cached. */
export function createPieceSlab(options: { maxBytes: number; slotBytes: number }): PieceSlab {
  const { maxBytes, slotBytes } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(`piece cache maxBytes must be a positive integer, got ${maxBytes}`);
  }
  if (!Number.isSafeInteger(slotBytes) || slotBytes < 1) {
    throw new RangeError(`piece cache slotBytes must be a positive integer, got ${slotBytes}`);
  }
  const slots = Math.floor(maxBytes / slotBytes);
  const buffer = new SharedArrayBuffer(layoutOf(slots, slotBytes).totalBytes);
  const meta = new Int32Array(buffer, layoutOf(slots, slotBytes).metaOffset, slots * META_WORDS);
  for (let slot = 0; slot < slots; slot++) meta[slot * META_WORDS + PIECE] = FREE;
  return { buffer, slots, slotBytes };
}

/** What the caching layer needs of the catalog, as for CachingSource. */
type CatalogView = Pick<Catalog, 'get' | 'on'>;

/** The key of an object in the slab: its info hash as five words (the lower-case hex string, parsed once). */
type ObjectWords = Int32Array;

/** Caches whole verified pieces from `source` in a slab that other threads read and fill too. */
export class SharedCachingSource implements PieceSource {
  readonly #catalog: CatalogView;
  readonly #source: PieceSource;
  readonly #slab: PieceSlab;
  readonly #control: Int32Array;
  readonly #totals: Float64Array;
  readonly #counters: Float64Array;
  readonly #row: number;
  readonly #meta: Int32Array;
  readonly #pins: Int32Array;
  /** This thread's row of pins. */
  readonly #pinRow: number;
  readonly #dataOffset: number;
  readonly #index: Int32Array;
  readonly #mask: number;
  /** The slots' bytes as one Buffer, to lend slices of (as the one-thread cache lends slices of its pieces). */
  readonly #dataView: Buffer;
  /**
   * Whole pieces this thread copied out of the slab, by slot, with the slot's generation then: the peer wire
   * asks for a piece per 16 KiB block, and a copy per block would cost more than the block. Valid while the
   * slot's generation has not moved; the oldest go beyond COPIES_MAX_BYTES.
   */
  readonly #copies = new Map<number, { generation: number; bytes: Buffer }>();
  #copiesBytes = 0;
  readonly #copiesMaxBytes: number;
  /** The generation the last #copyOut checked. */
  #copiedGeneration = 0;
  /** Loads this thread started, shared by its callers (other threads may load the same piece: both verified). */
  readonly #inflight = new InflightLoads<string>();

  constructor(catalog: CatalogView, source: PieceSource, slab: PieceSlab) {
    this.#catalog = catalog;
    this.#source = source;
    this.#slab = slab;
    const layout = layoutOf(slab.slots, slab.slotBytes);
    this.#control = new Int32Array(slab.buffer, 0, CONTROL_BYTES / 4);
    this.#totals = new Float64Array(slab.buffer, CONTROL_BYTES, TOTALS_BYTES / 8);
    this.#counters = new Float64Array(slab.buffer, CONTROL_BYTES + TOTALS_BYTES, MAX_THREADS * ROW);
    const thread = Atomics.add(this.#control, THREADS, 1);
    if (thread >= MAX_THREADS) {
      throw new RangeError(
        `a piece slab serves at most ${MAX_THREADS} threads (caches), this would be the ${thread + 1}th`,
      );
    }
    this.#row = thread * ROW;
    this.#meta = new Int32Array(slab.buffer, layout.metaOffset, slab.slots * META_WORDS);
    this.#pins = new Int32Array(slab.buffer, layout.pinsOffset, MAX_THREADS * slab.slots);
    this.#pinRow = thread * slab.slots;
    this.#dataOffset = layout.dataOffset;
    this.#copiesMaxBytes = Math.min(COPIES_MAX_BYTES, Math.floor((slab.slots * slab.slotBytes) / 4));
    this.#index = new Int32Array(slab.buffer, layout.indexOffset, layout.indexSize);
    this.#mask = layout.indexSize - 1;
    this.#dataView = Buffer.from(slab.buffer, layout.dataOffset, slab.slots * slab.slotBytes);
    catalog.on('pieces-removed', (infoHash, pieceIndexes) => this.evict(infoHash, pieceIndexes));
    catalog.on('object-removed', (infoHash) => this.evict(infoHash));
  }

  getPiece(infoHash: string, pieceIndex: number, signal?: AbortSignal): Promise<Buffer> {
    const words = this.#wordsOf(infoHash);
    if (words !== undefined) {
      const slot = this.#find(words, pieceIndex);
      const copy = slot < 0 ? undefined : this.#pieceCopy(slot, words, pieceIndex);
      if (copy !== undefined) {
        this.#counters[this.#row + HITS]!++;
        return Promise.resolve(copy);
      }
    }
    const objectKey = this.#lastObjectKey;
    const key = `${objectKey}:${pieceIndex}`;
    const shared = this.#inflight.join(key, signal);
    if (shared !== undefined) {
      this.#counters[this.#row + HITS]!++;
      return shared;
    }
    this.#counters[this.#row + MISSES]!++;
    return this.#inflight.start(key, () => this.#load(objectKey, words, pieceIndex), signal);
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
    const words = this.#wordsOf(infoHash);
    if (words !== undefined) {
      const lent = this.#lend(words, pieceIndex, from, to);
      if (lent !== undefined) {
        this.#counters[this.#row + HITS]!++;
        return lent;
      }
    }
    return this.#source.readSpanSync(this.#lastObjectKey, pieceIndex, from, to, maxReadBytes, into);
  }

  /**
   * Gives back a span readSpanSync lent from the slab (a view of it), once nothing reads it any more: its
   * slot may be written again. Anything else (bytes read from disk) is not the slab's and is ignored.
   */
  releaseSpan(span: Uint8Array): void {
    if (span.buffer !== this.#slab.buffer) return;
    const slot = Math.floor((span.byteOffset - this.#dataOffset) / this.#slab.slotBytes);
    Atomics.sub(this.#pins, this.#pinRow + slot, 1);
  }

  /** True when the piece is in the slab now; not counted as a hit. */
  holds(infoHash: string, pieceIndex: number): boolean {
    const words = this.#wordsOf(infoHash);
    if (words === undefined) return false;
    const slot = this.#find(words, pieceIndex);
    return slot >= 0 && (Atomics.load(this.#meta, slot * META_WORDS + GEN) & 1) === 0;
  }

  /** A copy of the cached piece (counted as a hit), or undefined without reading anything. */
  peekPiece(infoHash: string, pieceIndex: number): Buffer | undefined {
    const words = this.#wordsOf(infoHash);
    if (words === undefined) return undefined;
    const slot = this.#find(words, pieceIndex);
    const copy = slot < 0 ? undefined : this.#pieceCopy(slot, words, pieceIndex);
    if (copy !== undefined) this.#counters[this.#row + HITS]!++;
    return copy;
  }

  /** Indexes of an object's pieces in the slab now, in no order (a scan of the slots' keys). */
  cachedPieces(infoHash: string): number[] {
    const words = this.#wordsOf(infoHash);
    if (words === undefined) return [];
    const pieces: number[] = [];
    for (let slot = 0; slot < this.#slab.slots; slot++) {
      const at = slot * META_WORDS;
      const piece = this.#meta[at + PIECE]!;
      if (piece !== FREE && (Atomics.load(this.#meta, at + GEN) & 1) === 0 && this.#keyIs(at, words)) {
        pieces.push(piece);
      }
    }
    return pieces;
  }

  /** Drops cached pieces of an object (all of them without `pieceIndexes`), for every thread. */
  evict(infoHash: string, pieceIndexes?: number[]): void {
    const words = this.#wordsOf(infoHash);
    if (words === undefined) return;
    const objectKey = this.#lastObjectKey;
    this.#lock();
    try {
      // A load in any thread that started before must not cache what it read.
      Atomics.add(this.#control, EPOCH, 1);
      if (pieceIndexes !== undefined) {
        for (const piece of pieceIndexes) {
          const slot = this.#find(words, piece);
          if (slot >= 0) this.#drop(slot);
        }
      } else {
        for (let slot = 0; slot < this.#slab.slots; slot++) {
          const at = slot * META_WORDS;
          if (this.#meta[at + PIECE] !== FREE && this.#keyIs(at, words)) this.#drop(slot);
        }
      }
    } finally {
      this.#unlock();
    }
    if (pieceIndexes === undefined) {
      this.#inflight.forgetWhere((key) => key.startsWith(`${objectKey}:`));
    } else {
      for (const piece of pieceIndexes) this.#inflight.forget(`${objectKey}:${piece}`);
    }
  }

  /** Hits and misses of every thread attached to the slab, and the bytes in it. */
  stats(): { hits: number; misses: number; bytes: number; maxBytes: number } {
    let hits = 0;
    let misses = 0;
    const threads = Math.min(Atomics.load(this.#control, THREADS), MAX_THREADS);
    for (let row = 0; row < threads * ROW; row += ROW) {
      hits += this.#counters[row + HITS]!;
      misses += this.#counters[row + MISSES]!;
    }
    return { hits, misses, bytes: this.#totals[0]!, maxBytes: this.#slab.slots * this.#slab.slotBytes };
  }

  async #load(objectKey: string, words: ObjectWords | undefined, pieceIndex: number): Promise<Buffer> {
    const epoch = Atomics.load(this.#control, EPOCH);
    const data = await this.#source.getPiece(objectKey, pieceIndex);
    if (words !== undefined && this.#catalog.get(objectKey)?.bitfield.get(pieceIndex)) {
      this.#store(words, pieceIndex, data, epoch);
    }
    return data;
  }

  /** Puts verified bytes into a slot: chosen and indexed under the lock, filled outside it, then published. */
  #store(words: ObjectWords, pieceIndex: number, data: Buffer, epoch: number): void {
    if (data.length === 0 || data.length > this.#slab.slotBytes || this.#slab.slots === 0) return;
    let slot = -1;
    this.#lock();
    try {
      if (Atomics.load(this.#control, EPOCH) !== epoch || this.#find(words, pieceIndex) >= 0) return;
      slot = this.#victim(); // its generation odd: being written, read by nobody
      if (slot < 0) return;
      const at = slot * META_WORDS;
      if (this.#meta[at + PIECE] !== FREE) {
        this.#indexRemove(slot);
        this.#totals[0]! -= this.#meta[at + LENGTH]!;
      }
      for (let word = 0; word < 5; word++) this.#meta[at + KEY + word] = words[word]!;
      this.#meta[at + PIECE] = pieceIndex;
      this.#meta[at + LENGTH] = data.length;
      this.#meta[at + REF] = 1;
      this.#indexInsert(slot);
      this.#totals[0]! += data.length;
    } finally {
      this.#unlock();
    }
    // Buffer#copy is a memmove; TypedArray#set into shared memory copies element by element (5x the CPU).
    data.copy(this.#dataView, slot * this.#slab.slotBytes);
    Atomics.add(this.#meta, slot * META_WORDS + GEN, 1); // even: readable (or free, if evicted meanwhile)
  }

  /** The whole piece in `slot` as this thread's own copy: the one it made, while the slot did not change. */
  #pieceCopy(slot: number, words: ObjectWords, pieceIndex: number): Buffer | undefined {
    const kept = this.#copies.get(slot);
    if (kept !== undefined) {
      this.#copies.delete(slot);
      if (kept.generation === Atomics.load(this.#meta, slot * META_WORDS + GEN)) {
        this.#copies.set(slot, kept); // the newest now
        return kept.bytes;
      }
      this.#copiesBytes -= kept.bytes.length;
    }
    const bytes = this.#copyOut(slot, words, pieceIndex, 0, -1, undefined);
    if (bytes === undefined || bytes.length > this.#copiesMaxBytes) return bytes;
    this.#copies.set(slot, { generation: this.#copiedGeneration, bytes });
    this.#copiesBytes += bytes.length;
    for (const [oldest, entry] of this.#copies) {
      if (this.#copiesBytes <= this.#copiesMaxBytes) break;
      this.#copies.delete(oldest);
      this.#copiesBytes -= entry.bytes.length;
    }
    return bytes;
  }

  /**
   * A view of bytes [from, to) of the piece, its slot pinned, or undefined when no slot holds it, settled.
   * The index lookup and the lending in one: the slot's generation is read before its key is compared (a
   * seqlock's read), so the key compared is the slot's at that generation once the pin sees it unchanged.
   */
  #lend(words: ObjectWords, pieceIndex: number, from: number, to: number): Buffer | undefined {
    const index = this.#index;
    const meta = this.#meta;
    const mask = this.#mask;
    let position = this.#home(words[0]!, pieceIndex);
    for (let probes = 0; probes <= mask; probes++) {
      const entry = index[position]!;
      if (entry === 0) return undefined;
      const slot = entry - 1;
      const at = slot * META_WORDS;
      const generation = Atomics.load(meta, at + GEN);
      if (meta[at + PIECE] === pieceIndex && this.#keyIs(at, words)) {
        if ((generation & 1) !== 0) return undefined; // being written
        // Beyond the piece (or a slot being dropped: its length is written after its generation moved): not
        // lent; the layer below answers, and refuses a span beyond the piece.
        if (to > meta[at + LENGTH]!) return undefined;
        const pin = this.#pinRow + slot;
        Atomics.add(this.#pins, pin, 1);
        // A writer that made the generation odd before our pin was seen goes on: the slot is not ours to read.
        if (Atomics.load(meta, at + GEN) !== generation) {
          Atomics.sub(this.#pins, pin, 1);
          return undefined;
        }
        if (meta[at + REF] === 0) meta[at + REF] = 1;
        const start = slot * this.#slab.slotBytes;
        return this.#dataView.subarray(start + from, start + to);
      }
      position = (position + 1) & mask;
    }
    return undefined;
  }

  /** True when some thread has a span of the slot out. */
  #pinned(slot: number): boolean {
    const threads = Math.min(Atomics.load(this.#control, THREADS), MAX_THREADS);
    for (let thread = 0; thread < threads; thread++) {
      if (Atomics.load(this.#pins, thread * this.#slab.slots + slot) !== 0) return true;
    }
    return false;
  }

  /**
   * Bytes [from, to) of the piece in `slot` (to = -1: all of it), copied into `into` when it is large enough,
   * or undefined when the slot does not hold exactly that piece, whole and settled, from start to end.
   */
  #copyOut(
    slot: number,
    words: ObjectWords,
    pieceIndex: number,
    from: number,
    to: number,
    into: Buffer | undefined,
  ): Buffer | undefined {
    const at = slot * META_WORDS;
    const generation = Atomics.load(this.#meta, at + GEN);
    if ((generation & 1) !== 0 || this.#meta[at + PIECE] !== pieceIndex || !this.#keyIs(at, words)) return undefined;
    const length = this.#meta[at + LENGTH]!;
    const end = to < 0 ? length : to;
    if (end > length) return undefined;
    const size = end - from;
    const out = into !== undefined && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafeSlow(size);
    const start = slot * this.#slab.slotBytes;
    // A memmove (Buffer#copy), not TypedArray#set: from shared memory that copies element by element, 5x
    // the CPU, and the peer wire copies every piece it sends. A torn copy is caught by the generation below.
    this.#dataView.copy(out, 0, start + from, start + end);
    if (Atomics.load(this.#meta, at + GEN) !== generation) return undefined;
    if (this.#meta[at + REF] === 0) this.#meta[at + REF] = 1; // written only when it changes: no line bouncing
    this.#copiedGeneration = generation;
    return out;
  }

  /** The slot indexed for the piece, or -1 (lock-free: a slot found is checked again by its generation). */
  #find(words: ObjectWords, pieceIndex: number): number {
    const index = this.#index;
    const meta = this.#meta;
    let position = this.#home(words[0]!, pieceIndex);
    for (let probes = 0; probes <= this.#mask; probes++) {
      const entry = index[position]!;
      if (entry === 0) return -1;
      const at = (entry - 1) * META_WORDS;
      if (meta[at + PIECE] === pieceIndex && this.#keyIs(at, words)) return entry - 1;
      position = (position + 1) & this.#mask;
    }
    return -1;
  }

  #home(firstWord: number, pieceIndex: number): number {
    return (Math.imul(firstWord ^ Math.imul(pieceIndex, 0x9e3779b1), 0x85ebca6b) >>> 16) & this.#mask;
  }

  #keyIs(at: number, words: ObjectWords): boolean {
    const meta = this.#meta;
    return (
      meta[at + KEY] === words[0] &&
      meta[at + KEY + 1] === words[1] &&
      meta[at + KEY + 2] === words[2] &&
      meta[at + KEY + 3] === words[3] &&
      meta[at + KEY + 4] === words[4]
    );
  }

  /**
   * Under the lock: the next slot of the clock that is free, or settled and not referenced since the hand
   * passed, and lent to nobody; returned with its generation made odd. -1 if none is (all lent or busy).
   */
  #victim(): number {
    const slots = this.#slab.slots;
    for (let step = 0; step < slots * 2; step++) {
      const slot = (Atomics.add(this.#control, HAND, 1) >>> 0) % slots;
      const at = slot * META_WORDS;
      if ((Atomics.load(this.#meta, at + GEN) & 1) !== 0) continue; // being written by another thread
      if (this.#meta[at + PIECE] !== FREE && this.#meta[at + REF] !== 0) {
        this.#meta[at + REF] = 0;
        continue;
      }
      // Odd first, then the pins: a reader pinning now sees the odd generation and lets go.
      Atomics.add(this.#meta, at + GEN, 1);
      if (!this.#pinned(slot)) return slot;
      Atomics.add(this.#meta, at + GEN, 1); // lent: settled again, as it was
    }
    return -1;
  }

  /** Under the lock: the slot leaves the index and is free; a reader copying from it sees its generation move. */
  #drop(slot: number): void {
    const at = slot * META_WORDS;
    this.#indexRemove(slot);
    Atomics.add(this.#meta, at + GEN, 2);
    this.#totals[0]! -= this.#meta[at + LENGTH]!;
    this.#meta[at + PIECE] = FREE;
    this.#meta[at + LENGTH] = 0;
  }

  #indexInsert(slot: number): void {
    const at = slot * META_WORDS;
    let position = this.#home(this.#meta[at + KEY]!, this.#meta[at + PIECE]!);
    while (this.#index[position] !== 0) position = (position + 1) & this.#mask;
    Atomics.store(this.#index, position, slot + 1);
  }

  /** Linear probing's deletion by backward shift: no tombstones (a reader racing it may miss; a miss is safe). */
  #indexRemove(slot: number): void {
    const index = this.#index;
    const mask = this.#mask;
    let hole = this.#home(this.#meta[slot * META_WORDS + KEY]!, this.#meta[slot * META_WORDS + PIECE]!);
    while (index[hole] !== slot + 1) {
      if (index[hole] === 0) return;
      hole = (hole + 1) & mask;
    }
    let next = hole;
    for (;;) {
      next = (next + 1) & mask;
      const entry = index[next]!;
      if (entry === 0) break;
      const at = (entry - 1) * META_WORDS;
      const home = this.#home(this.#meta[at + KEY]!, this.#meta[at + PIECE]!);
      // The entry at `next` may move into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      Atomics.store(index, hole, entry);
      hole = next;
    }
    Atomics.store(index, hole, 0);
  }

  #lock(): void {
    const control = this.#control;
    for (let spins = 0; Atomics.compareExchange(control, LOCK, 0, 1) !== 0; spins++) {
      // Held for a few index operations by another thread: spin a little, then sleep until it is released.
      if (spins > 100) Atomics.wait(control, LOCK, 1, 1);
    }
  }

  #unlock(): void {
    Atomics.store(this.#control, LOCK, 0);
    Atomics.notify(this.#control, LOCK, 1);
  }

  // The last info hash asked for, its lower-cased form and its words: callers pass the store's own string
  // request after request.
  #lastInfoHash = '';
  #lastObjectKey = '';
  #lastWords: ObjectWords | undefined = undefined;

  /** The info hash's five words, or undefined for a string that is not 40 hex digits (never cached). */
  #wordsOf(infoHash: string): ObjectWords | undefined {
    if (infoHash !== this.#lastInfoHash) {
      this.#lastInfoHash = infoHash;
      this.#lastObjectKey = infoHash.toLowerCase();
      this.#lastWords = /^[0-9a-f]{40}$/.test(this.#lastObjectKey)
        ? new Int32Array(new Uint8Array(Buffer.from(this.#lastObjectKey, 'hex')).buffer)
        : undefined;
    }
    return this.#lastWords;
  }
}

export interface SharedPieceCacheOptions extends Omit<PieceCacheOptions, 'maxBytes'> {
  /** The slab (createPieceSlab), made once and given to every thread. */
  slab: PieceSlab;
}

/**
 * createPieceCache over a shared slab: caching(verifying(store)) where the caching layer is the slab every
 * serving thread reads. Each thread composes its own (its store, its verifying layer); the bytes in memory
 * and the hit and miss counts are one for all.
 */
export function createSharedPieceCache(store: Store, options: SharedPieceCacheOptions): PieceCache {
  const verifying = new VerifyingSource(store, {
    verify: options.verify,
    onCorrupt: options.onCorrupt ?? removeCorruptPieces(store),
    ...(options.verifyPolicy === undefined ? {} : { verifyPolicy: options.verifyPolicy }),
  });
  const caching = new SharedCachingSource(store, verifying, options.slab);
  return {
    getPiece: (infoHash, pieceIndex, signal) => caching.getPiece(infoHash, pieceIndex, signal),
    readSpanSync: (infoHash, pieceIndex, from, to, maxReadBytes, into) =>
      caching.readSpanSync(infoHash, pieceIndex, from, to, maxReadBytes, into),
    releaseSpan: (span) => caching.releaseSpan(span),
    peekPiece: (infoHash, pieceIndex) => caching.peekPiece(infoHash, pieceIndex),
    holds: (infoHash, pieceIndex) => caching.holds(infoHash, pieceIndex),
    evict: (infoHash, pieceIndexes) => caching.evict(infoHash, pieceIndexes),
    cachedPieces: (infoHash) => caching.cachedPieces(infoHash),
    scrubPiece: (infoHash, pieceIndex): Promise<ScrubResult> => verifying.scrubPiece(infoHash, pieceIndex),
    stats: (): PieceCacheStats => ({ ...caching.stats(), ...verifying.stats() }),
  };
}
