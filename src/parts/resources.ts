// The resources serving parts use: the store, the hash pool, the origin client. Opened by the agent and by
// a CLI command's local session alike, each with the Part that releases it.
import { countHashing, createHashPool, type HashCounters, type HashPool } from '../hashing/index.ts';
import { OriginClient } from '../ingest/index.ts';
import { openStore, type StagingStore, type Store } from '../store/index.ts';
import type { Part } from './lifecycle.ts';

/** The store in `dataDir`; 'write' takes its writer lock (StoreLockedError naming the holder). */
export async function openStorePart(
  dataDir: string,
  mode: 'write' | 'read',
): Promise<{ store: Store & StagingStore; part: Part }> {
  const store = await openStore(dataDir, { mode });
  return { store, part: { name: 'store', phase: 'release', stop: () => store.close() } };
}

/** SHA-1 over worker threads (all cores unless told), counting what it hashes. */
export function hashingPart(threads?: number): { pool: HashPool; counters: HashCounters; part: Part } {
  const { pool, counters } = countHashing(createHashPool(threads ? { threads } : {}));
  return { pool, counters, part: { name: 'hashing', phase: 'release', stop: () => pool.close() } };
}

/** Range requests to origins, for ingest. */
export function originPart(options: { timeoutMs: number; connections: number }): { origin: OriginClient; part: Part } {
  const origin = new OriginClient(options);
  return { origin, part: { name: 'origin client', phase: 'release', stop: () => origin.close() } };
}
