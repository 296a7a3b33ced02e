// The append side of the index journal. Appends are positioned writes at the end of the intact log
// followed by fdatasync; one append carries all the records of one commit.
//
// The file is kept allocated ahead of the log with zeros (a reserve of RESERVE_BYTES): zeros never parse
// as a frame, so replay stops there, and a full disk still leaves room for the small records that free
// space (a purge must not need space it is trying to free). If an append fails (ENOSPC, EIO) its bytes are
// overwritten with zeros, so that nothing the caller was told failed can replay, and a later append never
// lands behind garbage. If even that fails, the journal refuses appends until the store is reopened
// (open clears the torn tail).
import { type FileHandle, open } from 'node:fs/promises';
import { type EdgepeerError, fromSystemError, LocalIoError } from '../errors/index.ts';
import { encodeHeader } from './records.ts';

export const RESERVE_BYTES = 64 * 1024;
const ZEROS = Buffer.alloc(RESERVE_BYTES);

export class JournalWriter {
  readonly path: string;
  readonly generation: number;
  #handle: FileHandle;
  #size: number;
  /** Bytes written to the file (log + zeros); the log ends at #size. */
  #allocated: number;
  #broken: EdgepeerError | null = null;

  private constructor(path: string, generation: number, handle: FileHandle, size: number, allocated: number) {
    this.path = path;
    this.generation = generation;
    this.#handle = handle;
    this.#size = size;
    this.#allocated = Math.max(size, allocated);
  }

  /** A new, empty journal (header only), durable before it returns; the caller fsyncs the folder. */
  static async create(path: string, generation: number): Promise<JournalWriter> {
    const handle = await open(path, 'w');
    try {
      const header = encodeHeader({ kind: 'journal', generation });
      await handle.write(header, 0, header.length, 0);
      const reserved = await handle.write(ZEROS, 0, ZEROS.length, header.length).then(
        ({ bytesWritten }) => bytesWritten,
        () => 0, // a full disk: the journal works without its reserve
      );
      await handle.sync();
      return new JournalWriter(path, generation, handle, header.length, header.length + reserved);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Opens an existing journal for appending after its intact part, zeroing a torn tail. */
  static async resume(path: string, generation: number, intactEnd: number, length: number): Promise<JournalWriter> {
    const handle = await open(path, 'r+');
    try {
      if (length > intactEnd) {
        const tail = Buffer.alloc(length - intactEnd);
        await handle.read(tail, 0, tail.length, intactEnd);
        if (tail.some((byte) => byte !== 0)) {
          await handle.write(Buffer.alloc(tail.length), 0, tail.length, intactEnd);
          await handle.datasync();
        }
      }
      return new JournalWriter(path, generation, handle, intactEnd, length);
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
    await this.#extendReserve(data.length);
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await this.#handle.write(data, written, data.length - written, this.#size + written);
        written += bytesWritten;
      }
      await this.#handle.datasync();
      this.#size += data.length;
      this.#allocated = Math.max(this.#allocated, this.#size);
    } catch (err) {
      const failure = fromSystemError(err, this.path);
      try {
        await this.#handle.write(Buffer.alloc(data.length), 0, data.length, this.#size);
        await this.#handle.datasync();
      } catch (repairErr) {
        this.#broken = new LocalIoError(
          `the store journal ${this.path} could not be repaired after a failed write; reopen the store`,
          { subject: this.path, cause: repairErr },
        );
      }
      throw failure;
    }
  }

  /** Keeps RESERVE_BYTES of zeros allocated beyond the log; on a full disk, appends use what is left. */
  async #extendReserve(incoming: number): Promise<void> {
    const wanted = this.#size + incoming + RESERVE_BYTES;
    if (wanted <= this.#allocated) return;
    const target = Math.ceil(wanted / RESERVE_BYTES) * RESERVE_BYTES;
    while (this.#allocated < target) {
      const length = Math.min(ZEROS.length, target - this.#allocated);
      try {
        const { bytesWritten } = await this.#handle.write(ZEROS, 0, length, this.#allocated);
        this.#allocated += bytesWritten;
      } catch {
        return;
      }
    }
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}
