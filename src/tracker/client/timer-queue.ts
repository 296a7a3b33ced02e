// Time for the announce client: a clock that tests and the load simulation can replace, and one queue of
// due times (a binary heap) driving a single timer, so 100k objects cost 100k heap entries, not timers.

export interface Clock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    // Announces never keep a process alive on their own; the agent's servers do.
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

interface Entry<T> {
  at: number;
  seq: number;
  item: T;
  /** Position in the heap, kept current by every move, so removal needs no search. */
  index: number;
}

/** Items due at times; `onDue` gets every item whose time has come, in time order, in one call. */
export class TimerQueue<T> {
  readonly #heap: Entry<T>[] = [];
  readonly #entries = new Map<T, Entry<T>>();
  readonly #clock: Clock;
  readonly #onDue: (items: T[]) => void;
  #timer: unknown;
  #timerAt = Number.POSITIVE_INFINITY;
  #seq = 0;
  #stopped = false;

  constructor(clock: Clock, onDue: (items: T[]) => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** When the item is due, or undefined if it is not queued. */
  dueAt(item: T): number | undefined {
    return this.#entries.get(item)?.at;
  }

  /** Queues the item at `at` (ms), replacing its earlier time if it had one. */
  schedule(item: T, at: number): void {
    this.remove(item);
    const entry = { at, seq: this.#seq++, item, index: this.#heap.length };
    this.#entries.set(item, entry);
    this.#heap.push(entry);
    this.#up(entry.index);
    this.#arm();
  }

  remove(item: T): void {
    const entry = this.#entries.get(item);
    if (entry === undefined) return;
    this.#entries.delete(item);
    const index = entry.index;
    const last = this.#heap.pop()!;
    if (last !== entry) {
      this.#heap[index] = last;
      last.index = index;
      this.#down(index);
      this.#up(last.index);
    }
  }

  /** Stops the timer; items stay queued but never fire. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#stopped) return;
    const first = this.#heap[0];
    if (first === undefined || first.at >= this.#timerAt) return;
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timerAt = first.at;
    this.#timer = this.#clock.setTimer(() => this.#fire(), first.at - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    const due: T[] = [];
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const entry = this.#heap[0]!;
      this.remove(entry.item);
      due.push(entry.item);
    }
    this.#arm();
    if (due.length > 0) this.#onDue(due);
  }

  #less(a: Entry<T>, b: Entry<T>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #up(index: number): void {
    const heap = this.#heap;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i]!, heap[parent]!)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(index: number): void {
    const heap = this.#heap;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.#less(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.#less(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      this.#swap(i, smallest);
      i = smallest;
    }
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    const first = heap[a]!;
    const second = heap[b]!;
    heap[a] = second;
    heap[b] = first;
    second.index = a;
    first.index = b;
  }
}
