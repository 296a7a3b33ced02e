import { createHashPool, type HashPool } from '../hashing/index.ts';
import { type IngestContext, OriginClient } from '../ingest/index.ts';
import { openStore, type StagingStore, type Store } from '../store/index.ts';

export interface SessionOptions {
  dataDir: string;
  mode: 'read' | 'write';
  /** Origin timeout (headers, and between body chunks). */
  originTimeoutMs?: number;
  hashThreads?: number;
}

/**
 * What a CLI command works with when no agent runs: the store (writer lock held in 'write' mode), a hash
 * pool and an origin client, created on first use and closed together.
 */
export class LocalSession {
  readonly store: Store & StagingStore;
  private hashPool: HashPool | undefined;
  private origin: OriginClient | undefined;
  private readonly options: SessionOptions;

  private constructor(store: Store & StagingStore, options: SessionOptions) {
    this.store = store;
    this.options = options;
  }

  static async open(options: SessionOptions): Promise<LocalSession> {
    return new LocalSession(await openStore(options.dataDir, { mode: options.mode }), options);
  }

  ingestContext(signal?: AbortSignal): IngestContext {
    this.hashPool ??= createHashPool(this.options.hashThreads ? { threads: this.options.hashThreads } : {});
    this.origin ??= new OriginClient({ timeoutMs: this.options.originTimeoutMs ?? 30_000, connections: 8 });
    return { store: this.store, hashPool: this.hashPool, origin: this.origin, ...(signal ? { signal } : {}) };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.hashPool?.close(), this.origin?.close()]);
    await this.store.close();
  }
}
