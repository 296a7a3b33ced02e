// The append side of the index journal. Appends are positioned writes at the end of the intact log
// followed by fdatasync; one append carries all the records of one commit. If an append fails (ENOSPC,
// EIO) the file is cut back to its last intact record, so that a later append never lands behind garbage
// that replay would stop at. If even that fails, the journal refuses further appends until the store is
// reopened (open cuts the torn tail).
import { type FileHandle, open } from 'node:fs/promises';
import { type EdgepeerError, fromSystemError, LocalIoError } from '../errors/index.ts';
import { encodeHeader } from './records.ts';

export class JournalWriter {
  readonly path: string;
  readonly generation: number;
  #handle: FileHandle;
  #size: number;
  #broken: EdgepeerError | null = null;

  private constructor(path: string, generation: number, handle: FileHandle, size: number) {
    this.path = path;
    this.generation = generation;
    this.#handle = handle;
    this.#size = size;
  }

  /** A new, empty journal (header only), durable before it returns; the caller fsyncs the folder. */
  static async create(path: string, generation: number): Promise<JournalWriter> {
    const handle = await open(path, 'w');
    try {
      const header = encodeHeader({ kind: 'journal', generation });
      await handle.write(header, 0, header.length, 0);
      await handle.sync();
      return new JournalWriter(path, generation, handle, header.length);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Opens an existing journal for appending after its intact part, cutting off a torn tail. */
  static async resume(path: string, generation: number, intactEnd: number, length: number): Promise<JournalWriter> {
    const handle = await open(path, 'r+');
    try {
      if (length !== intactEnd) {
        await handle.truncate(intactEnd);
        await handle.sync();
      }
      return new JournalWriter(path, generation, handle, intactEnd);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get size(): number {
    return this.#size;
  }

  /** Appends `frames` durably. Not reentrant: the store serialises appends. */
  async append(frames: readonly Buffer[]): Promise<void> {
    if (this.#broken !== null) throw this.#broken;
    const data = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await this.#handle.write(data, written, data.length - written, this.#size + written);
        written += bytesWritten;
      }
      await this.#handle.datasync();
      this.#size += data.length;
    } catch (err) {
      const failure = fromSystemError(err, this.path);
      try {
        await this.#handle.truncate(this.#size);
      } catch (truncateErr) {
        this.#broken = new LocalIoError(
          `the store journal ${this.path} could not be repaired after a failed write; reopen the store`,
          { subject: this.path, cause: truncateErr },
        );
      }
      throw failure;
    }
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}
