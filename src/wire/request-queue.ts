// A peer's queued block requests: a bounded FIFO of (piece, begin, length) triples in one typed array,
// so queueing a request allocates nothing.

export class RequestQueue {
  readonly capacity: number;
  #slots: Uint32Array | null = null; // allocated on first use: most connections never request
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#size;
  }

  /** False when full. */
  push(pieceIndex: number, begin: number, length: number): boolean {
    if (this.#size >= this.capacity) return false;
    this.#slots ??= new Uint32Array(this.capacity * 3);
    const at = ((this.#head + this.#size) % this.capacity) * 3;
    this.#slots[at] = pieceIndex;
    this.#slots[at + 1] = begin;
    this.#slots[at + 2] = length;
    this.#size++;
    return true;
  }

  /** Piece index of the oldest request; call only when size > 0. */
  headPiece(): number {
    return this.#slots![this.#head * 3]!;
  }

  headBegin(): number {
    return this.#slots![this.#head * 3 + 1]!;
  }

  headLength(): number {
    return this.#slots![this.#head * 3 + 2]!;
  }

  shift(): void {
    if (this.#size === 0) return;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
  }

  /** Removes the first request equal to the triple; true if there was one. */
  remove(pieceIndex: number, begin: number, length: number): boolean {
    let found = false;
    this.#filter((p, b, l) => {
      if (!found && p === pieceIndex && b === begin && l === length) {
        found = true;
        return false;
      }
      return true;
    });
    return found;
  }

  /** Removes every request for a piece in `pieces`, calling `removed` for each, oldest first. */
  removePieces(
    pieces: ReadonlySet<number>,
    removed: (pieceIndex: number, begin: number, length: number) => void,
  ): void {
    this.removeWhere((p) => pieces.has(p), removed);
  }

  /** Removes the requests for which `remove` is true, calling `removed` for each, oldest first. */
  removeWhere(
    remove: (pieceIndex: number, begin: number, length: number) => boolean,
    removed: (pieceIndex: number, begin: number, length: number) => void,
  ): void {
    this.#filter((p, b, l) => {
      if (!remove(p, b, l)) return true;
      removed(p, b, l);
      return false;
    });
  }

  /** Empties the queue, calling `removed` for each request, oldest first. */
  drain(removed?: (pieceIndex: number, begin: number, length: number) => void): void {
    if (removed !== undefined) {
      this.#filter((p, b, l) => {
        removed(p, b, l);
        return false;
      });
    }
    this.#head = 0;
    this.#size = 0;
  }

  /** Up to `count` distinct pieces requested, in queue order, other than `except`. */
  nextPiecesOtherThan(except: number, count: number): number[] {
    const pieces: number[] = [];
    for (let i = 0; i < this.#size && pieces.length < count; i++) {
      const p = this.#slots![((this.#head + i) % this.capacity) * 3]!;
      if (p !== except && !pieces.includes(p)) pieces.push(p);
    }
    return pieces;
  }

  /** Keeps the requests for which `keep` is true, in order. */
  #filter(keep: (pieceIndex: number, begin: number, length: number) => boolean): void {
    const slots = this.#slots;
    if (slots === null || this.#size === 0) return;
    let kept = 0;
    const size = this.#size;
    for (let i = 0; i < size; i++) {
      const from = ((this.#head + i) % this.capacity) * 3;
      const p = slots[from]!;
      const b = slots[from + 1]!;
      const l = slots[from + 2]!;
      if (!keep(p, b, l)) continue;
      const to = ((this.#head + kept) % this.capacity) * 3;
      slots[to] = p;
      slots[to + 1] = b;
      slots[to + 2] = l;
      kept++;
    }
    this.#size = kept;
  }
}
