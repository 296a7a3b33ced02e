// The in-memory store's peers as fixed-size records in typed arrays, one table for all swarms, with a free
// list for churn and an open-addressing index from (swarm, compact address and port) to a record. Why: as
// one JS object per peer (strings for its key, address and peer id, a Map entry per swarm and per quota)
// a peer took 362 bytes of heap; here its record is 86 bytes and the index 8-16.

/** Longest compact form: 16 address bytes and the port (BEP 7). */
const COMPACT_MAX = 18;
const PEER_ID_BYTES = 20;
const EMPTY = -1;
const FIRST_CAPACITY = 1024;

/** What a record holds besides its counters: bit 0 network peer, bits 1-2 the holding kind. */
export const NETWORK_FLAG = 1;
export const HOLDING_UNKNOWN = 0;
export const HOLDING_FULL = 1;
export const HOLDING_BITMAP = 2;
/** `pid`: 0 not known, else the PID number (-1: outside every PID) plus PID_OFFSET. */
export const PID_UNKNOWN = 0;
export const PID_OFFSET = 2;

export class PeerTable {
  /** Records in use (not counting free ones). */
  size = 0;
  #capacity = 0;
  /** Records ever handed out; those below it and not in use are on the free list. */
  #highWater = 0;
  /** Head of the free list (chained through `position`), or EMPTY. */
  #freeHead = EMPTY;
  compact = new Uint8Array(0);
  /** 6 (IPv4) or 18 (IPv6); 0 for a free record. */
  compactLength = new Uint8Array(0);
  peerId = new Uint8Array(0);
  uploaded = new Float64Array(0);
  downloaded = new Float64Array(0);
  left = new Float64Array(0);
  lastSeen = new Float64Array(0);
  /** The swarm's number (SwarmIds). */
  swarm = new Uint32Array(0);
  /** Where the record stands in its swarm's list (O(1) removal); the next free record while free. */
  position = new Int32Array(0);
  flags = new Uint8Array(0);
  /** The peer's PID number with network maps (PID_UNKNOWN, PID_OFFSET): a peer list looks none up. */
  pid = new Uint16Array(0);
  #hash = new Uint32Array(0);
  /** Open addressing, linear probing: record numbers, EMPTY where none. Never more than half full. */
  #buckets = new Int32Array(0);
  #mask = 0;

  constructor() {
    this.#grow(FIRST_CAPACITY);
    this.#rehash(FIRST_CAPACITY * 2);
  }

  /** The record of this swarm and compact form, or EMPTY. */
  find(swarm: number, compact: Uint8Array): number {
    const hash = hashOf(swarm, compact);
    for (let at = hash & this.#mask; ; at = (at + 1) & this.#mask) {
      const record = this.#buckets[at]!;
      if (record === EMPTY) return EMPTY;
      if (this.#hash[record] === hash && this.swarm[record] === swarm && this.#sameCompact(record, compact)) {
        return record;
      }
    }
  }

  /** A new record for this swarm and compact form (not yet present), its counters zero. */
  add(swarm: number, compact: Uint8Array): number {
    let record: number;
    if (this.#freeHead !== EMPTY) {
      record = this.#freeHead;
      this.#freeHead = this.position[record]!;
    } else {
      if (this.#highWater === this.#capacity) this.#grow(Math.ceil(this.#capacity * 1.5));
      record = this.#highWater++;
    }
    this.size++;
    if (this.size * 2 > this.#buckets.length) this.#rehash(this.#buckets.length * 2);
    this.compact.set(compact, record * COMPACT_MAX);
    this.compactLength[record] = compact.length;
    this.swarm[record] = swarm;
    this.flags[record] = 0;
    this.pid[record] = PID_UNKNOWN;
    this.uploaded[record] = 0;
    this.downloaded[record] = 0;
    this.left[record] = 0;
    this.lastSeen[record] = 0;
    const hash = hashOf(swarm, compact);
    this.#hash[record] = hash;
    let at = hash & this.#mask;
    while (this.#buckets[at] !== EMPTY) at = (at + 1) & this.#mask;
    this.#buckets[at] = record;
    return record;
  }

  /** Frees a record: out of the index, onto the free list. */
  remove(record: number): void {
    let at = this.#hash[record]! & this.#mask;
    while (this.#buckets[at] !== record) at = (at + 1) & this.#mask;
    // Backward-shift deletion: later entries of the probe run move up, so lookups need no tombstones.
    for (let next = (at + 1) & this.#mask; ; next = (next + 1) & this.#mask) {
      const moving = this.#buckets[next]!;
      if (moving === EMPTY) break;
      const home = this.#hash[moving]! & this.#mask;
      // Movable into the hole at `at` unless its home lies cyclically in (at, next].
      const homeAfterHole = at <= next ? home > at && home <= next : home > at || home <= next;
      if (homeAfterHole) continue;
      this.#buckets[at] = moving;
      at = next;
    }
    this.#buckets[at] = EMPTY;
    this.#oddPeerIds.delete(record);
    this.compactLength[record] = 0;
    this.position[record] = this.#freeHead;
    this.#freeHead = record;
    this.size--;
  }

  /** Sets the peer id; true when it changed. */
  setPeerId(record: number, peerId: Uint8Array): boolean {
    if (peerId.length !== PEER_ID_BYTES || this.#oddPeerIds.has(record)) return this.#setOddPeerId(record, peerId);
    const base = record * PEER_ID_BYTES;
    let same = true;
    for (let i = 0; i < PEER_ID_BYTES; i++) {
      const byte = peerId[i] ?? 0;
      if (this.peerId[base + i] !== byte) {
        same = false;
        this.peerId[base + i] = byte;
      }
    }
    return !same;
  }

  /** The compact form (and key) as a latin1 string. */
  compactText(record: number): string {
    const base = record * COMPACT_MAX;
    const bytes = this.compact;
    if (this.compactLength[record] === 6) {
      return String.fromCharCode(
        bytes[base]!,
        bytes[base + 1]!,
        bytes[base + 2]!,
        bytes[base + 3]!,
        bytes[base + 4]!,
        bytes[base + 5]!,
      );
    }
    return Buffer.from(bytes.buffer, bytes.byteOffset + base, 18).toString('latin1');
  }

  compactBytes(record: number): Uint8Array {
    const base = record * COMPACT_MAX;
    return this.compact.subarray(base, base + this.compactLength[record]!);
  }

  /** Peer ids of another length than 20 bytes (the store takes what it is given; announces check it). */
  readonly #oddPeerIds = new Map<number, string>();

  #setOddPeerId(record: number, peerId: Uint8Array): boolean {
    const before = this.peerIdText(record);
    const text = Buffer.from(peerId.buffer, peerId.byteOffset, peerId.length).toString('latin1');
    this.#oddPeerIds.delete(record);
    if (peerId.length === PEER_ID_BYTES) this.setPeerId(record, peerId);
    else this.#oddPeerIds.set(record, text);
    return text !== before;
  }

  peerIdText(record: number): string {
    const odd = this.#oddPeerIds.get(record);
    if (odd !== undefined) return odd;
    const base = record * PEER_ID_BYTES;
    return Buffer.from(this.peerId.buffer, this.peerId.byteOffset + base, PEER_ID_BYTES).toString('latin1');
  }

  /** Bytes the table's arrays take (what counts() could report). */
  get bytes(): number {
    return this.#capacity * (COMPACT_MAX + 1 + PEER_ID_BYTES + 4 * 8 + 4 + 4 + 1 + 2 + 4) + this.#buckets.length * 4;
  }

  #sameCompact(record: number, compact: Uint8Array): boolean {
    if (this.compactLength[record] !== compact.length) return false;
    const base = record * COMPACT_MAX;
    for (let i = 0; i < compact.length; i++) if (this.compact[base + i] !== compact[i]) return false;
    return true;
  }

  #grow(capacity: number): void {
    const grown = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(
      old: T,
      perRecord: number,
    ): T => {
      const next = new (old.constructor as new (length: number) => T)(capacity * perRecord);
      next.set(old);
      return next;
    };
    this.compact = grown(this.compact, COMPACT_MAX);
    this.compactLength = grown(this.compactLength, 1);
    this.peerId = grown(this.peerId, PEER_ID_BYTES);
    this.uploaded = grown(this.uploaded, 1);
    this.downloaded = grown(this.downloaded, 1);
    this.left = grown(this.left, 1);
    this.lastSeen = grown(this.lastSeen, 1);
    this.swarm = grown(this.swarm, 1);
    this.position = grown(this.position, 1);
    this.flags = grown(this.flags, 1);
    this.pid = grown(this.pid, 1);
    this.#hash = grown(this.#hash, 1);
    this.#capacity = capacity;
  }

  #rehash(bucketCount: number): void {
    this.#buckets = new Int32Array(bucketCount).fill(EMPTY);
    this.#mask = bucketCount - 1;
    for (let record = 0; record < this.#highWater; record++) {
      if (this.compactLength[record] === 0) continue;
      let at = this.#hash[record]! & this.#mask;
      while (this.#buckets[at] !== EMPTY) at = (at + 1) & this.#mask;
      this.#buckets[at] = record;
    }
  }
}

/** FNV-1a over the swarm number and the compact form, then mixed (low bits index the buckets). */
function hashOf(swarm: number, compact: Uint8Array): number {
  let hash = Math.imul(0x811c9dc5 ^ swarm, 0x01000193);
  for (let i = 0; i < compact.length; i++) hash = Math.imul(hash ^ compact[i]!, 0x01000193);
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  hash ^= hash >>> 12;
  return hash >>> 0;
}

/** A swarm's records in a growable typed array: O(1) append and swap-removal, uniform sampling. */
export class RecordList {
  length = 0;
  items = new Uint32Array(4);

  push(record: number): number {
    if (this.length === this.items.length) {
      const grown = new Uint32Array(Math.ceil(this.items.length * 1.5) + 1);
      grown.set(this.items);
      this.items = grown;
    }
    this.items[this.length] = record;
    return this.length++;
  }

  /** Removes the entry at `index`; returns the record moved into it from the end, or EMPTY. */
  removeAt(index: number): number {
    const last = this.items[--this.length]!;
    if (index === this.length) {
      this.#shrink();
      return EMPTY;
    }
    this.items[index] = last;
    this.#shrink();
    return last;
  }

  #shrink(): void {
    if (this.items.length > 64 && this.length * 4 < this.items.length)
      this.items = this.items.slice(0, this.length * 2);
  }
}

export const NO_RECORD = EMPTY;
