// A token bucket in bytes, refilled lazily from a clock when read: no timer of its own. A send may take
// more than the bucket holds (it goes into debt) as long as it holds something: a block is sent whole or
// waits, never split, and over time the bytes sent match the rate exactly.
//
// A clock read costs ~50 ns on these VMs, as much as everything else a send does with limits that do not
// bind. So a send the bucket covers with room to spare is charged without one (spend()), up to `slack`
// bytes between refills; the refill after such sends cannot know when they went, and counts them as if
// they went at its own time: it caps the tokens at burst less those bytes. The bucket so holds at most
// what a bucket refilled at every send would (never more bytes over a span than burst + rate x span);
// at worst a quarter burst less, only when it was about to be full anyway.

// Every number field starts as a number here, not undefined (a field declared without an initializer is
// emitted as one that holds undefined first): V8 then stores doubles in place, where a field that held
// undefined takes a new heap number, an allocation, at every store (5x the cost of spend()).
export class TokenBucket {
  /** Bytes per second; 0: unlimited. */
  rate = 0;
  /** Most bytes the bucket holds: how far a sender idle for a while may run ahead of the rate. */
  burst = 0;
  tokens = 0;
  /** Bytes spent since the last refill without a clock read (spend()), and how many may be. */
  unclocked = 0;
  slack = 0;
  #stamp = 0;

  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.slack = slackOf(burst);
    this.#stamp = now;
  }

  get limited(): boolean {
    return this.rate > 0;
  }

  refill(now: number): void {
    const elapsed = now - this.#stamp;
    this.#stamp = now;
    const unclocked = this.unclocked;
    this.unclocked = 0;
    if (this.rate === 0 || elapsed <= 0) return;
    const tokens = this.tokens + (elapsed * this.rate) / 1000;
    const most = this.burst - unclocked;
    this.tokens = tokens > most ? most : tokens;
  }

  /** True when `bytes` may be spent without a clock read: tokens cover them, and the slack does. */
  spendable(bytes: number): boolean {
    return this.tokens >= bytes && this.unclocked + bytes <= this.slack;
  }

  /** Takes `bytes` (after spendable() said yes), without a clock read. */
  spend(bytes: number): void {
    this.tokens -= bytes;
    this.unclocked += bytes;
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

  /**
   * A new rate and burst; the tokens held stay (within the new burst). Refilled first at the old rate:
   * bytes spent without the clock under the old burst must not count against the new one.
   */
  set(rate: number, burst: number, now: number): void {
    if (this.rate !== 0) this.refill(now);
    this.unclocked = 0;
    this.rate = rate;
    this.burst = burst;
    this.slack = slackOf(burst);
    if (this.tokens > burst) this.tokens = burst;
  }
}

/** Bytes a bucket may be charged without a clock read between refills: a quarter of its burst. */
function slackOf(burst: number): number {
  return Math.floor(burst / 4);
}

/** The burst a bucket of `rate` gets: 50 ms of the rate (timers and a busy event loop are late by that much), at least 64 KiB. */
export function burstOf(rate: number): number {
  return Math.max(64 * 1024, Math.ceil(rate / 20));
}
