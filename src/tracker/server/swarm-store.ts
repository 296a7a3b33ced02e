// Swarm state of the reference tracker, behind an interface (like bittorrent-tracker's swarm) so that a
// shared store can replace the in-memory default when one process is not enough. Everything is bounded:
// swarms, peers per swarm, pieces per bitmap and the bytes all bitmaps take together.
import { countBits, encodeBitmap } from '../protocol/bitmap.ts';
import { bytesToIp, encodeCompactPeer } from '../protocol/compact.ts';
import { objectUrl, pieceUrlPattern } from '../protocol/extension.ts';
import { type CandidatePeer, type PeerLocality, pickPeers, samplingSize } from './peer-selection.ts';
import {
  HOLDING_BITMAP,
  HOLDING_FULL,
  HOLDING_UNKNOWN,
  NETWORK_FLAG,
  NO_RECORD,
  PeerTable,
  PID_OFFSET,
  PID_UNKNOWN,
  RecordList,
} from './peer-table.ts';

export type PeerEvent = 'started' | 'completed' | 'stopped' | 'paused' | undefined;

/** One announce, checked and decoded (server/announce-request.ts). */
export interface PeerAnnounce {
  /** 40 lowercase hex characters. */
  infoHash: string;
  peerId: Buffer;
  ip: string;
  family: 4 | 6;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event: PeerEvent;
  numWant: number;
  /** Only peers of this family are wanted (UDP answers one family); undefined for both. */
  wantFamily?: 4 | 6;
  /** Set when the announce carries the bitmap extension: the announcer is a network peer. */
  network?: NetworkPeerReport;
  /** ms since the epoch. */
  now: number;
}

export interface NetworkPeerReport {
  pieceCount?: number;
  size?: number;
  /** Decoded bitfield of pieceCount pieces, when sent. */
  bitmap?: Uint8Array;
  /** Checked HTTP base URLs. */
  urls: string[];
}

/**
 * A peer as answers list it. Byte fields are latin1 strings: a small Buffer is a slice of an 8 KiB pool
 * slab, and 100k long-lived slices pin slabs across the heap (300+ MiB for 100k peers, measured).
 */
export interface ListedPeer {
  /** The 20-byte peer id, one character per byte. */
  peerId: string;
  ip: string;
  family: 4 | 6;
  port: number;
  /** The 6- or 18-byte compact form (BEP 23 / BEP 7), one character per byte. */
  compact: string;
  /** Its PID's number (PeerLocality.pids, -1: outside every PID) when the store kept it; else looked up. */
  pidNumber?: number;
}

export interface AnnounceOutcome {
  complete: number;
  incomplete: number;
  downloaded: number;
  peers: ListedPeer[];
  /** BEP 19 web seed URLs of network peers that hold the whole object. */
  urlList: string[];
  /** Piece URL patterns of network peers that hold pieces. */
  pieceUrls: string[];
  warnings: string[];
  /** Set when the announce was refused (the answer is a failure reason). */
  failure?: string;
  version: number;
  /** True when what statistics show changed (followers are told). */
  changed: boolean;
}

export interface ScrapeEntry {
  infoHash: string;
  complete: number;
  incomplete: number;
  downloaded: number;
}

/** A peer in statistics: never its peer id, which would let a reader impersonate it to clients. */
export interface PeerStats {
  ip: string;
  port: number;
  left: number;
  uploaded: number;
  downloaded: number;
  complete: boolean;
  /** Fraction of the object held: from the bitmap, or from `left` and the object size; null if unknown. */
  progress: number | null;
  network: boolean;
  lastSeen: number;
}

export interface NetworkPeerStats extends PeerStats {
  /** Pieces held, or null when unknown. */
  held: number | null;
  /** The bitmap in the extension's form (protocol/bitmap.ts), or null when unknown. */
  bitmap: string | null;
  objectUrls: string[];
  pieceUrls: string[];
}

export interface SwarmStats {
  infoHash: string;
  version: number;
  pieceCount: number | null;
  size: number | null;
  seeds: number;
  leechers: number;
  /** Completed downloads seen (event=completed). */
  downloaded: number;
  /** Copies of each piece among peers whose pieces are known (seeds count for every piece); null without pieceCount. */
  pieceCopies: number[] | null;
  /** Peers whose pieces are unknown (plain leechers): not in pieceCopies. */
  peersWithUnknownPieces: number;
  networkPeers: NetworkPeerStats[];
  /** Up to maxPeers peers, most recently seen first; peerCount says how many there are. */
  peers: PeerStats[];
  peerCount: number;
  /**
   * With network maps (docs/topology.md): seeds and leechers that are not network peers, by PID (peers
   * outside every PID are left out). Where the demand is, for storage control's placement.
   */
  pids?: Record<string, PidPeerCounts>;
}

export interface PidPeerCounts {
  seeds: number;
  leechers: number;
}

/** The PID of a compact address and port (src/topology: Topology.pidOfCompact), or null. */
export type PidOfCompact = (compact: string) => string | null;

/** Seeds and leechers that are not network peers, by PID; peers outside every PID are left out. */
export function peersByPid(
  records: Iterable<Pick<PeerRecord, 'compact' | 'left' | 'network'>>,
  pidOf: PidOfCompact,
): Record<string, PidPeerCounts> {
  // No prototype: a PID may be named "__proto__" (RFC 7285 allows the characters).
  const counts: Record<string, PidPeerCounts> = Object.create(null);
  for (const record of records) {
    if (record.network) continue;
    const pid = pidOf(record.compact);
    if (pid === null) continue;
    const entry = counts[pid] ?? { seeds: 0, leechers: 0 };
    counts[pid] = entry;
    if (record.left === 0) entry.seeds++;
    else entry.leechers++;
  }
  return counts;
}

export interface SwarmSummary {
  infoHash: string;
  version: number;
  seeds: number;
  leechers: number;
  networkPeers: number;
  pieceCount: number | null;
}

export interface SwarmStoreCounts {
  swarms: number;
  peers: number;
  bitmapBytes: number;
  /** Swarms dropped, least recently announced first, to make room for new ones. */
  evictedSwarms: number;
}

/** Told of a swarm whose statistics changed, with its new version. */
export type ChangeListener = (infoHash: string, version: number) => void;

/**
 * The tracker's view of swarms. Async so that a shared (networked) store can implement it. What several
 * tracker instances on one shared store must agree on lives behind it: the swarms, their versions, the
 * feed of changes (each instance's statistics followers hear of changes made through any instance) and
 * which instance runs the expiry sweep.
 */
export interface SwarmStore {
  /** Records the announce and answers it; locality, when given, orders the peers chosen (peer-selection.ts). */
  announce(announce: PeerAnnounce, locality?: PeerLocality): Promise<AnnounceOutcome>;
  /** Counts for each hash, zeros for unknown ones; all swarms (up to limit) when infoHashes is undefined. */
  scrape(infoHashes: readonly string[] | undefined, limit: number): Promise<ScrapeEntry[]>;
  /** Statistics of one swarm; an empty swarm (version 0) when unknown. With pidOf, `pids` too. */
  stats(infoHash: string, maxPeers: number, pidOf?: PidOfCompact): Promise<SwarmStats>;
  list(limit: number): Promise<SwarmSummary[]>;
  /** Drops peers last seen before `before` (ms); returns the swarms that changed. */
  expire(before: number): Promise<string[]>;
  counts(): Promise<SwarmStoreCounts>;
  /**
   * Follows changes of swarm statistics (announces, stopped, expiry) made through this store and, when it is
   * shared, through every other instance on it. Returns the unsubscribe function.
   */
  onChange(listener: ChangeListener): () => void;
  /**
   * Whether this instance runs the expiry sweep now: always for a store of its own; for a shared one, the
   * instance that holds (and by this call renews) a lease of `holdMs`.
   */
  claimExpiry(holdMs: number): Promise<boolean>;
  /**
   * The `tracker id` to answer with when the state is shared (the same on every instance; a new one when
   * the state was lost); undefined: each tracker process has its own.
   */
  readonly trackerId?: string;
  close(): Promise<void>;
}

export interface SwarmStoreLimits {
  maxSwarms: number;
  maxPeersPerSwarm: number;
  /** Peers across all swarms. */
  maxPeers: number;
  /** Entries (one per swarm and port) one address may hold, and one /24 (IPv4) or /64 (IPv6) network. */
  maxPeersPerAddress: number;
  maxPeersPerNetwork: number;
  /** Largest bitmap kept, in pieces. */
  maxPieces: number;
  /** Bytes all kept bitmaps may take together. */
  maxBitmapBytes: number;
  /** Most web seed and piece URLs in one answer. */
  maxUrlsPerAnswer: number;
}

/** Pieces a peer is known to hold. */
export type Holding = { kind: 'full' } | { kind: 'unknown' } | { kind: 'bitmap'; bitmap: Uint8Array; held: number };

const FULL: Holding = { kind: 'full' };
const UNKNOWN: Holding = { kind: 'unknown' };

export interface PeerRecord extends ListedPeer {
  key: string;
  uploaded: number;
  downloaded: number;
  left: number;
  lastSeen: number;
  holding: Holding;
  network: boolean;
  urls: string[];
  /** Position in Swarm.list, for O(1) removal and random sampling. */
  index: number;
}

/** The limits' earlier name. */
export type MemorySwarmStoreLimits = SwarmStoreLimits;

/** Shared by every peer that names no URL (all but network peers): an array each is 16 bytes per peer. */
const NO_URLS: string[] = Object.freeze([]) as unknown as string[];

function urlsOf(announce: PeerAnnounce): string[] {
  const urls = announce.network?.urls;
  return urls === undefined || urls.length === 0 ? NO_URLS : urls;
}

/** A swarm of the in-memory store: counts and its records' numbers in the peer table. */
interface MemorySwarm {
  infoHash: string;
  /** Its number in the peer table's records. */
  id: number;
  records: RecordList;
  seeds: number;
  downloaded: number;
  pieceCount: number | null;
  size: number | null;
  /** Copies of each piece among peers with partial bitmaps (peers holding all count in fullPeers). */
  copies: Uint32Array | null;
  fullPeers: number;
  bitmapPeers: number;
  networkPeers: number;
  version: number;
}

/**
 * A peer built from its record for peer selection and answers: the address text and the peer id are made
 * only if an answer asks for them.
 */
class TablePeer implements CandidatePeer {
  readonly family: 4 | 6;
  readonly left: number;
  readonly holding: Holding;
  pidNumber?: number;
  readonly #table: PeerTable;
  readonly #record: number;
  /** Built when first read: most candidates of an announce are scored and never listed. */
  #compact: string | undefined = undefined;

  constructor(table: PeerTable, record: number, holding: Holding) {
    this.#table = table;
    this.#record = record;
    this.family = table.compactLength[record] === 6 ? 4 : 6;
    this.left = table.left[record]!;
    this.holding = holding;
  }

  get key(): string {
    return this.compact;
  }

  get compact(): string {
    if (this.#compact === undefined) this.#compact = this.#table.compactText(this.#record);
    return this.#compact;
  }

  get port(): number {
    const compact = this.compact;
    return (compact.charCodeAt(compact.length - 2) << 8) | compact.charCodeAt(compact.length - 1);
  }

  get peerId(): string {
    return this.#table.peerIdText(this.#record);
  }

  get ip(): string {
    const bytes = this.#table.compactBytes(this.#record);
    return bytesToIp(bytes.subarray(0, bytes.length - 2));
  }
}

export class MemorySwarmStore implements SwarmStore {
  readonly #swarms = new Map<string, MemorySwarm>();
  /** Swarms by their number; numbers of dropped swarms are reused (freeSwarmIds). */
  readonly #swarmById: Array<MemorySwarm | undefined> = [];
  readonly #freeSwarmIds: number[] = [];
  readonly #table = new PeerTable();
  /** The few peers with a bitmap, and network peers' URLs, by record. */
  readonly #bitmaps = new Map<number, Holding>();
  readonly #urls = new Map<number, string[]>();
  readonly #limits: SwarmStoreLimits;
  readonly #listeners = new Set<ChangeListener>();
  /** Swarms dropped to make room (counts()). */
  #evictedSwarms = 0;
  #bitmapBytes = 0;
  /** Versions come from one counter, so a swarm that is dropped and comes back never repeats a version. */
  #lastVersion = 0;
  /** The map generation the PID numbers in the peer table belong to (PidNumbering). */
  #pidGeneration = 0;
  /**
   * Entries per address and per /24 or /64: IPv4 ones keyed by a number (no string per peer), IPv6 ones by
   * the address bytes as text, marked by family.
   */
  readonly #entriesByAddress = new Map<number | string, number>();
  readonly #entriesByNetwork = new Map<number | string, number>();

  constructor(limits: SwarmStoreLimits) {
    this.#limits = limits;
  }

  async announce(announce: PeerAnnounce, locality?: PeerLocality): Promise<AnnounceOutcome> {
    const outcome = this.announceNow(announce, locality);
    if (outcome.changed) this.#tell(announce.infoHash, outcome.version);
    return outcome;
  }

  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async claimExpiry(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  #tell(infoHash: string, version: number): void {
    for (const listener of [...this.#listeners]) listener(infoHash, version);
  }

  /** The synchronous core of announce (the HTTP hot path awaits nothing else). */
  announceNow(announce: PeerAnnounce, locality?: PeerLocality): AnnounceOutcome {
    const warnings: string[] = [];
    // The key is the compact address and port (as opentracker keys peers): an announce from another address
    // can neither move, replace nor stop this peer's entry, and a client restarting on the same address
    // and port with a new peer id takes over its old entry instead of being listed twice.
    const key = encodeCompactPeer(announce.ip, announce.port);
    if (key === undefined) {
      return { ...emptyOutcome(warnings, 0), failure: `cannot list address ${announce.ip} port ${announce.port}` };
    }
    let swarm = this.#swarms.get(announce.infoHash);
    if (swarm === undefined) {
      if (announce.event === 'stopped') return emptyOutcome(warnings, 0);
      const quota = this.#overQuota(key);
      if (quota !== null) return { ...emptyOutcome(warnings, 0), failure: quota };
      // Full: the least recently announced swarm makes room, so a flood cannot lock new swarms out.
      if (this.#swarms.size >= this.#limits.maxSwarms) this.#evictOldestSwarm();
      swarm = this.#newSwarm(announce.infoHash);
    } else if (announce.event !== 'stopped') {
      // Most recently announced last: Map order is the eviction order.
      this.#swarms.delete(announce.infoHash);
      this.#swarms.set(announce.infoHash, swarm);
    }
    const table = this.#table;
    const found = table.find(swarm.id, key);
    const existing = found === NO_RECORD ? undefined : found;
    const pids = locality?.pids;
    if (pids !== undefined && pids.generation !== this.#pidGeneration) {
      // Another network map: every kept PID number is looked up again when next needed.
      table.pid.fill(PID_UNKNOWN);
      this.#pidGeneration = pids.generation;
    }

    if (announce.event === 'stopped') {
      if (existing !== undefined) {
        this.#removePeer(swarm, existing);
        this.#bump(swarm);
        if (swarm.records.length === 0) this.#dropSwarm(swarm);
        return { ...this.#counts(swarm, warnings), changed: true };
      }
      return { ...this.#counts(swarm, warnings), changed: false };
    }

    const holding = this.#holdingOf(swarm, announce, existing, warnings);
    const leftBefore = existing === undefined ? undefined : table.left[existing];
    let changed = false;
    let record = existing;
    if (record === undefined) {
      const quota = this.#overQuota(key);
      const swarmFull = swarm.records.length >= this.#limits.maxPeersPerSwarm;
      if (quota === null && !swarmFull && table.size >= this.#limits.maxPeers) this.#evictOldestSwarm(swarm);
      if (quota !== null) {
        warnings.push(quota);
      } else if (swarmFull) {
        warnings.push(`swarm is full (${this.#limits.maxPeersPerSwarm} peers): you are not listed`);
      } else if (table.size >= this.#limits.maxPeers) {
        warnings.push(`tracker is full (${this.#limits.maxPeers} peers): you are not listed`);
      } else {
        record = this.#addPeer(swarm, key, announce, holding);
        changed = true;
      }
    } else {
      changed = this.#updatePeer(swarm, record, announce, holding);
    }
    if (announce.event === 'completed' && leftBefore !== 0) {
      swarm.downloaded++;
      changed = true;
    }
    if (changed) this.#bump(swarm);
    if (swarm.records.length === 0) this.#dropSwarm(swarm);
    // The asker's PID was looked up for this announce: kept, listing it later costs nothing.
    if (record !== undefined && pids !== undefined) table.pid[record] = storedPid(pids.asker);

    const peers =
      announce.numWant > 0 ? this.#pick(swarm, record, holding, announce.numWant, announce.wantFamily, locality) : [];
    return {
      ...this.#counts(swarm, warnings),
      peers,
      urlList: this.#objectUrls(swarm, record),
      pieceUrls: this.#pieceUrls(swarm, record),
      changed,
    };
  }

  /** Peer selection (peer-selection.ts) over a sample of the swarm's records, built as candidates. */
  #pick(
    swarm: MemorySwarm,
    asker: number | undefined,
    askerHolding: Holding,
    numWant: number,
    wantFamily: 4 | 6 | undefined,
    locality: PeerLocality | undefined,
  ): ListedPeer[] {
    const records = swarm.records;
    const want = samplingSize(numWant, askerHolding.kind === 'bitmap' ? askerHolding.bitmap.length : 0);
    const pool: CandidatePeer[] = [];
    if (records.length - (asker === undefined ? 0 : 1) <= want) {
      for (let i = 0; i < records.length; i++) {
        const record = records.items[i]!;
        if (record !== asker) pool.push(this.#candidate(record, locality));
      }
    } else {
      const chosen = new Set<number>();
      while (chosen.size < want) {
        const record = records.items[Math.floor(Math.random() * records.length)]!;
        if (record !== asker) chosen.add(record);
      }
      for (const record of chosen) pool.push(this.#candidate(record, locality));
    }
    return pickPeers(
      { list: pool, pieceCount: swarm.pieceCount, size: swarm.size },
      null,
      askerHolding,
      numWant,
      wantFamily,
      // The pool leaves the asker's record out, and no other record of a swarm has its address and port.
      '',
      locality,
    );
  }

  #candidate(record: number, locality: PeerLocality | undefined): TablePeer {
    const peer = new TablePeer(this.#table, record, this.#holdingAt(record));
    const pids = locality?.pids;
    if (pids !== undefined) {
      const table = this.#table;
      const stored = table.pid[record]!;
      if (stored !== PID_UNKNOWN) {
        peer.pidNumber = stored - PID_OFFSET;
      } else {
        peer.pidNumber = pids.numberOf(peer.compact);
        table.pid[record] = storedPid(peer.pidNumber);
      }
    }
    return peer;
  }

  #holdingAt(record: number): Holding {
    const kind = (this.#table.flags[record]! >> 1) & 3;
    if (kind === HOLDING_FULL) return FULL;
    if (kind === HOLDING_BITMAP) return this.#bitmaps.get(record) ?? UNKNOWN;
    return UNKNOWN;
  }

  #newSwarm(infoHash: string): MemorySwarm {
    const id = this.#freeSwarmIds.pop() ?? this.#swarmById.length;
    const swarm: MemorySwarm = {
      infoHash,
      id,
      records: new RecordList(),
      seeds: 0,
      downloaded: 0,
      pieceCount: null,
      size: null,
      copies: null,
      fullPeers: 0,
      bitmapPeers: 0,
      networkPeers: 0,
      version: 0,
    };
    this.#swarmById[id] = swarm;
    this.#swarms.set(infoHash, swarm);
    return swarm;
  }

  #dropSwarm(swarm: MemorySwarm): void {
    if (this.#swarms.get(swarm.infoHash) !== swarm) return;
    this.#swarms.delete(swarm.infoHash);
    this.#swarmById[swarm.id] = undefined;
    this.#freeSwarmIds.push(swarm.id);
  }

  /** Why a new entry from this address is refused, or null: its address or network holds its quota. */
  #overQuota(key: Uint8Array): string | null {
    if ((this.#entriesByAddress.get(addressKey(key)) ?? 0) >= this.#limits.maxPeersPerAddress) {
      return `your address holds ${this.#limits.maxPeersPerAddress} entries, the most this tracker keeps per address: not listed`;
    }
    if ((this.#entriesByNetwork.get(networkKey(key)) ?? 0) >= this.#limits.maxPeersPerNetwork) {
      return `your network holds ${this.#limits.maxPeersPerNetwork} entries, the most this tracker keeps per /24 or /64: not listed`;
    }
    return null;
  }

  #countEntry(key: Uint8Array, sign: 1 | -1): void {
    countIn(this.#entriesByAddress, addressKey(key), sign);
    countIn(this.#entriesByNetwork, networkKey(key), sign);
  }

  /** Drops the least recently announced swarm (not `keep`), peers and all. */
  #evictOldestSwarm(keep?: MemorySwarm): void {
    for (const swarm of this.#swarms.values()) {
      if (swarm === keep) continue;
      for (let i = swarm.records.length - 1; i >= 0; i--) this.#removePeer(swarm, swarm.records.items[i]!);
      this.#dropSwarm(swarm);
      this.#evictedSwarms++;
      return;
    }
  }

  /** What the announce says the peer holds; problems become warnings and leave the bitmap unknown. */
  #holdingOf(swarm: MemorySwarm, announce: PeerAnnounce, existing: number | undefined, warnings: string[]): Holding {
    const network = announce.network;
    if (network?.pieceCount !== undefined) {
      if (swarm.pieceCount === null || (swarm.bitmapPeers === 0 && swarm.pieceCount !== network.pieceCount)) {
        this.#setPieceCount(swarm, network.pieceCount);
      } else if (swarm.pieceCount !== network.pieceCount) {
        warnings.push(
          `ep_pieces=${network.pieceCount} disagrees with the swarm's ${swarm.pieceCount} pieces: bitmap ignored`,
        );
        return announce.left === 0 ? FULL : UNKNOWN;
      }
    }
    if (network?.size !== undefined && swarm.size === null) swarm.size = network.size;
    if (announce.left === 0) return FULL;
    const previous = existing === undefined ? UNKNOWN : this.#holdingAt(existing);
    if (network?.bitmap !== undefined && swarm.pieceCount !== null) {
      const bitmap = network.bitmap;
      const held = countBits(bitmap);
      if (held === swarm.pieceCount) return FULL;
      const previousBytes = previous.kind === 'bitmap' ? previous.bitmap.length : 0;
      if (this.#bitmapBytes - previousBytes + bitmap.length > this.#limits.maxBitmapBytes) {
        warnings.push('tracker bitmap memory is full: bitmap not kept');
        return UNKNOWN;
      }
      return { kind: 'bitmap', bitmap, held };
    }
    // A network peer that left its bitmap out (too large for a GET) keeps the one it sent before.
    if (network !== undefined && previous.kind === 'bitmap') return previous;
    return UNKNOWN;
  }

  #setPieceCount(swarm: MemorySwarm, pieceCount: number): void {
    swarm.pieceCount = pieceCount;
    swarm.copies = new Uint32Array(pieceCount);
  }

  #addPeer(swarm: MemorySwarm, key: Uint8Array, announce: PeerAnnounce, holding: Holding): number {
    const table = this.#table;
    const record = table.add(swarm.id, key);
    table.setPeerId(record, announce.peerId);
    table.uploaded[record] = announce.uploaded;
    table.downloaded[record] = announce.downloaded;
    table.left[record] = announce.left;
    table.lastSeen[record] = announce.now;
    const network = announce.network !== undefined;
    if (network) {
      table.flags[record] = NETWORK_FLAG;
      const urls = urlsOf(announce);
      if (urls.length > 0) this.#urls.set(record, urls);
      swarm.networkPeers++;
    }
    table.position[record] = swarm.records.push(record);
    this.#countEntry(key, 1);
    if (announce.left === 0) swarm.seeds++;
    this.#setHolding(swarm, record, holding);
    return record;
  }

  /** Applies an announce of a known peer; true when statistics change. */
  #updatePeer(swarm: MemorySwarm, record: number, announce: PeerAnnounce, holding: Holding): boolean {
    const table = this.#table;
    // A new peer id: the client restarted on this address and port.
    let changed = table.setPeerId(record, announce.peerId);
    const left = table.left[record]!;
    if (left !== announce.left) {
      if (left === 0) swarm.seeds--;
      if (announce.left === 0) swarm.seeds++;
      table.left[record] = announce.left;
      changed = true;
    }
    const network = announce.network !== undefined;
    const wasNetwork = (table.flags[record]! & NETWORK_FLAG) !== 0;
    if (wasNetwork !== network) {
      swarm.networkPeers += network ? 1 : -1;
      table.flags[record] = (table.flags[record]! & ~NETWORK_FLAG) | (network ? NETWORK_FLAG : 0);
      changed = true;
    }
    const urls = urlsOf(announce);
    const before = this.#urls.get(record) ?? NO_URLS;
    if (urls.join('\n') !== before.join('\n')) {
      if (urls.length === 0) this.#urls.delete(record);
      else this.#urls.set(record, urls);
      changed = true;
    }
    table.uploaded[record] = announce.uploaded;
    table.downloaded[record] = announce.downloaded;
    table.lastSeen[record] = announce.now;
    const current = this.#holdingAt(record);
    if (holding !== current && !sameHolding(holding, current)) {
      this.#setHolding(swarm, record, holding);
      changed = true;
    }
    return changed;
  }

  /** Moves a peer's contribution to the piece copy counts from its old holding to the new one. */
  #setHolding(swarm: MemorySwarm, record: number, holding: Holding): void {
    this.#contribute(swarm, this.#holdingAt(record), -1);
    const kind = holding.kind === 'full' ? HOLDING_FULL : holding.kind === 'bitmap' ? HOLDING_BITMAP : HOLDING_UNKNOWN;
    const table = this.#table;
    table.flags[record] = (table.flags[record]! & NETWORK_FLAG) | (kind << 1);
    if (kind === HOLDING_BITMAP) this.#bitmaps.set(record, holding);
    else this.#bitmaps.delete(record);
    this.#contribute(swarm, holding, +1);
  }

  #contribute(swarm: MemorySwarm, holding: Holding, sign: 1 | -1): void {
    if (holding.kind === 'full') {
      swarm.fullPeers += sign;
    } else if (holding.kind === 'bitmap') {
      swarm.bitmapPeers += sign;
      this.#bitmapBytes += sign * holding.bitmap.length;
      const copies = swarm.copies;
      if (copies === null) return;
      const bitmap = holding.bitmap;
      for (let byteIndex = 0; byteIndex < bitmap.length; byteIndex++) {
        const byte = bitmap[byteIndex]!;
        if (byte === 0) continue;
        const base = byteIndex * 8;
        for (let bit = 0; bit < 8; bit++) {
          if ((byte & (0x80 >> bit)) !== 0) copies[base + bit]! += sign;
        }
      }
    }
  }

  #removePeer(swarm: MemorySwarm, record: number): void {
    const table = this.#table;
    this.#setHolding(swarm, record, UNKNOWN);
    const moved = swarm.records.removeAt(table.position[record]!);
    if (moved !== NO_RECORD) table.position[moved] = table.position[record]!;
    this.#countEntry(table.compactBytes(record), -1);
    if (table.left[record] === 0) swarm.seeds--;
    if ((table.flags[record]! & NETWORK_FLAG) !== 0) swarm.networkPeers--;
    this.#urls.delete(record);
    table.remove(record);
  }

  #bump(swarm: MemorySwarm): void {
    swarm.version = ++this.#lastVersion;
  }

  #counts(swarm: MemorySwarm, warnings: string[]): AnnounceOutcome {
    return {
      complete: swarm.seeds,
      incomplete: swarm.records.length - swarm.seeds,
      downloaded: swarm.downloaded,
      peers: [],
      urlList: [],
      pieceUrls: [],
      warnings,
      version: swarm.version,
      changed: false,
    };
  }

  /** URLs of the swarm's network peers (not the asker) whose holding `accepts`, as `form` makes them. */
  #networkUrls(
    swarm: MemorySwarm,
    asker: number | undefined,
    accepts: (holding: Holding) => boolean,
    form: (url: string, infoHash: string) => string,
  ): string[] {
    if (swarm.networkPeers === 0) return [];
    const urls: string[] = [];
    const records = swarm.records;
    for (let i = 0; i < records.length; i++) {
      const record = records.items[i]!;
      if ((this.#table.flags[record]! & NETWORK_FLAG) === 0 || record === asker) continue;
      if (!accepts(this.#holdingAt(record))) continue;
      for (const url of this.#urls.get(record) ?? NO_URLS) {
        if (urls.length >= this.#limits.maxUrlsPerAnswer) return urls;
        urls.push(form(url, swarm.infoHash));
      }
    }
    return urls;
  }

  #objectUrls(swarm: MemorySwarm, asker: number | undefined): string[] {
    return this.#networkUrls(swarm, asker, (holding) => holding.kind === 'full', objectUrl);
  }

  #pieceUrls(swarm: MemorySwarm, asker: number | undefined): string[] {
    return this.#networkUrls(swarm, asker, (holding) => holding.kind !== 'unknown', pieceUrlPattern);
  }

  /** A peer's whole record as one object, for statistics. */
  #recordAt(record: number, index: number): PeerRecord {
    const table = this.#table;
    const key = table.compactText(record);
    const bytes = table.compactBytes(record);
    return {
      key,
      peerId: table.peerIdText(record),
      ip: bytesToIp(bytes.subarray(0, bytes.length - 2)),
      family: bytes.length === 6 ? 4 : 6,
      port: (bytes[bytes.length - 2]! << 8) | bytes[bytes.length - 1]!,
      compact: key,
      uploaded: table.uploaded[record]!,
      downloaded: table.downloaded[record]!,
      left: table.left[record]!,
      lastSeen: table.lastSeen[record]!,
      holding: this.#holdingAt(record),
      network: (table.flags[record]! & NETWORK_FLAG) !== 0,
      urls: this.#urls.get(record) ?? NO_URLS,
      index,
    };
  }

  async scrape(infoHashes: readonly string[] | undefined, limit: number): Promise<ScrapeEntry[]> {
    const entry = (infoHash: string, swarm: MemorySwarm | undefined): ScrapeEntry => ({
      infoHash,
      complete: swarm?.seeds ?? 0,
      incomplete: swarm === undefined ? 0 : swarm.records.length - swarm.seeds,
      downloaded: swarm?.downloaded ?? 0,
    });
    if (infoHashes !== undefined) return infoHashes.slice(0, limit).map((hash) => entry(hash, this.#swarms.get(hash)));
    const entries: ScrapeEntry[] = [];
    for (const swarm of this.#swarms.values()) {
      if (entries.length >= limit) break;
      entries.push(entry(swarm.infoHash, swarm));
    }
    return entries;
  }

  async stats(infoHash: string, maxPeers: number, pidOf?: PidOfCompact): Promise<SwarmStats> {
    const swarm = this.#swarms.get(infoHash);
    if (swarm === undefined) return emptySwarmStats(infoHash, pidOf);
    const pieceCopies = swarm.copies === null ? null : Array.from(swarm.copies, (copies) => copies + swarm.fullPeers);
    const list = Array.from(swarm.records.items.subarray(0, swarm.records.length), (record, index) =>
      this.#recordAt(record, index),
    );
    const byRecency = [...list].sort((a, b) => b.lastSeen - a.lastSeen);
    let unknown = 0;
    for (const record of list) if (record.holding.kind === 'unknown') unknown++;
    return {
      infoHash,
      version: swarm.version,
      pieceCount: swarm.pieceCount,
      size: swarm.size,
      seeds: swarm.seeds,
      leechers: swarm.records.length - swarm.seeds,
      downloaded: swarm.downloaded,
      pieceCopies,
      peersWithUnknownPieces: unknown,
      networkPeers: list.filter((record) => record.network).map((record) => networkPeerStatsOf(swarm, record)),
      peers: byRecency.slice(0, maxPeers).map((record) => peerStatsOf(swarm, record)),
      peerCount: swarm.records.length,
      ...(pidOf === undefined ? {} : { pids: peersByPid(list, pidOf) }),
    };
  }

  async list(limit: number): Promise<SwarmSummary[]> {
    const summaries: SwarmSummary[] = [];
    for (const swarm of this.#swarms.values()) {
      if (summaries.length >= limit) break;
      summaries.push({
        infoHash: swarm.infoHash,
        version: swarm.version,
        seeds: swarm.seeds,
        leechers: swarm.records.length - swarm.seeds,
        networkPeers: swarm.networkPeers,
        pieceCount: swarm.pieceCount,
      });
    }
    return summaries;
  }

  async expire(before: number): Promise<string[]> {
    const changed: string[] = [];
    const lastSeen = this.#table.lastSeen;
    for (const swarm of [...this.#swarms.values()]) {
      let removed = false;
      // Walk backwards: removal moves the last record into the freed slot.
      for (let i = swarm.records.length - 1; i >= 0; i--) {
        const record = swarm.records.items[i]!;
        if (lastSeen[record]! < before) {
          this.#removePeer(swarm, record);
          removed = true;
        }
      }
      if (!removed) continue;
      this.#bump(swarm);
      changed.push(swarm.infoHash);
      this.#tell(swarm.infoHash, swarm.version);
      if (swarm.records.length === 0) this.#dropSwarm(swarm);
    }
    return changed;
  }

  async counts(): Promise<SwarmStoreCounts> {
    return {
      swarms: this.#swarms.size,
      peers: this.#table.size,
      bitmapBytes: this.#bitmapBytes,
      evictedSwarms: this.#evictedSwarms,
    };
  }
}

/** A PID number as the peer table keeps it (0: not known; a number too large for 16 bits is not kept). */
function storedPid(pidNumber: number): number {
  const stored = pidNumber + PID_OFFSET;
  return stored > 0xffff ? PID_UNKNOWN : stored;
}

/** An IPv4 address as a number (a small integer for V8: no allocation), an IPv6 one as text marked '6'. */
function addressKey(compact: Uint8Array): number | string {
  if (compact.length === 6) return (compact[0]! << 24) | (compact[1]! << 16) | (compact[2]! << 8) | compact[3]! | 0;
  return `6${Buffer.from(compact.buffer, compact.byteOffset, 16).toString('latin1')}`;
}

/** The /24 (IPv4, as a number) or /64 (IPv6, as text marked 'n') of a compact form. */
function networkKey(compact: Uint8Array): number | string {
  if (compact.length === 6) return (compact[0]! << 16) | (compact[1]! << 8) | compact[2]!;
  return `n${Buffer.from(compact.buffer, compact.byteOffset, 8).toString('latin1')}`;
}

function countIn(counts: Map<number | string, number>, group: number | string, sign: 1 | -1): void {
  const count = (counts.get(group) ?? 0) + sign;
  if (count > 0) counts.set(group, count);
  else counts.delete(group);
}

function emptyOutcome(warnings: string[], version: number): AnnounceOutcome {
  return {
    complete: 0,
    incomplete: 0,
    downloaded: 0,
    peers: [],
    urlList: [],
    pieceUrls: [],
    warnings,
    version,
    changed: false,
  };
}

function sameHolding(a: Holding, b: Holding): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind !== 'bitmap' || b.kind !== 'bitmap') return true;
  return a.held === b.held && Buffer.compare(a.bitmap, b.bitmap) === 0;
}

/** What statistics need of a swarm besides its peers. */
export interface SwarmFacts {
  infoHash: string;
  pieceCount: number | null;
  size: number | null;
}

/** Statistics of a swarm nobody is in. */
export function emptySwarmStats(infoHash: string, pidOf?: PidOfCompact): SwarmStats {
  return {
    infoHash,
    version: 0,
    pieceCount: null,
    size: null,
    seeds: 0,
    leechers: 0,
    downloaded: 0,
    pieceCopies: null,
    peersWithUnknownPieces: 0,
    networkPeers: [],
    peers: [],
    peerCount: 0,
    ...(pidOf === undefined ? {} : { pids: {} }),
  };
}

function progressOf(swarm: SwarmFacts, record: PeerRecord): number | null {
  if (record.holding.kind === 'full') return 1;
  if (record.holding.kind === 'bitmap' && swarm.pieceCount) return record.holding.held / swarm.pieceCount;
  if (swarm.size !== null && swarm.size > 0 && record.left <= swarm.size) return 1 - record.left / swarm.size;
  return null;
}

export function peerStatsOf(swarm: SwarmFacts, record: PeerRecord): PeerStats {
  return {
    ip: record.ip,
    port: record.port,
    left: record.left,
    uploaded: record.uploaded,
    downloaded: record.downloaded,
    complete: record.left === 0,
    progress: progressOf(swarm, record),
    network: record.network,
    lastSeen: record.lastSeen,
  };
}

export function networkPeerStatsOf(swarm: SwarmFacts, record: PeerRecord): NetworkPeerStats {
  const holding = record.holding;
  const pieceCount = swarm.pieceCount;
  let held: number | null = null;
  let bitmap: string | null = null;
  if (holding.kind === 'bitmap' && pieceCount !== null) {
    held = holding.held;
    bitmap = encodeBitmap(holding.bitmap, pieceCount);
  } else if (holding.kind === 'full' && pieceCount !== null) {
    held = pieceCount;
    bitmap = '1';
  }
  return {
    ...peerStatsOf(swarm, record),
    held,
    bitmap,
    objectUrls: holding.kind === 'full' ? record.urls.map((url) => objectUrl(url, swarm.infoHash)) : [],
    pieceUrls: holding.kind === 'unknown' ? [] : record.urls.map((url) => pieceUrlPattern(url, swarm.infoHash)),
  };
}
