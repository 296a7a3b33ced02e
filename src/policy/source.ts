// The statistics source: follows swarms on the reference tracker's change feed, the long poll
// GET /stats/<info hash>?since=V&wait=S (docs/tracker.md). An answer comes at once when the swarm changed,
// else after S seconds with the same state: either way the counts are current when received, so their age
// tells decide() whether they are stale. A failed or unreadable answer is kept as the swarm's problem (the
// last good counts stay for explanations) and the poll retries with a growing delay.
import { EventEmitter } from 'node:events';
import { countsFromStats, StatsFormatError } from './stats.ts';
import type { StatsReading } from './types.ts';

export interface StatsSource {
  /** Starts following a swarm (no-op if followed). */
  follow(infoHash: string, pieceCount: number): void;
  unfollow(infoHash: string): void;
  reading(infoHash: string): StatsReading;
  on(event: 'changed', listener: (infoHash: string) => void): unknown;
  off(event: 'changed', listener: (infoHash: string) => void): unknown;
  close(): Promise<void>;
}

export interface TrackerStatsSourceOptions {
  /** The tracker's statistics URL, e.g. http://tracker:6969/stats. */
  statsUrl: string;
  /** Seconds the tracker may hold a long poll (it caps this at 60). */
  waitS?: number;
  /** First retry delay after a failure, doubled up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  clock?: () => number;
}

interface Followed {
  pieceCount: number;
  reading: StatsReading;
  abort: AbortController;
}

export class TrackerStatsSource extends EventEmitter<{ changed: [infoHash: string] }> implements StatsSource {
  readonly #options: Required<TrackerStatsSourceOptions>;
  readonly #followed = new Map<string, Followed>();
  readonly #loops = new Set<Promise<void>>();

  constructor(options: TrackerStatsSourceOptions) {
    super();
    this.#options = { waitS: 30, retryMs: 1000, maxRetryMs: 30_000, clock: Date.now, ...options };
    this.#options.statsUrl = this.#options.statsUrl.replace(/\/+$/, '');
  }

  follow(infoHash: string, pieceCount: number): void {
    if (this.#followed.has(infoHash)) return;
    const followed: Followed = {
      pieceCount,
      reading: { counts: null, problem: null },
      abort: new AbortController(),
    };
    this.#followed.set(infoHash, followed);
    const loop = this.#poll(infoHash, followed).finally(() => this.#loops.delete(loop));
    this.#loops.add(loop);
  }

  unfollow(infoHash: string): void {
    this.#followed.get(infoHash)?.abort.abort();
    this.#followed.delete(infoHash);
  }

  reading(infoHash: string): StatsReading {
    return this.#followed.get(infoHash)?.reading ?? { counts: null, problem: null };
  }

  followed(): string[] {
    return [...this.#followed.keys()];
  }

  async close(): Promise<void> {
    for (const infoHash of [...this.#followed.keys()]) this.unfollow(infoHash);
    await Promise.allSettled([...this.#loops]);
  }

  async #poll(infoHash: string, followed: Followed): Promise<void> {
    const { statsUrl, waitS, retryMs, maxRetryMs, clock } = this.#options;
    const signal = followed.abort.signal;
    let delay = retryMs;
    while (!signal.aborted) {
      const version = followed.reading.counts?.version;
      const query = version === undefined ? 'peers=0' : `since=${version}&wait=${waitS}&peers=0`;
      const before = followed.reading;
      let failed = false;
      try {
        const response = await fetch(`${statsUrl}/${infoHash}?${query}`, {
          signal: AbortSignal.any([signal, AbortSignal.timeout((waitS + 10) * 1000)]),
          headers: { accept: 'application/json' },
        });
        const text = await response.text();
        if (response.status !== 200) {
          throw new Unreachable(`the tracker answered HTTP ${response.status}: ${text.slice(0, 120)}`);
        }
        let answer: unknown;
        try {
          answer = JSON.parse(text);
        } catch {
          throw new StatsFormatError(`not JSON: ${JSON.stringify(text.slice(0, 60))}`);
        }
        const counts = countsFromStats(answer, infoHash, followed.pieceCount, clock());
        followed.reading = { counts, problem: null };
        delay = retryMs;
      } catch (err) {
        if (signal.aborted) return;
        failed = true;
        const kind = err instanceof StatsFormatError ? 'malformed' : 'unreachable';
        const detail =
          err instanceof StatsFormatError
            ? `malformed statistics from ${statsUrl}: ${err.message}`
            : `statistics unreachable at ${statsUrl}: ${describeFailure(err)}`;
        const since = before.problem?.kind === kind ? before.problem.since : clock();
        followed.reading = { counts: before.counts, problem: { kind, detail, since } };
      }
      if (
        followed.reading.counts?.version !== before.counts?.version ||
        followed.reading.problem?.kind !== before.problem?.kind
      ) {
        this.emit('changed', infoHash);
      }
      if (failed) {
        await sleep(delay, signal);
        delay = Math.min(maxRetryMs, delay * 2);
      }
    }
  }
}

class Unreachable extends Error {}

/** A failed request in a few words: its error, "no answer in time" for a timeout, and the system's code. */
export function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? ` (${String(cause.code)})` : '';
  return `${err.name === 'TimeoutError' ? 'no answer in time' : err.message}${code}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
