// Top-up (storageControl.topUpRate, docs/policy.md "Top-up"): the CDN gives a leecher only the rate its
// other peers do not. Per connection it measures, over a short window, what the leecher completed (its
// HAVE messages, in bytes) and what this edge sent it; the difference is what came from elsewhere. Blocks
// are sent while this edge's rate stays within the top-up rate less that; past it, sending pauses (the
// requests wait in the queue), so the leecher, whose requests to a slow peer are few, asks its other peers
// for more. Refusing instead (BEP 6 reject) made libtorrent ask again at once, tens of thousands of times a
// second, when the edge was its only source. The swarm simulator models the same rule (src/policy/sim,
// Scenario.cdnTopUpBytesPerS).

/** Seconds of history the rates are taken over. */
export const TOP_UP_WINDOW_MS = 2000;
/** Resolution of the window; a paused connection looks again after this long. */
export const TOP_UP_SLOT_MS = 250;
const SLOT_MS = TOP_UP_SLOT_MS;
const SLOTS = TOP_UP_WINDOW_MS / SLOT_MS;

/** Bytes per time slot in a ring covering the window. */
class Ring {
  readonly #bytes = new Float64Array(SLOTS);
  #slot = -1;

  add(now: number, bytes: number): void {
    this.#advance(now);
    this.#bytes[this.#slot % SLOTS]! += bytes;
  }

  /** Bytes in the window ending at `now`. */
  total(now: number): number {
    this.#advance(now);
    let sum = 0;
    for (const b of this.#bytes) sum += b;
    return sum;
  }

  #advance(now: number): void {
    const slot = Math.floor(now / SLOT_MS);
    if (this.#slot < 0 || slot - this.#slot >= SLOTS) this.#bytes.fill(0);
    else for (let s = this.#slot + 1; s <= slot; s++) this.#bytes[s % SLOTS] = 0;
    this.#slot = Math.max(this.#slot, slot);
  }
}

export class TopUpMeter {
  readonly #rate: number;
  readonly #completed = new Ring();
  readonly #sent = new Ring();

  /** `bytesPerSecond`: the rate a leecher should get from this edge and its other peers together. */
  constructor(bytesPerSecond: number) {
    this.#rate = bytesPerSecond;
  }

  /** The leecher announced a piece (HAVE) of `bytes`. */
  completed(now: number, bytes: number): void {
    this.#completed.add(now, bytes);
  }

  /** This edge sent the leecher a block. */
  sent(now: number, bytes: number): void {
    this.#sent.add(now, bytes);
  }

  /** The leecher's rate from other sources over the window, bytes per second. */
  othersRate(now: number): number {
    return Math.max(0, this.#completed.total(now) - this.#sent.total(now)) / (TOP_UP_WINDOW_MS / 1000);
  }

  /** This edge's share: the top-up rate less what others give, bytes per second. */
  allowance(now: number): number {
    return Math.max(0, this.#rate - this.othersRate(now));
  }

  /** Whether a block of `length` bytes may be sent now: this edge's bytes in the window stay within the allowance. */
  maySend(now: number, length: number): boolean {
    const window = TOP_UP_WINDOW_MS / 1000;
    return (this.#sent.total(now) + length) / window <= this.allowance(now);
  }
}
