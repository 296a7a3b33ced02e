// A small in-memory store and piece cache with the contracts of src/store/types.ts, for fast HTTP tests.
// The cache verifies every piece it hands out and drops a corrupt one, as the real cache does.
import { createHash } from 'node:crypto';
import { CorruptPieceError, NotFoundError } from '../../src/errors/index.ts';
import type { HttpStore } from '../../src/http/index.ts';
import { buildMetainfo, type Metainfo } from '../../src/metainfo/index.ts';
import type { BitfieldView, PieceCache, StoredObject } from '../../src/store/types.ts';

class MemoryBitfield implements BitfieldView {
  readonly length: number;
  private readonly bits: boolean[];
  constructor(length: number) {
    this.length = length;
    this.bits = new Array(length).fill(false);
  }
  get(pieceIndex: number): boolean {
    return this.bits[pieceIndex] === true;
  }
  set(pieceIndex: number, value: boolean): void {
    this.bits[pieceIndex] = value;
  }
  count(): number {
    return this.bits.filter(Boolean).length;
  }
  toBuffer(): Buffer {
    const out = Buffer.alloc(Math.ceil(this.length / 8));
    this.bits.forEach((bit, i) => {
      if (bit) out[i >> 3]! |= 0x80 >> (i & 7);
    });
    return out;
  }
}

interface Entry {
  object: StoredObject;
  bitfield: MemoryBitfield;
  /** The object's bytes as held (may be corrupted on purpose by a test). */
  data: Buffer;
}

export class MemoryStore implements HttpStore {
  readonly entries = new Map<string, Entry>();
  readonly written: { infoHash: string; pieceIndex: number }[] = [];

  /** Adds an object whose content is `data`; `held` lists the pieces present (default: all). */
  add(metainfo: Metainfo, data: Buffer, options: { held?: number[]; source?: string; addedAt?: number } = {}) {
    const bitfield = new MemoryBitfield(metainfo.pieceCount);
    const held = options.held ?? [...Array(metainfo.pieceCount).keys()];
    for (const index of held) bitfield.set(index, true);
    const stored = Buffer.alloc(metainfo.length);
    for (const index of held) {
      const start = index * metainfo.pieceLength;
      data.copy(stored, start, start, Math.min(metainfo.length, start + metainfo.pieceLength));
    }
    const object: StoredObject = {
      infoHash: metainfo.infoHash,
      name: metainfo.name,
      length: metainfo.length,
      metainfo,
      bitfield,
      get piecesHeld() {
        return bitfield.count();
      },
      get complete() {
        return bitfield.count() === metainfo.pieceCount;
      },
      addedAt: options.addedAt ?? Date.now(),
      expiresAt: null,
      source: options.source ?? null,
    };
    this.entries.set(metainfo.infoHash, { object, bitfield, data: stored });
    return object;
  }

  get(infoHash: string): StoredObject | undefined {
    return this.entries.get(infoHash)?.object;
  }

  async writePiece(infoHash: string, pieceIndex: number, data: Uint8Array): Promise<void> {
    const entry = this.entries.get(infoHash);
    if (entry === undefined) throw new NotFoundError(`no object ${infoHash}`);
    entry.data.set(data, pieceIndex * entry.object.metainfo.pieceLength);
    entry.bitfield.set(pieceIndex, true);
    this.written.push({ infoHash, pieceIndex });
  }

  /** Flips a byte of a held piece, as bit rot on disk would. */
  corrupt(infoHash: string, offset: number): void {
    const entry = this.entries.get(infoHash)!;
    entry.data[offset]! ^= 0xff;
  }
}

export class MemoryPieceCache implements Pick<PieceCache, 'getPiece' | 'readSpanSync'> {
  private readonly store: MemoryStore;
  corruptPieces = 0;
  reads = 0;
  /** Spans answered at once by readSpanSync. */
  spanReads = 0;
  constructor(store: MemoryStore) {
    this.store = store;
  }

  /**
   * Like the real cache's direct read: the span's bytes at once, copied `into` the caller's buffer when
   * given. The piece is hashed first (this cache trusts nothing); a mismatch answers undefined and leaves
   * the verdict to getPiece, as the real cache does.
   */
  readSpanSync(infoHash: string, pieceIndex: number, from: number, to: number, maxDiskBytes: number, into?: Buffer) {
    const entry = this.store.entries.get(infoHash);
    if (entry === undefined || !entry.bitfield.get(pieceIndex) || to - from > maxDiskBytes) return undefined;
    const piece = this.pieceOf(entry, pieceIndex);
    if (!createHash('sha1').update(piece).digest().equals(this.hashOf(entry, pieceIndex))) return undefined;
    this.spanReads += 1;
    if (into === undefined) return piece.subarray(from, to);
    piece.copy(into, 0, from, to);
    return into.subarray(0, to - from);
  }

  private pieceOf(entry: { object: StoredObject; data: Buffer }, pieceIndex: number): Buffer {
    const { metainfo } = entry.object;
    const start = pieceIndex * metainfo.pieceLength;
    return entry.data.subarray(start, Math.min(metainfo.length, start + metainfo.pieceLength));
  }

  private hashOf(entry: { object: StoredObject }, pieceIndex: number): Buffer {
    return entry.object.metainfo.pieceHashes.subarray(pieceIndex * 20, pieceIndex * 20 + 20);
  }

  async getPiece(infoHash: string, pieceIndex: number): Promise<Buffer> {
    this.reads += 1;
    const entry = this.store.entries.get(infoHash);
    if (entry === undefined || !entry.bitfield.get(pieceIndex)) {
      throw new NotFoundError(`piece ${pieceIndex} of ${infoHash} is not held`);
    }
    const piece = this.pieceOf(entry, pieceIndex);
    if (!createHash('sha1').update(piece).digest().equals(this.hashOf(entry, pieceIndex))) {
      entry.bitfield.set(pieceIndex, false);
      this.corruptPieces += 1;
      throw new CorruptPieceError(`piece ${pieceIndex} of ${infoHash} is corrupt`);
    }
    return piece;
  }
}

/** Deterministic pseudo-random bytes (so failures reproduce). */
export function testBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Metainfo for `files` (one entry with path [] for a single-file torrent) holding `data` concatenated. */
export function metainfoFor(
  name: string,
  pieceLength: number,
  files: { path: string[]; length: number }[],
  data: Buffer,
  extra: { creationDate?: number } = {},
): Metainfo {
  const hashes: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += pieceLength) {
    hashes.push(
      createHash('sha1')
        .update(data.subarray(offset, offset + pieceLength))
        .digest(),
    );
  }
  const multiFile = !(files.length === 1 && files[0]!.path.length === 0);
  return buildMetainfo({ name, pieceLength, multiFile, files, pieceHashes: Buffer.concat(hashes), ...extra });
}
