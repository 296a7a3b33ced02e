// An object's data files as the disk store reads and writes them: one pooled handle per open file, pieces
// and spans read across file boundaries, pieces written span by span (the group commit fdatasyncs the
// handles it gets back), and the space of removed pieces given back. A data file that should be there and
// is not, or is shorter than its metainfo says, is StoreCorruptError: lost data, not a passing failure.
import { readSync } from 'node:fs';
import { join } from 'node:path';
import { fromSystemError, StoreCorruptError } from '../errors/index.ts';
import { byteRangeSpans, type Metainfo, pieceSize, pieceSpans } from '../metainfo/index.ts';
import { punchHole } from './fs-util.ts';
import { HandlePool, type PooledHandle } from './handles.ts';
import type { ObjectEntry } from './index-file.ts';
import { contentFilePath, DATA_DIR, objectDir } from './layout.ts';

export class DataFiles {
  readonly #dataDir: string;
  readonly #handles: HandlePool;
  /** A number per ObjectEntry, so that handles of a removed object are never reused for a new one. */
  readonly #incarnations = new WeakMap<ObjectEntry, number>();
  #nextIncarnation = 1;

  constructor(dataDir: string, options: { writable: boolean; maxOpen: number }) {
    this.#dataDir = dataDir;
    this.#handles = new HandlePool(options);
  }

  /** The folder laid out as the torrent's files (data/<name> or data/<name>/<path...>). */
  folderOf(infoHash: string): string {
    return join(objectDir(this.#dataDir, infoHash), DATA_DIR);
  }

  /** A held piece's bytes as they are on disk (the caller checked it is held). */
  async readPiece(entry: ObjectEntry, metainfo: Metainfo, pieceIndex: number): Promise<Buffer> {
    const piece = Buffer.allocUnsafe(pieceSize(metainfo, pieceIndex));
    const folder = this.folderOf(entry.infoHash);
    let filled = 0;
    for (const span of pieceSpans(metainfo, pieceIndex)) {
      const path = contentFilePath(folder, metainfo, span.fileIndex);
      const pooled = await this.#acquire(entry, span.fileIndex, path);
      try {
        for (let done = 0; done < span.length; ) {
          const { bytesRead } = await pooled.handle.read(
            piece,
            filled + done,
            span.length - done,
            span.fileOffset + done,
          );
          done += bytesOrShortFile(bytesRead, path, entry.infoHash);
        }
      } catch (err) {
        throw fromSystemError(err, path);
      } finally {
        this.#handles.release(pooled);
      }
      filled += span.length;
    }
    return piece;
  }

  /**
   * Bytes [from, to) of a piece (a span the caller checked), read synchronously on handles already open;
   * undefined, touching no disk, when one is not. Into `into` when given (the caller checked its size).
   */
  readSpanSync(
    entry: ObjectEntry,
    metainfo: Metainfo,
    pieceIndex: number,
    from: number,
    to: number,
    into?: Buffer,
  ): Buffer | undefined {
    const spans = byteRangeSpans(metainfo, pieceIndex * metainfo.pieceLength + from, to - from);
    // Every handle first: a span read only partly would be wasted when the caller falls back to readPiece.
    const handles: PooledHandle[] = [];
    for (const span of spans) {
      const pooled = this.#handles.acquireOpen(this.#handleKey(entry, span.fileIndex));
      if (pooled === undefined) {
        for (const held of handles) this.#handles.release(held);
        return undefined;
      }
      handles.push(pooled);
    }
    const bytes = into === undefined ? Buffer.allocUnsafe(to - from) : into.subarray(0, to - from);
    let filled = 0;
    try {
      for (let spanIndex = 0; spanIndex < spans.length; spanIndex++) {
        const span = spans[spanIndex]!;
        const pooled = handles[spanIndex]!;
        try {
          for (let done = 0; done < span.length; ) {
            const bytesRead = readSync(
              pooled.handle.fd,
              bytes,
              filled + done,
              span.length - done,
              span.fileOffset + done,
            );
            done += bytesOrShortFile(bytesRead, pooled.path, entry.infoHash);
          }
        } catch (err) {
          throw fromSystemError(err, pooled.path);
        }
        filled += span.length;
      }
    } finally {
      for (const pooled of handles) this.#handles.release(pooled);
    }
    return bytes;
  }

  /**
   * Writes a piece's bytes into its files. Resolves with the handles written through, still acquired:
   * the caller fdatasyncs them and gives each back with release(). On failure nothing stays acquired.
   */
  async writePiece(
    entry: ObjectEntry,
    metainfo: Metainfo,
    pieceIndex: number,
    data: Uint8Array,
  ): Promise<PooledHandle[]> {
    const folder = this.folderOf(entry.infoHash);
    const acquired: PooledHandle[] = [];
    try {
      let offset = 0;
      for (const span of pieceSpans(metainfo, pieceIndex)) {
        const path = contentFilePath(folder, metainfo, span.fileIndex);
        const pooled = await this.#acquire(entry, span.fileIndex, path);
        acquired.push(pooled);
        try {
          let done = 0;
          while (done < span.length) {
            const { bytesWritten } = await pooled.handle.write(
              data,
              offset + done,
              span.length - done,
              span.fileOffset + done,
            );
            done += bytesWritten;
          }
        } catch (err) {
          throw fromSystemError(err, path);
        }
        offset += span.length;
      }
    } catch (err) {
      for (const pooled of acquired) this.#handles.release(pooled);
      throw err;
    }
    return acquired;
  }

  release(pooled: PooledHandle): void {
    this.#handles.release(pooled);
  }

  /**
   * After the bitmap durably lost `removed`: a file no held piece touches is cut to nothing and grown
   * back (all sparse); in other files the removed pieces' bytes become holes.
   */
  async releaseSpace(entry: ObjectEntry, metainfo: Metainfo, removed: number[]): Promise<void> {
    const folder = this.folderOf(entry.infoHash);
    const ranges = new Map<number, [number, number][]>();
    for (const index of removed) {
      for (const span of pieceSpans(metainfo, index)) {
        const list = ranges.get(span.fileIndex) ?? [];
        const last = list.at(-1);
        if (last !== undefined && last[0] + last[1] === span.fileOffset) last[1] += span.length;
        else list.push([span.fileOffset, span.length]);
        ranges.set(span.fileIndex, list);
      }
    }
    for (const [fileIndex, list] of ranges) {
      const file = metainfo.files[fileIndex]!;
      const path = contentFilePath(folder, metainfo, fileIndex);
      const first = Math.floor(file.offset / metainfo.pieceLength);
      const last = Math.floor((file.offset + file.length - 1) / metainfo.pieceLength);
      let touched = false;
      for (let index = first; index <= last && !touched; index++) touched = entry.bitfield.get(index);
      if (!touched) {
        const pooled = await this.#acquire(entry, fileIndex, path);
        try {
          await pooled.handle.truncate(0);
          await pooled.handle.truncate(file.length);
        } finally {
          this.#handles.release(pooled);
        }
        continue;
      }
      for (const [offset, length] of list) await punchHole(path, offset, length);
    }
  }

  /** Closes the handles of an object that left the store. */
  drop(infoHash: string): void {
    this.#handles.drop(`${infoHash}/`);
  }

  close(): Promise<void> {
    return this.#handles.closeAll();
  }

  #handleKey(entry: ObjectEntry, fileIndex: number): string {
    let incarnation = this.#incarnations.get(entry);
    if (incarnation === undefined) {
      incarnation = this.#nextIncarnation++;
      this.#incarnations.set(entry, incarnation);
    }
    return `${entry.infoHash}/${incarnation}/${fileIndex}`;
  }

  /** A pooled handle on a data file; a file that should be there and is not means lost data. */
  async #acquire(entry: ObjectEntry, fileIndex: number, path: string): Promise<PooledHandle> {
    try {
      return await this.#handles.acquire(this.#handleKey(entry, fileIndex), path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP') {
        throw new StoreCorruptError(`${path}, a data file of ${entry.infoHash}, is missing or not a regular file`, {
          subject: path,
          cause: err,
        });
      }
      throw fromSystemError(err, path);
    }
  }
}

/** A read's byte count; none means the file ends before its metainfo says it does. */
function bytesOrShortFile(bytesRead: number, path: string, infoHash: string): number {
  if (bytesRead === 0) {
    throw new StoreCorruptError(`${path} is shorter than the metainfo of ${infoHash} says`, { subject: path });
  }
  return bytesRead;
}
