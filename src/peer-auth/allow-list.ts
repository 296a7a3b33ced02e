// The allow-list of the peer wire: (address, info hash) pairs the tracker answered an authorised announce
// for, each with the subscriber it was for and a time to live. The tracker builds it; agents with
// `peerAuth: tracker` hold a copy (kept up to date by a long poll, follow.ts) and serve piece bytes only to
// addresses on it for that object. Addresses are kept as the sockets report them, IPv4-mapped IPv6 unmapped.

export interface AllowEntry {
  address: string;
  infoHash: string;
  subscriber: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** What GET /peer-auth/allowed answers: the whole list (entries alive now) at a version. */
export interface AllowSnapshot {
  version: number;
  ttlMs: number;
  entries: AllowEntry[];
}

/** Longest long poll of the allow-list a reader may ask for (`wait`, seconds). */
export const ALLOW_LIST_MAX_WAIT_S = 60;

/**
 * The long poll asked for by a read of the allow-list (the tracker's and the controller's relay answer
 * alike): `since` a version (null: answer at once) and `wait` seconds (default 30, at most 60).
 */
export function allowListPoll(params: URLSearchParams): { since: number | null; waitMs: number } {
  const since = Number(params.get('since') ?? Number.NaN);
  const wait = Number(params.get('wait') ?? 30);
  const waitMs = Math.min(Math.max(Number.isFinite(wait) ? wait : 30, 0), ALLOW_LIST_MAX_WAIT_S) * 1000;
  return { since: Number.isInteger(since) ? since : null, waitMs };
}

export function normalAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address.toLowerCase();
}

export class AllowList {
  /** An entry's time to live: this list's own, or (a copy) the tracker's as its last snapshot said. */
  #ttlMs: number;
  readonly #now: () => number;
  /** address -> info hash -> entry. */
  #byAddress = new Map<string, Map<string, AllowEntry>>();
  #size = 0;
  #pruneAbove = 1024;
  /** Bumped when an entry is added, changes subscriber, or the list is replaced (not on renewals). */
  version = 0;
  readonly #waiters = new Set<() => void>();

  constructor(ttlMs: number, now: () => number = Date.now) {
    if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw new RangeError(`allow-list TTL must be positive, got ${ttlMs}`);
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  get size(): number {
    return this.#size;
  }

  /** Puts (address, info hash) on the list for its TTL from now, or renews it. */
  grant(address: string, infoHash: string, subscriber: string): void {
    const key = normalAddress(address);
    let objects = this.#byAddress.get(key);
    if (objects === undefined) {
      objects = new Map();
      this.#byAddress.set(key, objects);
    }
    const expiresAt = this.#now() + this.#ttlMs;
    const entry = objects.get(infoHash);
    if (entry !== undefined && entry.subscriber === subscriber && entry.expiresAt > this.#now()) {
      entry.expiresAt = expiresAt;
      return;
    }
    if (entry === undefined) {
      this.#size += 1;
      // Expired entries go when the list is read, or here once it doubled since the last prune.
      if (this.#size > this.#pruneAbove) {
        this.prune();
        this.#pruneAbove = Math.max(1024, this.#size * 2);
      }
    }
    objects.set(infoHash, { address: key, infoHash, subscriber, expiresAt });
    this.#changed();
  }

  /** The subscriber `address` may fetch `infoHash` for, or undefined if it is not on the list (or expired). */
  lookup(address: string, infoHash: string): string | undefined {
    const entry = this.#byAddress.get(normalAddress(address))?.get(infoHash);
    if (entry === undefined || entry.expiresAt <= this.#now()) return undefined;
    return entry.subscriber;
  }

  /** Drops expired entries; returns how many went. */
  prune(): number {
    const now = this.#now();
    let dropped = 0;
    for (const [address, objects] of this.#byAddress) {
      for (const [infoHash, entry] of objects) {
        if (entry.expiresAt > now) continue;
        objects.delete(infoHash);
        dropped += 1;
      }
      if (objects.size === 0) this.#byAddress.delete(address);
    }
    this.#size -= dropped;
    return dropped;
  }

  snapshot(): AllowSnapshot {
    this.prune();
    const entries: AllowEntry[] = [];
    for (const objects of this.#byAddress.values()) for (const entry of objects.values()) entries.push({ ...entry });
    return { version: this.version, ttlMs: this.ttlMs, entries };
  }

  /**
   * Takes a tracker's snapshot whole (an agent's or the controller's copy). Expiry times and the TTL are the
   * tracker's: clocks should agree.
   */
  replace(snapshot: AllowSnapshot): void {
    const next = new Map<string, Map<string, AllowEntry>>();
    let size = 0;
    for (const entry of snapshot.entries) {
      const key = normalAddress(entry.address);
      let objects = next.get(key);
      if (objects === undefined) {
        objects = new Map();
        next.set(key, objects);
      }
      if (!objects.has(entry.infoHash)) size += 1;
      objects.set(entry.infoHash, { ...entry, address: key });
    }
    this.#byAddress = next;
    this.#size = size;
    this.version = snapshot.version;
    if (Number.isFinite(snapshot.ttlMs) && snapshot.ttlMs > 0) this.#ttlMs = snapshot.ttlMs;
    this.#wake();
  }

  /**
   * Resolves when the version is no longer `since`, after `waitMs`, or when `signal` aborts (a long poll).
   */
  wait(since: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (this.version !== since || waitMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #changed(): void {
    this.version += 1;
    this.#wake();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
