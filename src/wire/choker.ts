// Upload slots for a server that only seeds, the way mature seeders choke (libtorrent's round-robin
// seeding choker, BitTorrent's optimistic unchoke): a fixed number of regular slots served first come,
// first served; a peer that has held a regular slot for a quantum yields it to the peer that has waited
// longest; optimistic slots go to a randomly chosen waiting peer and rotate on their own clock, so a newcomer
// is never stuck behind a long queue. Freed slots are refilled at once, not at the next tick.

export interface ChokerPeer {
  /** Sends unchoke (false) or choke (true) to the peer. */
  setChoked(choked: boolean): void;
}

export interface ChokerOptions<P = unknown> {
  uploadSlots: number;
  optimisticSlots: number;
  slotQuantumMs: number;
  optimisticIntervalMs: number;
  /**
   * A regular peer for which this is true yields its slot at the next tick to a waiting peer, before its
   * quantum is over (top-up: it gets most of its rate from other peers). Default: never.
   */
  yieldsSlot?: (peer: P) => boolean;
  /** Uniform in [0, 1); injectable for tests. */
  random?: () => number;
}

export interface ChokerStats {
  regular: number;
  optimistic: number;
  waiting: number;
  rotations: number;
}

export class Choker<P extends ChokerPeer> {
  readonly #options: Required<Omit<ChokerOptions<P>, 'yieldsSlot'>> & Pick<ChokerOptions<P>, 'yieldsSlot'>;
  /** Peers in regular slots -> when they got the slot. Insertion order = order of unchoking. */
  readonly #regular = new Map<P, number>();
  readonly #optimistic = new Map<P, number>();
  /** Interested, choked peers -> since when they wait. Insertion order = queue order. */
  readonly #waiting = new Map<P, number>();
  #lastOptimisticRotation: number;
  #rotations = 0;

  constructor(options: ChokerOptions<P>, now: number) {
    this.#options = { random: Math.random, ...options };
    this.#lastOptimisticRotation = now;
  }

  /** The peer says interested (true) or not interested (false). */
  setInterested(peer: P, interested: boolean, now: number): void {
    if (interested) {
      if (this.#regular.has(peer) || this.#optimistic.has(peer) || this.#waiting.has(peer)) return;
      this.#waiting.set(peer, now);
    } else {
      this.#waiting.delete(peer);
      if (this.#regular.delete(peer) || this.#optimistic.delete(peer)) peer.setChoked(true);
    }
    this.#fill(now, null);
  }

  /** The peer is gone (closed): its slot goes to the next in line. Sends nothing to it. */
  remove(peer: P, now: number): void {
    this.#waiting.delete(peer);
    if (this.#regular.delete(peer) || this.#optimistic.delete(peer)) this.#fill(now, null);
  }

  isUnchoked(peer: P): boolean {
    return this.#regular.has(peer) || this.#optimistic.has(peer);
  }

  /** Rotates slots whose time is up; call every rechoke interval. */
  tick(now: number): void {
    const rotatedOut = new Set<P>();
    let waiting = this.#waiting.size;
    for (const [peer, since] of this.#regular) {
      if (waiting === 0) break;
      if (now - since < this.#options.slotQuantumMs && !this.#options.yieldsSlot?.(peer)) continue;
      this.#regular.delete(peer);
      this.#chokeIntoQueue(peer, now, rotatedOut);
      waiting--;
    }
    if (now - this.#lastOptimisticRotation >= this.#options.optimisticIntervalMs) {
      this.#lastOptimisticRotation = now;
      for (const peer of [...this.#optimistic.keys()]) {
        if (this.#waiting.size === 0) break;
        this.#optimistic.delete(peer);
        this.#chokeIntoQueue(peer, now, rotatedOut);
      }
    }
    this.#fill(now, rotatedOut);
  }

  stats(): ChokerStats {
    return {
      regular: this.#regular.size,
      optimistic: this.#optimistic.size,
      waiting: this.#waiting.size,
      rotations: this.#rotations,
    };
  }

  #chokeIntoQueue(peer: P, now: number, rotatedOut: Set<P>): void {
    peer.setChoked(true);
    this.#waiting.set(peer, now);
    rotatedOut.add(peer);
    this.#rotations++;
  }

  /** Regular slots to the longest waiting; optimistic slots to a random waiting peer, avoiding `avoid`. */
  #fill(now: number, avoid: Set<P> | null): void {
    while (this.#regular.size < this.#options.uploadSlots && this.#waiting.size > 0) {
      const peer = this.#waiting.keys().next().value as P;
      this.#waiting.delete(peer);
      this.#regular.set(peer, now);
      peer.setChoked(false);
    }
    while (this.#optimistic.size < this.#options.optimisticSlots && this.#waiting.size > 0) {
      const peer = this.#pickRandomWaiting(avoid);
      this.#waiting.delete(peer);
      this.#optimistic.set(peer, now);
      peer.setChoked(false);
    }
  }

  #pickRandomWaiting(avoid: Set<P> | null): P {
    const all = [...this.#waiting.keys()];
    const preferred = avoid === null ? all : all.filter((peer) => !avoid.has(peer));
    const pool = preferred.length > 0 ? preferred : all;
    return pool[Math.floor(this.#options.random() * pool.length)]!;
  }
}
