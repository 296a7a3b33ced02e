// Top-up (storageControl.topUpRate, docs/policy.md "Top-up"): the CDN gives a leecher only the rate its
// other peers do not. Per connection it measures, over a short window, what the leecher completed (its
// HAVE messages, in bytes) and what this edge sent it; the difference is what came from elsewhere. Blocks
// are sent while this edge's rate stays within the top-up rate less that; past it, sending pauses (the
// requests wait in the queue), so the leecher, whose requests to a slow peer are few, asks its other peers
// for more. Refusing instead (BEP 6 reject) made libtorrent ask again at once, tens of thousands of times a
// second, when the edge was its only source. The swarm simulator models the same rule (src/policy/sim,
// Scenario.cdnTopUpBytesPerS).

/** Seconds of history the rates are taken over. */
export const TOP_UP_WINDOW_MS = 2000;
/** Resolution of the window; a paused connection looks again after this long. */
export const TOP_UP_SLOT_MS = 250;
const SLOT_MS = TOP_UP_SLOT_MS;
const SLOTS = TOP_UP_WINDOW_MS / SLOT_MS;

/** Bytes per time slot in a ring covering the window. */
class Ring {
  readonly #bytes = new Float64Array(SLOTS);
  #slot = -1;

  add(now: number, bytes: number): void {
    this.#advance(now);
    this.#bytes[this.#slot % SLOTS]! += bytes;
  }

  /** Bytes in the window ending at `now`. */
  total(now: number): number {
    this.#advance(now);
    let sum = 0;
    for (const b of this.#bytes) sum += b;
    return sum;
  }

  #advance(now: number): void {
    const slot = Math.floor(now / SLOT_MS);
    if (this.#slot < 0 || slot - this.#slot >= SLOTS) this.#bytes.fill(0);
    else for (let s = this.#slot + 1; s <= slot; s++) this.#bytes[s % SLOTS] = 0;
    this.#slot = Math.max(this.#slot, slot);
  }
}

export class TopUpMeter {
  readonly #rate: number;
  readonly #completed = new Ring();
  readonly #sent = new Ring();

  /** `bytesPerSecond`: the rate a leecher should get from this edge and its other peers together. */
  constructor(bytesPerSecond: number) {
    this.#rate = bytesPerSecond;
  }

  /** The leecher announced a piece (HAVE) of `bytes`. */
  completed(now: number, bytes: number): void {
    this.#completed.add(now, bytes);
  }

  /** This edge sent the leecher a block. */
  sent(now: number, bytes: number): void {
    this.#sent.add(now, bytes);
  }

  /**
   * The leecher's rate from other sources over the window, bytes per second. `elsewhere`: what the edge sent
   * the leecher by another path in the window (HTTP, a web seed), which its HAVEs show only once the pieces
   * complete: it counts as this edge's, not a peer's.
   */
  othersRate(now: number, elsewhere = 0): number {
    return Math.max(0, this.#completed.total(now) - this.#sent.total(now) - elsewhere) / (TOP_UP_WINDOW_MS / 1000);
  }

  /** This edge's share: the top-up rate less what others give, bytes per second. */
  allowance(now: number, elsewhere = 0): number {
    return Math.max(0, this.#rate - this.othersRate(now, elsewhere));
  }

  /** Whether a block of `length` bytes may be sent now: this edge's bytes in the window stay within the allowance. */
  maySend(now: number, length: number, elsewhere = 0): boolean {
    const window = TOP_UP_WINDOW_MS / 1000;
    return (this.#sent.total(now) + elsewhere + length) / window <= this.allowance(now, elsewhere);
  }
}

/** How long a paused HTTP response may go without a byte: below libtorrent's web seed timeout (20 s). */
export const TOP_UP_HTTP_MAX_PAUSE_MS = 10_000;

interface LedgerEntry {
  completed: Ring;
  sent: Ring;
  /** Of `sent`, the HTTP bodies' bytes. */
  sentOverHttp: Ring;
  /** Open peer wire connections from the address for the object: leechers there the edge can see. */
  connections: number;
  lastAt: number;
}

/**
 * Top-up across the peer wire and HTTP, per client address and object (docs/policy.md, "Top-up over
 * HTTP"). An HTTP range request says nothing of the client's progress, but a BitTorrent client that
 * fetches pieces over HTTP from this edge (BEP 19 web seeds) is also in the swarm, and connects to the
 * edge's peer wire: its HAVEs there are its own statement of what it completed. The ledger adds up, per
 * (address, info hash), what leechers from the address completed (HAVEs) and what this edge sent them over
 * the wire and over HTTP; the difference is what came from elsewhere. A response is paced so that the edge
 * sends the address no more than the top-up rate per leecher seen there (at least one) less that. A client
 * the wire never saw (curl, a plain HTTP downloader) shows no other source and gets the top-up rate.
 */
export class TopUpLedger {
  readonly bytesPerSecond: number;
  readonly #entries = new Map<string, LedgerEntry>();
  /** Objects whose swarm has this edge as the only source of a wanted piece (storage control): not paced. */
  readonly #unpaced = new Set<string>();
  readonly #now: () => number;
  #sweepAt = 0;

  constructor(bytesPerSecond: number, now: () => number = Date.now) {
    this.bytesPerSecond = bytesPerSecond;
    this.#now = now;
  }

  /** A wire connection from `address` is on the object; the returned function says it closed. */
  attach(address: string, infoHash: string): () => void {
    const entry = this.#entry(address, infoHash);
    entry.connections++;
    let attached = true;
    return () => {
      if (!attached) return;
      attached = false;
      entry.connections--;
      entry.lastAt = this.#now();
    };
  }

  /**
   * Whether top-up paces the object. Storage control says after each round (its decide()'s paced): a swarm
   * where this edge is the only known source of a wanted piece (no seed yet), or with fewer seeds per leecher
   * than storageControl.paceSeedsPerLeecher, is served unpaced, since its peers cannot make up what pacing
   * holds back. Paced unless told otherwise.
   */
  setPaced(infoHash: string, paced: boolean): void {
    if (paced) this.#unpaced.delete(infoHash);
    else this.#unpaced.add(infoHash);
  }

  paces(infoHash: string): boolean {
    return !this.#unpaced.has(infoHash);
  }

  /** A leecher at `address` announced a piece (HAVE) of `bytes`. */
  completed(address: string, infoHash: string, bytes: number): void {
    const now = this.#now();
    const entry = this.#entry(address, infoHash);
    entry.completed.add(now, bytes);
    entry.lastAt = now;
  }

  /** This edge sent `bytes` of the object to `address` (wire block, or HTTP body when `overHttp`). */
  sent(address: string, infoHash: string, bytes: number, overHttp = false): void {
    const now = this.#now();
    const entry = this.#entry(address, infoHash);
    entry.sent.add(now, bytes);
    if (overHttp) entry.sentOverHttp.add(now, bytes);
    entry.lastAt = now;
  }

  /** The HTTP bytes of the object sent to `address` in the window (the wire's meter counts them as its own). */
  sentOverHttp(address: string, infoHash: string): number {
    return this.#entries.get(keyOf(address, infoHash))?.sentOverHttp.total(this.#now()) ?? 0;
  }

  /** The address's rate of the object from other sources over the window, bytes per second. */
  othersRate(address: string, infoHash: string): number {
    const entry = this.#entries.get(keyOf(address, infoHash));
    if (entry === undefined) return 0;
    const now = this.#now();
    return Math.max(0, entry.completed.total(now) - entry.sent.total(now)) / (TOP_UP_WINDOW_MS / 1000);
  }

  /**
   * Whether `length` more bytes may go to the address now. A chunk larger than a whole window's allowance
   * goes when nothing else was sent in the window, so a low rate still moves.
   */
  maySend(address: string, infoHash: string, length: number): boolean {
    if (!this.paces(infoHash)) return true;
    const entry = this.#entry(address, infoHash);
    const now = this.#now();
    const window = TOP_UP_WINDOW_MS / 1000;
    const sent = entry.sent.total(now);
    const others = Math.max(0, entry.completed.total(now) - sent) / window;
    const allowance = Math.max(0, this.bytesPerSecond * Math.max(1, entry.connections) - others);
    return (sent + length) / window <= allowance || (sent === 0 && allowance > 0);
  }

  /** Entries tracked (addresses x objects), for tests and status. */
  get size(): number {
    return this.#entries.size;
  }

  #entry(address: string, infoHash: string): LedgerEntry {
    const key = keyOf(address, infoHash);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#sweep();
      entry = {
        completed: new Ring(),
        sent: new Ring(),
        sentOverHttp: new Ring(),
        connections: 0,
        lastAt: this.#now(),
      };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Forgets addresses with no connection and nothing in the window (at most once a window). */
  #sweep(): void {
    const now = this.#now();
    if (now < this.#sweepAt) return;
    this.#sweepAt = now + TOP_UP_WINDOW_MS;
    for (const [key, entry] of this.#entries) {
      if (entry.connections === 0 && now - entry.lastAt > TOP_UP_WINDOW_MS) this.#entries.delete(key);
    }
  }
}

/** IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; the wire may see them plain. */
function keyOf(address: string, infoHash: string): string {
  return `${address.startsWith('::ffff:') ? address.slice(7) : address} ${infoHash}`;
}
