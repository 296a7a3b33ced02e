// Storage control on demand (TR 23.844 6.2.3 step 2, docs/tracker.md "Invitations"): with `inviteBelow` set,
// the tracker watches every swarm's changes and keeps a list of the swarms in need, those with leechers whose
// rarest piece has fewer than `inviteBelow` copies (seeds for every piece when the pieces are unknown). A
// Network Storage Control Function long-polls the list (GET /invitations?since=V&wait=S) and joins swarms it
// does not serve yet; swarms it follows it watches on /stats. The list is this instance's view, in memory.
import type { SwarmStats, SwarmStore } from './swarm-store.ts';

export interface Invitation {
  infoHash: string;
  /** Copies of the rarest piece (network peers included), or seeds when the tracker does not know pieces. */
  rarestCopies: number;
  seeds: number;
  leechers: number;
  /** Network peers (CDN nodes) in the swarm now. */
  networkPeers: number;
  /** ms since the epoch when the swarm came into need. */
  since: number;
}

export interface InvitationList {
  /** Grows with every change of the list. */
  version: number;
  inviteBelow: number;
  invitations: Invitation[];
}

/** How many swarms may be in the list at once (the most recent changes win). */
const MAX_INVITATIONS = 10_000;

export class Invitations {
  readonly #below: number;
  readonly #swarms: SwarmStore;
  readonly #now: () => number;
  readonly #list = new Map<string, Invitation>();
  readonly #waiters = new Set<() => void>();
  readonly #unsubscribe: () => void;
  #version = 0;
  /** Swarms whose check is running or queued (a burst of announces checks a swarm once). */
  readonly #checking = new Set<string>();

  constructor(inviteBelow: number, swarms: SwarmStore, now: () => number = Date.now) {
    this.#below = inviteBelow;
    this.#swarms = swarms;
    this.#now = now;
    this.#unsubscribe = swarms.onChange((infoHash) => this.#check(infoHash));
  }

  list(): InvitationList {
    return { version: this.#version, inviteBelow: this.#below, invitations: [...this.#list.values()] };
  }

  /** Resolves when the list's version passes `since`, or after `waitMs`. */
  wait(since: number, waitMs: number, signal: AbortSignal): Promise<void> {
    if (this.#version > since) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  close(): void {
    this.#unsubscribe();
    for (const waiter of [...this.#waiters]) waiter();
  }

  #check(infoHash: string): void {
    if (this.#checking.has(infoHash)) return;
    this.#checking.add(infoHash);
    // After the announce that changed it has been answered: the check never delays an announce.
    setImmediate(() => {
      this.#swarms
        .stats(infoHash, 0)
        .then((stats) => this.#update(stats))
        .catch(() => {}) // the state store is unreachable: the next change checks again
        .finally(() => this.#checking.delete(infoHash));
    });
  }

  #update(stats: SwarmStats): void {
    // A loop, not Math.min(...): a million pieces would overflow the call's arguments.
    let rarest = stats.seeds;
    if (stats.pieceCopies !== null) {
      rarest = Number.POSITIVE_INFINITY;
      for (const copies of stats.pieceCopies) if (copies < rarest) rarest = copies;
      if (rarest === Number.POSITIVE_INFINITY) rarest = stats.seeds;
    }
    const inNeed = stats.leechers > stats.networkPeers.filter((p) => !p.complete).length && rarest < this.#below;
    const old = this.#list.get(stats.infoHash);
    if (!inNeed) {
      if (old === undefined) return;
      this.#list.delete(stats.infoHash);
    } else {
      const invitation: Invitation = {
        infoHash: stats.infoHash,
        rarestCopies: rarest,
        seeds: stats.seeds,
        leechers: stats.leechers,
        networkPeers: stats.networkPeers.length,
        since: old?.since ?? this.#now(),
      };
      if (old !== undefined && JSON.stringify(old) === JSON.stringify(invitation)) return;
      this.#list.delete(stats.infoHash);
      this.#list.set(stats.infoHash, invitation);
      if (this.#list.size > MAX_INVITATIONS) this.#list.delete(this.#list.keys().next().value!);
    }
    this.#version++;
    for (const waiter of [...this.#waiters]) waiter();
  }
}
