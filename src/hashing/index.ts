// Public surface of src/hashing: SHA-1 piece hashing over all cores in piscina worker threads.

export { countHashing, type HashCounters } from './counting.ts';
export type { HashFilesOptions, HashPool, HashPoolOptions } from './pool.ts';
export { allocSharedBuffer, createHashPool } from './pool.ts';
