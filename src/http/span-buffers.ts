// Buffers for direct reads of ranges, reused once the socket has taken their bytes. Allocating one per
// request (a 16 KiB ArrayBuffer each) kept V8's garbage collector busy for a sixth of the HTTP thread's
// time under random 16 KiB ranges that miss the piece cache.

/** Smallest buffer handed out; sizes go up in powers of two from here. */
const SMALLEST = 16 * 1024;

export class SpanBuffers {
  readonly #free = new Map<number, Buffer[]>();
  readonly #maxIdleBytes: number;
  #idleBytes = 0;

  /** Keeps at most `maxIdleBytes` of returned buffers for reuse; the rest go to the garbage collector. */
  constructor(maxIdleBytes: number) {
    this.#maxIdleBytes = maxIdleBytes;
  }

  /** A buffer of at least `length` bytes, its contents undefined. */
  take(length: number): Buffer {
    const size = sizeClass(length);
    const reused = this.#free.get(size)?.pop();
    if (reused !== undefined) {
      this.#idleBytes -= size;
      return reused;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /** Gives back a buffer from take() that nothing references any more. */
  give(buffer: Buffer): void {
    if (this.#idleBytes + buffer.length > this.#maxIdleBytes) return;
    let list = this.#free.get(buffer.length);
    if (list === undefined) {
      list = [];
      this.#free.set(buffer.length, list);
    }
    list.push(buffer);
    this.#idleBytes += buffer.length;
  }

  get idleBytes(): number {
    return this.#idleBytes;
  }
}

function sizeClass(length: number): number {
  let size = SMALLEST;
  while (size < length) size *= 2;
  return size;
}
