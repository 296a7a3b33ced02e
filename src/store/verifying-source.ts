// The verifying layer: pieces read from a store as they are held, handed on only once checked against
// what was verified. A piece is SHA-1-checked against its metainfo the first time this process reads it;
// then (policy 'checksum') the sums of its 16 KiB blocks are recorded and every later read, whole or a
// span, is checked against them. What fails is reported through `onCorrupt`: the composition root decides
// what happens to the store (the agent takes the piece out; a read-only process leaves it to the writer).
import { CorruptPieceError, InvalidArgumentError, NotFoundError, StoreCorruptError } from '../errors/index.ts';
import { type Metainfo, pieceHash, pieceSize } from '../metainfo/index.ts';
import { ObjectBlockSums, SUM_BLOCK } from './block-sums.ts';
import { isPieceSpan } from './span.ts';
import type { PieceSource, ScrubResult, Store } from './types.ts';

export type VerifyPolicy = 'checksum' | 'every-read' | 'first-read';

/** What the layer reads: objects, their metainfo and raw bytes, and the events that change them. */
export type RawPieces = Pick<Store, 'get' | 'metainfoOf' | 'readPiece' | 'readPieceSpanSync' | 'on'>;

export interface VerifyingSourceOptions {
  /**
   * True when SHA-1(data) equals `expected`. Must not detach or modify `data` (a transferring hash pool
   * must copy): the same buffer is handed on, and cached by the layer above.
   */
  verify: (data: Uint8Array, expected: Uint8Array) => Promise<boolean>;
  /**
   * 'checksum' (default): SHA-1 on a piece's first read from disk in this process, block sums checked on
   * every later read (several times cheaper), so bytes that rot or are overwritten after the check are never
   * served. 'every-read': a SHA-1 of the whole piece on every read. 'first-read' (an explicit opt-out):
   * SHA-1 on the first read, later reads trusted until the piece leaves the store or is written again.
   */
  verifyPolicy?: VerifyPolicy;
  /**
   * A held piece's bytes failed their check. Resolves true when the piece was taken out of the store (its
   * error then says so); the wiring decides (see removeCorruptPieces).
   */
  onCorrupt: (infoHash: string, pieceIndex: number) => Promise<boolean>;
}

export interface VerifyingStats {
  corruptPieces: number;
  /** readSpanSync answers read at once from the store, and their bytes. */
  directReads: number;
  directBytes: number;
}

/** The usual onCorrupt: the piece leaves the store (reason 'corrupt', so peers and trackers hear of it). */
export function removeCorruptPieces(store: Pick<Store, 'removePieces'>) {
  return async (infoHash: string, pieceIndex: number): Promise<boolean> => {
    try {
      await store.removePieces(infoHash, [pieceIndex], 'corrupt');
      return true;
    } catch {
      return false; // a read-only store cannot remove; the writer's process will find the piece too
    }
  };
}

export class VerifyingSource implements PieceSource {
  readonly #store: RawPieces;
  readonly #verify: VerifyingSourceOptions['verify'];
  readonly #onCorrupt: VerifyingSourceOptions['onCorrupt'];
  readonly #policy: VerifyPolicy;
  /** Pieces hashed since start, per object ('first-read': trusted; 'checksum': their block sums recorded). */
  readonly #verified = new Map<string, Uint8Array>();
  /** Block checksums of the pieces in #verified, per object ('checksum' only). */
  readonly #blockSums = new Map<string, ObjectBlockSums>();
  /** Bumped by every change of an object's pieces: a read that started before must not mark one verified. */
  readonly #epochs = new Map<string, number>();
  #corruptPieces = 0;
  #directReads = 0;
  #directBytes = 0;

  constructor(store: RawPieces, options: VerifyingSourceOptions) {
    this.#store = store;
    this.#verify = options.verify;
    this.#onCorrupt = options.onCorrupt;
    this.#policy = options.verifyPolicy ?? 'checksum';
    // Bytes removed or written again are not the bytes that were checked.
    store.on('pieces-added', (infoHash, pieceIndexes) => this.#forget(infoHash, pieceIndexes));
    store.on('pieces-removed', (infoHash, pieceIndexes) => this.#forget(infoHash, pieceIndexes));
    store.on('object-removed', (infoHash) => this.#forget(infoHash));
  }

  get policy(): VerifyPolicy {
    return this.#policy;
  }

  async getPiece(infoHash: string, pieceIndex: number, signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    const objectKey = this.#objectKeyOf(infoHash);
    const metainfo = this.#heldMetainfo(objectKey, pieceIndex);
    const epoch = this.#epochs.get(objectKey) ?? 0;
    let data: Buffer;
    try {
      data = await this.#store.readPiece(objectKey, pieceIndex);
    } catch (err) {
      if (err instanceof StoreCorruptError) return this.#corrupt(objectKey, pieceIndex, err);
      throw err;
    }
    const known = this.#verifiedSinceStart(objectKey, pieceIndex);
    if (!(await this.#checkRead(objectKey, pieceIndex, data, pieceHash(metainfo, pieceIndex)))) {
      return this.#corrupt(objectKey, pieceIndex);
    }
    if (!known && this.#policy !== 'every-read' && (this.#epochs.get(objectKey) ?? 0) === epoch) {
      this.#remember(objectKey, metainfo, pieceIndex, data);
    }
    return data;
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
    if (!(to - from <= maxReadBytes) || !this.#verifiedSinceStart(objectKey, pieceIndex)) return undefined;
    const sums = this.#blockSums.get(objectKey);
    if (sums !== undefined) return this.#readCheckedSpan(objectKey, pieceIndex, from, to, sums, into);
    let bytes: Buffer | undefined;
    try {
      bytes = this.#store.readPieceSpanSync(objectKey, pieceIndex, from, to, into);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err;
      return undefined; // not held, or unreadable: getPiece says which (and reports a corrupt piece)
    }
    // A read-mode store catches up with the writer inside that call: the piece may have left meanwhile.
    if (bytes === undefined || !this.#verifiedSinceStart(objectKey, pieceIndex)) return undefined;
    this.#directReads++;
    this.#directBytes += bytes.length;
    return bytes;
  }

  /**
   * A span read whole blocks at a time and checked against the blocks' sums. A mismatch answers undefined:
   * the caller's getPiece then reads the piece, finds it corrupt and reports it.
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
    const size = Math.min(object.pieceLength, object.length - pieceIndex * object.pieceLength);
    const blockFrom = from - (from % SUM_BLOCK);
    const blockTo = Math.min(Math.ceil(to / SUM_BLOCK) * SUM_BLOCK, size);
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

  /**
   * Reads a held piece from the store and checks it against its SHA-1, for the background scrub: 'ok'
   * (its block sums recorded anew), 'corrupt' (reported as getPiece would, counted), 'gone' (not held, or
   * removed meanwhile). Nothing is cached by this read.
   */
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
      this.#remember(objectKey, metainfo, pieceIndex, data);
    }
    return 'ok';
  }

  stats(): VerifyingStats {
    return { corruptPieces: this.#corruptPieces, directReads: this.#directReads, directBytes: this.#directBytes };
  }

  async #scrubbedCorrupt(objectKey: string, pieceIndex: number, cause?: unknown): Promise<ScrubResult> {
    try {
      await this.#corrupt(objectKey, pieceIndex, cause);
    } catch (err) {
      if (err instanceof CorruptPieceError) return 'corrupt';
    }
    return 'gone';
  }

  /** The metainfo of an object that holds the piece; NotFoundError if it does not. */
  #heldMetainfo(objectKey: string, pieceIndex: number): Metainfo {
    const object = this.#store.get(objectKey);
    if (object === undefined || !object.bitfield.get(pieceIndex)) {
      throw new NotFoundError(`piece ${pieceIndex} of ${objectKey} is not held`, { subject: objectKey, pieceIndex });
    }
    const metainfo = this.#store.metainfoOf(objectKey);
    if (metainfo === undefined) {
      // Nothing to check the bytes against: they are not handed on (the store reported the damage).
      throw new StoreCorruptError(`the metainfo of ${object.name} (${objectKey}) cannot be read`, {
        subject: objectKey,
      });
    }
    return metainfo;
  }

  /** Bytes just read match what was verified: by SHA-1, or by block sums once known. */
  async #checkRead(objectKey: string, pieceIndex: number, data: Buffer, expected: Uint8Array): Promise<boolean> {
    if (this.#policy === 'every-read' || !this.#verifiedSinceStart(objectKey, pieceIndex)) {
      return this.#verify(data, expected);
    }
    if (this.#policy === 'first-read') return true;
    return this.#blockSums.get(objectKey)?.matches(pieceIndex, 0, data) ?? this.#verify(data, expected);
  }

  async #corrupt(objectKey: string, pieceIndex: number, cause?: unknown): Promise<never> {
    const object = this.#store.get(objectKey);
    if (object === undefined || !object.bitfield.get(pieceIndex)) {
      // Removed while we read it: the bytes were being discarded, not rotting.
      throw new NotFoundError(`piece ${pieceIndex} of ${objectKey} is not held`, { subject: objectKey, pieceIndex });
    }
    this.#corruptPieces++;
    const removed = await this.#onCorrupt(objectKey, pieceIndex).catch(() => false);
    throw new CorruptPieceError(
      `piece ${pieceIndex} of ${object.name} (${objectKey}) does not match its SHA-1 on disk` +
        (removed ? '; it was removed from the store' : ''),
      { subject: objectKey, pieceIndex, cause },
    );
  }

  /** The piece was SHA-1-checked since it last entered the store ('first-read' and 'checksum' policies). */
  #verifiedSinceStart(objectKey: string, pieceIndex: number): boolean {
    const verified = this.#verified.get(objectKey);
    return verified !== undefined && (verified[pieceIndex >> 3]! & (1 << (pieceIndex & 7))) !== 0;
  }

  /** One bit per piece: a store of 100k objects fully read costs megabytes here, not gigabytes of Sets. */
  #remember(objectKey: string, metainfo: Metainfo, pieceIndex: number, data: Buffer): void {
    if (pieceIndex >= metainfo.pieceCount || data.length !== pieceSize(metainfo, pieceIndex)) return;
    let verified = this.#verified.get(objectKey);
    if (verified === undefined) {
      verified = new Uint8Array(Math.ceil(metainfo.pieceCount / 8));
      this.#verified.set(objectKey, verified);
      if (this.#policy === 'checksum') {
        this.#blockSums.set(objectKey, new ObjectBlockSums(metainfo.pieceCount, metainfo.pieceLength));
      }
    }
    this.#blockSums.get(objectKey)?.record(pieceIndex, data);
    verified[pieceIndex >> 3]! |= 1 << (pieceIndex & 7);
  }

  #forget(infoHash: string, pieceIndexes?: number[]): void {
    const objectKey = this.#objectKeyOf(infoHash);
    this.#epochs.set(objectKey, (this.#epochs.get(objectKey) ?? 0) + 1);
    const verified = this.#verified.get(objectKey);
    if (pieceIndexes === undefined) {
      // The epoch stays: a read of the object still in flight must not mark its piece verified.
      this.#verified.delete(objectKey);
      this.#blockSums.delete(objectKey);
    } else if (verified !== undefined) {
      for (const index of pieceIndexes) verified[index >> 3]! &= ~(1 << (index & 7));
    }
  }

  // The last info hash asked for and its lower-cased form: callers pass the store's own string request after
  // request, and a fresh toLowerCase() copy would be hashed anew by every Map lookup.
  #lastInfoHash = '';
  #lastObjectKey = '';

  #objectKeyOf(infoHash: string): string {
    if (infoHash !== this.#lastInfoHash) {
      this.#lastInfoHash = infoHash;
      this.#lastObjectKey = infoHash.toLowerCase();
    }
    return this.#lastObjectKey;
  }
}

/** A span within a piece: 0 <= from < to (<= the piece's size, when known). */
export function checkSpan(from: number, to: number, size?: number): void {
  if (!isPieceSpan(from, to, size)) {
    const piece = size === undefined ? 'a piece' : `a piece of ${size} bytes`;
    throw new InvalidArgumentError(`bytes [${from}, ${to}) are not a span of ${piece}`);
  }
}
