// A token bucket in bytes, refilled lazily from a clock when read: no timer of its own. A send may take
// more than the bucket holds (it goes into debt) as long as it holds something: a block is sent whole or
// waits, never split, and over time the bytes sent match the rate exactly.

export class TokenBucket {
  /** Bytes per second; 0: unlimited. */
  rate: number;
  /** Most bytes the bucket holds: how far a sender idle for a while may run ahead of the rate. */
  burst: number;
  tokens: number;
  #stamp: number;

  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.#stamp = now;
  }

  get limited(): boolean {
    return this.rate > 0;
  }

  refill(now: number): void {
    const elapsed = now - this.#stamp;
    this.#stamp = now;
    if (this.rate === 0 || elapsed <= 0) return;
    const tokens = this.tokens + (elapsed * this.rate) / 1000;
    this.tokens = tokens > this.burst ? this.burst : tokens;
  }

  /** True when a send may start now (call refill first). */
  ready(): boolean {
    return this.rate === 0 || this.tokens > 0;
  }

  take(bytes: number): void {
    if (this.rate !== 0) this.tokens -= bytes;
  }

  /** Milliseconds until ready (0 if ready now). */
  msUntilReady(): number {
    if (this.rate === 0 || this.tokens > 0) return 0;
    return ((1 - this.tokens) * 1000) / this.rate;
  }

  /** A new rate and burst; the tokens held stay (within the new burst). */
  set(rate: number, burst: number): void {
    this.rate = rate;
    this.burst = burst;
    if (this.tokens > burst) this.tokens = burst;
  }
}

/** The burst a bucket of `rate` gets: 50 ms of the rate (timers and a busy event loop are late by that much), at least 64 KiB. */
export function burstOf(rate: number): number {
  return Math.max(64 * 1024, Math.ceil(rate / 20));
}
