// A store that keeps objects and their pieces in memory: for tests of the parts that read a catalog and
// its pieces (wire, HTTP, announces, scrub), and for processes that keep nothing on disk. Same contract as
// the disk store (test/store/store-contract.ts runs against both), without durability, staging or
// data files: what it holds is gone when the process ends.
import { EventEmitter } from 'node:events';
import { InvalidArgumentError, LocalIoError } from '../errors/index.ts';
import { type Metainfo, pieceSize } from '../metainfo/index.ts';
import { Bitfield } from './bitfield.ts';
import {
  bufferTooSmall,
  checkMetainfo,
  checkPieceIndex,
  checkReason,
  expiryOf,
  findObject,
  notASpan,
  objectNotFound,
  pieceNotHeld,
  wrongPieceSize,
} from './checks.ts';
import type { ObjectEntry } from './index-file.ts';
import { ObjectView } from './object-view.ts';
import { isPieceSpan } from './span.ts';
import type { AddObjectOptions, DataFileFinding, RemovalReason, Store, StoredObject, StoreEvents } from './types.ts';

/** An object held in memory: the disk store's entry (summary and bitmap), its metainfo and its bytes. */
interface MemoryEntry extends ObjectEntry {
  readonly metainfo: Metainfo;
  /** Held pieces' bytes, by index (a copy of what was written). */
  readonly pieces: Map<number, Buffer>;
}

export class MemoryStore extends EventEmitter<StoreEvents> implements Store {
  readonly mode = 'write' as const;
  readonly #entries = new Map<string, { entry: MemoryEntry; view: ObjectView }>();
  #closed = false;

  list(): StoredObject[] {
    return [...this.#entries.values()].map(({ view }) => view);
  }

  get(infoHash: string): StoredObject | undefined {
    return (this.#entries.get(infoHash) ?? this.#entries.get(infoHash.toLowerCase()))?.view;
  }

  metainfoOf(infoHash: string): Metainfo | undefined {
    return this.get(infoHash)?.metainfo;
  }

  find(id: string): StoredObject {
    return findObject(this.list(), (infoHash) => this.get(infoHash), id);
  }

  listExpired(now: number = Date.now()): StoredObject[] {
    return this.list().filter((object) => object.expiresAt !== null && object.expiresAt <= now);
  }

  async addObject(metainfo: Metainfo, options: AddObjectOptions = {}): Promise<StoredObject> {
    this.#assertOpen();
    checkMetainfo(metainfo);
    const expiresAt = expiryOf(options);
    const existing = this.#entries.get(metainfo.infoHash);
    if (existing !== undefined) {
      existing.entry.expiresAt = expiresAt ?? existing.entry.expiresAt;
      existing.entry.source = options.source ?? existing.entry.source;
      return existing.view;
    }
    const entry: MemoryEntry = {
      infoHash: metainfo.infoHash,
      name: metainfo.name,
      pieceLength: metainfo.pieceLength,
      pieceCount: metainfo.pieceCount,
      length: metainfo.length,
      metainfo,
      bitfield: new Bitfield(metainfo.pieceCount),
      pieces: new Map(),
      addedAt: Date.now(),
      expiresAt,
      source: options.source ?? null,
    };
    // The disk store's view, its metainfo at hand.
    const view = new ObjectView(entry, () => metainfo);
    this.#entries.set(metainfo.infoHash, { entry, view });
    this.#emit('object-added', view);
    return view;
  }

  async writePiece(infoHash: string, pieceIndex: number, data: Uint8Array): Promise<void> {
    this.#assertOpen();
    const { entry, view } = this.#entryOrThrow(infoHash);
    checkPieceIndex(view, pieceIndex);
    if (entry.bitfield.get(pieceIndex)) return; // verified bytes are never rewritten under readers
    const size = pieceSize(entry.metainfo, pieceIndex);
    if (data.byteLength !== size) throw wrongPieceSize(view, pieceIndex, size, data.byteLength);
    entry.pieces.set(pieceIndex, Buffer.from(data));
    entry.bitfield.set(pieceIndex, true);
    this.#emit('pieces-added', view.infoHash, [pieceIndex]);
  }

  async readPiece(infoHash: string, pieceIndex: number): Promise<Buffer> {
    return Buffer.from(this.#heldPiece(infoHash, pieceIndex));
  }

  readPieceSpanSync(infoHash: string, pieceIndex: number, from: number, to: number, into?: Buffer): Buffer | undefined {
    const piece = this.#heldPiece(infoHash, pieceIndex);
    const view = this.get(infoHash)!;
    if (!isPieceSpan(from, to, piece.length)) throw notASpan(view, pieceIndex, from, to, piece.length);
    if (into === undefined) return Buffer.from(piece.subarray(from, to));
    if (into.length < to - from) throw bufferTooSmall(view, into, to - from);
    piece.copy(into, 0, from, to);
    return into.subarray(0, to - from);
  }

  async removePieces(infoHash: string, pieceIndexes: number[], reason: RemovalReason): Promise<void> {
    this.#assertOpen();
    checkReason(reason);
    const { entry, view } = this.#entryOrThrow(infoHash);
    if (!Array.isArray(pieceIndexes)) throw new InvalidArgumentError('pieceIndexes must be an array of piece indexes');
    for (const index of pieceIndexes) checkPieceIndex(view, index);
    const held = [...new Set(pieceIndexes)].filter((index) => entry.bitfield.get(index)).sort((a, b) => a - b);
    if (held.length === 0) return;
    for (const index of held) {
      entry.bitfield.set(index, false);
      entry.pieces.delete(index);
    }
    this.#emit('pieces-removed', view.infoHash, held, reason);
  }

  async removeObject(infoHash: string, reason: RemovalReason): Promise<void> {
    this.#assertOpen();
    checkReason(reason);
    const { view } = this.#entryOrThrow(infoHash);
    this.#entries.delete(view.infoHash);
    this.#emit('object-removed', view.infoHash, reason);
  }

  /** No data files: nothing to find wrong. */
  async checkDataFiles(): Promise<DataFileFinding[]> {
    return [];
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #entryOrThrow(infoHash: string): { entry: MemoryEntry; view: ObjectView } {
    const found = this.#entries.get(infoHash.toLowerCase());
    if (found === undefined) throw objectNotFound(infoHash);
    return found;
  }

  #heldPiece(infoHash: string, pieceIndex: number): Buffer {
    const { entry, view } = this.#entryOrThrow(infoHash);
    checkPieceIndex(view, pieceIndex);
    const piece = entry.pieces.get(pieceIndex);
    if (piece === undefined) throw pieceNotHeld(view, pieceIndex);
    return piece;
  }

  #assertOpen(): void {
    if (this.#closed) throw new LocalIoError('the memory store is closed');
  }

  /** As the disk store: a listener that throws must not undo the change; it is rethrown on its own. */
  #emit<K extends keyof StoreEvents>(event: K, ...args: StoreEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: StoreEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }
}
