// Lines queued for the file, encoded (or written, by the HTTP line formatter) into reused chunks as they come. A quarter second of records joined into
// one string and encoded at write time took two fresh allocations of megabytes per write; on these VMs the
// first touch of fresh pages costs more than building the lines (a 1.9 MB Buffer.from: 10-20 ms).

/** Bytes per chunk; a line longer than this gets a chunk of its own. */
const CHUNK_BYTES = 256 * 1024;
/** Chunks kept for reuse after a write; more are left to the GC. */
const SPARE_CHUNKS = 16;

export interface TakenLines {
  buffers: Buffer[];
  lines: number;
  bytes: number;
}

export class LineBuffers {
  #full: Buffer[] = [];
  #current: Buffer | null = null;
  #used = 0;
  #lines = 0;
  #bytes = 0;
  readonly #spare: Buffer[] = [];

  /** Lines queued since the last take. */
  get lines(): number {
    return this.#lines;
  }

  /** Bytes queued since the last take. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Where the next line's bytes go in the chunk reserve() returns. */
  get pos(): number {
    return this.#used;
  }

  /** The chunk to write the next line into, from `pos`, with at least `most` bytes of room. */
  reserve(most: number): Buffer {
    if (this.#current === null || this.#used + most > this.#current.length) this.#nextChunk(most);
    return this.#current as Buffer;
  }

  /** The line written into reserve()'s chunk ends at `end`. */
  commit(end: number): void {
    this.#bytes += end - this.#used;
    this.#used = end;
    this.#lines += 1;
  }

  push(line: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const most = line.length * 3;
    if (this.#current === null || this.#used + most > this.#current.length) this.#nextChunk(most);
    const current = this.#current as Buffer;
    const written = current.write(line, this.#used);
    this.#used += written;
    this.#bytes += written;
    this.#lines += 1;
  }

  /** Everything queued, as buffers to write; hand them back with release() once written. */
  take(): TakenLines {
    if (this.#current !== null && this.#used > 0) this.#full.push(this.#current.subarray(0, this.#used));
    const taken = { buffers: this.#full, lines: this.#lines, bytes: this.#bytes };
    this.#full = [];
    this.#current = null;
    this.#used = 0;
    this.#lines = 0;
    this.#bytes = 0;
    return taken;
  }

  release(buffers: readonly Buffer[]): void {
    for (const buffer of buffers) {
      if (this.#spare.length >= SPARE_CHUNKS) return;
      if (buffer.buffer.byteLength === CHUNK_BYTES && buffer.byteOffset === 0) {
        this.#spare.push(Buffer.from(buffer.buffer, 0, CHUNK_BYTES));
      }
    }
  }

  #nextChunk(most: number): void {
    if (this.#current !== null && this.#used > 0) this.#full.push(this.#current.subarray(0, this.#used));
    this.#current =
      most > CHUNK_BYTES ? Buffer.allocUnsafeSlow(most) : (this.#spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES));
    this.#used = 0;
  }
}
