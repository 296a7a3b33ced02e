// Top-up (storageControl.topUpRate, docs/policy.md "Top-up"): the CDN gives a leecher only the rate its
// other peers do not. Per connection it measures, over a short window, what the leecher completed (its
// HAVE messages, in bytes) and what this edge sent it; the difference is what came from elsewhere. A new
// request is served while this edge's rate (sent and queued) is below the top-up rate less that, and
// refused otherwise (BEP 6 reject), so the leecher asks its other peers. The swarm simulator models the
// same rule (src/policy/sim, Scenario.cdnTopUpBytesPerS).

/** Seconds of history the rates are taken over. */
export const TOP_UP_WINDOW_MS = 2000;
const SLOT_MS = 250;
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

  /** Whether a request of `length` bytes fits the allowance, with `queuedBytes` already accepted and unsent. */
  admit(now: number, length: number, queuedBytes: number): boolean {
    const window = TOP_UP_WINDOW_MS / 1000;
    return (this.#sent.total(now) + queuedBytes + length) / window <= this.allowance(now);
  }
}
