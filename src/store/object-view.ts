// The disk store's live view of an object: bitmap, TTL and source follow the store; the metainfo is read
// from the object's folder when first asked for (opening 100k objects reads none).
import type { Metainfo } from '../metainfo/index.ts';
import type { Bitfield } from './bitfield.ts';
import type { ObjectEntry } from './index-file.ts';
import type { StoredObject } from './types.ts';

/** What callers hold of an object: live (bitmap, TTL and source follow the store), metainfo read lazily. */
export class ObjectView implements StoredObject {
  readonly #entry: ObjectEntry;
  readonly #loadMetainfo: (entry: ObjectEntry) => Metainfo;

  constructor(entry: ObjectEntry, loadMetainfo: (entry: ObjectEntry) => Metainfo) {
    this.#entry = entry;
    this.#loadMetainfo = loadMetainfo;
  }
  get infoHash(): string {
    return this.#entry.infoHash;
  }
  get name(): string {
    return this.#entry.name;
  }
  get length(): number {
    return this.#entry.length;
  }
  get pieceLength(): number {
    return this.#entry.pieceLength;
  }
  get pieceCount(): number {
    return this.#entry.pieceCount;
  }
  get metainfo(): Metainfo {
    return this.#loadMetainfo(this.#entry);
  }
  get bitfield(): Bitfield {
    return this.#entry.bitfield;
  }
  get piecesHeld(): number {
    return this.#entry.bitfield.count();
  }
  get complete(): boolean {
    return this.#entry.bitfield.isComplete();
  }
  get addedAt(): number {
    return this.#entry.addedAt;
  }
  get expiresAt(): number | null {
    return this.#entry.expiresAt;
  }
  get source(): string | null {
    return this.#entry.source;
  }
  /** Plain data for logs and --json: the summary without the metainfo, the bitfield as hex. */
  toJSON(): Record<string, unknown> {
    const entry = this.#entry;
    return {
      infoHash: entry.infoHash,
      name: entry.name,
      length: entry.length,
      pieceLength: entry.pieceLength,
      pieces: entry.pieceCount,
      piecesHeld: entry.bitfield.count(),
      complete: entry.bitfield.isComplete(),
      addedAt: entry.addedAt,
      expiresAt: entry.expiresAt,
      source: entry.source,
      bitfield: entry.bitfield.toBuffer().toString('hex'),
    };
  }
}
