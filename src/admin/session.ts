import { existsSync } from 'node:fs';
import { NotFoundError } from '../errors/index.ts';
import type { HashPool } from '../hashing/index.ts';
import type { IngestContext, OriginClient } from '../ingest/index.ts';
import { silentLogger } from '../log/index.ts';
import { hashingPart, Lifecycle, openStorePart, originPart } from '../parts/index.ts';
import type { StagingStore, Store } from '../store/index.ts';

export interface SessionOptions {
  dataDir: string;
  mode: 'read' | 'write';
  /** Origin timeout (headers, and between body chunks). */
  originTimeoutMs?: number;
  hashThreads?: number;
  /** Through a CDN controller's admin API instead of a store: its URL and the file holding its admin token. */
  controller?: { url: string; tokenFile: string };
}

/**
 * What a CLI command works with when no agent runs: the store (writer lock held in 'write' mode), a hash
 * pool and an origin client, the same parts the agent opens, the last two on first use, released together.
 */
export class LocalSession {
  readonly store: Store & StagingStore;
  private hashPool: HashPool | undefined;
  private origin: OriginClient | undefined;
  private readonly options: SessionOptions;
  /** The hash pool and origin client, once opened. */
  private readonly lifecycle: Lifecycle;

  private constructor(store: Store & StagingStore, lifecycle: Lifecycle, options: SessionOptions) {
    this.store = store;
    this.lifecycle = lifecycle;
    this.options = options;
  }

  static async open(options: SessionOptions): Promise<LocalSession> {
    // Reading a store that is not there is a wrong path, not an empty store.
    if (options.mode === 'read' && !existsSync(options.dataDir)) {
      throw new NotFoundError(
        `no store at ${options.dataDir} (no such folder): give --data-dir, EDGEPEER_DATA_DIR or a config file's dataDir`,
        {
          subject: options.dataDir,
        },
      );
    }
    const { store } = await openStorePart(options.dataDir, options.mode);
    return new LocalSession(store, new Lifecycle(silentLogger), options);
  }

  ingestContext(signal?: AbortSignal): IngestContext {
    if (this.hashPool === undefined) {
      const hashing = hashingPart(this.options.hashThreads);
      this.lifecycle.add(hashing.part);
      this.hashPool = hashing.pool;
    }
    if (this.origin === undefined) {
      const origin = originPart({ timeoutMs: this.options.originTimeoutMs ?? 30_000, connections: 8 });
      this.lifecycle.add(origin.part);
      this.origin = origin.origin;
    }
    return { store: this.store, hashPool: this.hashPool, origin: this.origin, ...(signal ? { signal } : {}) };
  }

  /** Releases the origin client and hash pool, then the store (and its lock): a failed last commit throws. */
  async close(): Promise<void> {
    await this.lifecycle.stop(0);
    await this.store.close();
  }
}
