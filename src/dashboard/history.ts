// The last minutes of the agent's counters, sampled at a fixed period, so the overview can draw rates
// without the browser having been open all along.

/** One sample of cumulative counters. */
export interface CounterSample {
  /** Bytes sent to peers (wire) and HTTP clients, since the agent started. */
  sentBytes: number;
  /** Bytes pulled from origins. */
  pulledBytes: number;
  /** Open peer wire and HTTP connections. */
  connections: number;
}

/** One point of the chart: rates over the period that ended at `at`. */
export interface RatePoint {
  /** Milliseconds since the epoch. */
  at: number;
  sentPerSecond: number;
  pulledPerSecond: number;
  connections: number;
}

export class RateHistory {
  readonly #capacity: number;
  readonly #points: RatePoint[] = [];
  #last: { at: number; sample: CounterSample } | null = null;

  /** Keeps `capacity` points (10 minutes at the default 2 s period). */
  constructor(capacity = 300) {
    this.#capacity = capacity;
  }

  add(at: number, sample: CounterSample): void {
    const last = this.#last;
    this.#last = { at, sample };
    if (last === null || at <= last.at) return;
    const seconds = (at - last.at) / 1000;
    // Counters start again from zero when a server restarts (reload): no negative rate.
    const rate = (now: number, before: number) => Math.max(0, now - before) / seconds;
    this.#points.push({
      at,
      sentPerSecond: rate(sample.sentBytes, last.sample.sentBytes),
      pulledPerSecond: rate(sample.pulledBytes, last.sample.pulledBytes),
      connections: sample.connections,
    });
    if (this.#points.length > this.#capacity) this.#points.shift();
  }

  points(): RatePoint[] {
    return [...this.#points];
  }
}

/** Samples `counters` into `history` now and every `everyMs` (a timer that keeps no process alive); returns the stop. */
export function sampleEvery(history: RateHistory, counters: () => CounterSample, everyMs: number): () => void {
  const sample = () => history.add(Date.now(), counters());
  sample();
  const sampler = setInterval(sample, everyMs);
  sampler.unref();
  return () => clearInterval(sampler);
}
