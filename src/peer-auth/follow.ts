// A copy of the tracker's allow-list, kept up to date by a long poll of GET /peer-auth/allowed (behind the
// tracker's admin token): the tracker answers at once when the list changed since the version the copy
// holds, else when it changes (or after `wait` seconds with the same list). The controller follows the
// tracker so; its edges follow the controller's relay (GET /v1/edge/peer-auth/allowed, their credential),
// which answers alike.
import { type Logger, silentLogger } from '../log/index.ts';
import type { AllowList, AllowSnapshot } from './allow-list.ts';

export interface AllowListFollowerOptions {
  /** The tracker's allow-list URL, http://tracker:6969/peer-auth/allowed (status and logs). */
  url: string;
  /** The tracker's admin token; or give `target`. */
  token?: string;
  /**
   * Where each poll goes and its Authorization field, asked before every poll (an edge's controller can
   * change); default `url` with `token`.
   */
  target?: () => { url: string; authorization: string };
  list: AllowList;
  logger?: Logger;
  /** Seconds the tracker may hold a poll. Default 25. */
  waitS?: number;
}

/** A followed allow-list in a status (`edgepeer status --json`): where from, what it holds, how the poll goes. */
export interface PeerAuthStatus {
  url: string;
  entries: number;
  version: number;
  updates: number;
  failures: number;
}

export class AllowListFollower {
  readonly #options: AllowListFollowerOptions;
  readonly #logger: Logger;
  readonly #stop = new AbortController();
  #loop: Promise<void> | null = null;
  /** Answers taken, and polls that failed. */
  updates = 0;
  failures = 0;
  /** Resolves at the first list taken. */
  readonly firstUpdate: Promise<void>;
  #resolveFirst!: () => void;

  constructor(options: AllowListFollowerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.firstUpdate = new Promise((resolve) => {
      this.#resolveFirst = resolve;
    });
  }

  status(): PeerAuthStatus {
    const { url, list } = this.#options;
    return { url, entries: list.size, version: list.version, updates: this.updates, failures: this.failures };
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { url, token, list } = this.#options;
    const targetOf = this.#options.target ?? (() => ({ url, authorization: `Bearer ${token}` }));
    const waitS = this.#options.waitS ?? 25;
    let backoffMs = 500;
    let known = false;
    let failing = false;
    while (!this.#stop.signal.aborted) {
      const { url: where, authorization } = targetOf();
      const target = new URL(where);
      if (known) {
        target.searchParams.set('since', String(list.version));
        target.searchParams.set('wait', String(waitS));
      }
      try {
        const res = await fetch(target, {
          headers: { authorization },
          signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout((waitS + 10) * 1000)]),
        });
        if (res.status !== 200) {
          await res.body?.cancel();
          throw new Error(`answered ${res.status}${res.status === 401 ? ' (wrong token or credential?)' : ''}`);
        }
        list.replace((await res.json()) as AllowSnapshot);
        known = true;
        this.updates += 1;
        this.#resolveFirst();
        backoffMs = 500;
        if (failing) this.#logger.info({ url: where }, 'peer auth: allow-list answering again');
        failing = false;
      } catch (err) {
        if (this.#stop.signal.aborted) return;
        this.failures += 1;
        // The list held stays in force (its entries expire by their own TTL); said once per run of failures.
        if (!failing) {
          this.#logger.warn(
            { url: where, error: (err as Error).message },
            'peer auth: allow-list cannot be read; retrying',
          );
        }
        failing = true;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoffMs);
          this.#stop.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
    }
  }
}
