// A hash pool that counts what it hashed, for status and metrics; the pool itself keeps no figures.
import type { HashPool } from './pool.ts';

/** Bytes hashed and time spent, by a hash pool wrapped with countHashing. */
export interface HashCounters {
  bytes: number;
  seconds: number;
}

/** Wraps a hash pool so that the agent can report hash throughput; the pool itself keeps no figures. */
export function countHashing(pool: HashPool): { pool: HashPool; counters: HashCounters } {
  const counters: HashCounters = { bytes: 0, seconds: 0 };
  async function timed<T>(bytes: number, work: Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work;
    } finally {
      counters.bytes += bytes;
      counters.seconds += (performance.now() - started) / 1000;
    }
  }
  const counted: HashPool = {
    get threads() {
      return pool.threads;
    },
    hashFiles: (files, pieceLength, options) =>
      timed(
        files.reduce((sum, f) => sum + f.length, 0),
        pool.hashFiles(files, pieceLength, options),
      ),
    sha1: (data) => timed(data.byteLength, pool.sha1(data)),
    verify: (data, expected) => timed(data.byteLength, pool.verify(data, expected)),
    close: () => pool.close(),
  };
  return { pool: counted, counters };
}
