// Swarm state of the reference tracker, behind an interface (like bittorrent-tracker's swarm) so that a
// shared store can replace the in-memory default when one process is not enough. Everything is bounded:
// swarms, peers per swarm, pieces per bitmap and the bytes all bitmaps take together.
import { countBits, encodeBitmap } from '../protocol/bitmap.ts';
import { encodeCompactPeer } from '../protocol/compact.ts';
import { objectUrl, pieceUrlPattern } from '../protocol/extension.ts';
import { type PeerLocality, pickPeers } from './peer-selection.ts';

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
  /** Statistics of one swarm; an empty swarm (version 0) when unknown. */
  stats(infoHash: string, maxPeers: number): Promise<SwarmStats>;
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

export interface Swarm {
  infoHash: string;
  peers: Map<string, PeerRecord>;
  list: PeerRecord[];
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

/** The limits' earlier name. */
export type MemorySwarmStoreLimits = SwarmStoreLimits;

/** Shared by every peer that names no URL (all but network peers): an array each is 16 bytes per peer. */
const NO_URLS: string[] = Object.freeze([]) as unknown as string[];

function urlsOf(announce: PeerAnnounce): string[] {
  const urls = announce.network?.urls;
  return urls === undefined || urls.length === 0 ? NO_URLS : urls;
}

export class MemorySwarmStore implements SwarmStore {
  readonly #swarms = new Map<string, Swarm>();
  readonly #limits: SwarmStoreLimits;
  readonly #listeners = new Set<ChangeListener>();
  #peerCount = 0;
  /** Swarms dropped to make room (counts()). */
  #evictedSwarms = 0;
  #bitmapBytes = 0;
  /** Versions come from one counter, so a swarm that is dropped and comes back never repeats a version. */
  #lastVersion = 0;
  /** Entries per address and per /24 or /64, keyed by the leading bytes of the compact form. */
  readonly #entriesByAddress = new Map<string, number>();
  readonly #entriesByNetwork = new Map<string, number>();

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
    const key = encodeCompactPeer(announce.ip, announce.port)?.toString('latin1');
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
      swarm = newSwarm(announce.infoHash);
      this.#swarms.set(announce.infoHash, swarm);
    } else if (announce.event !== 'stopped') {
      // Most recently announced last: Map order is the eviction order.
      this.#swarms.delete(announce.infoHash);
      this.#swarms.set(announce.infoHash, swarm);
    }
    const existing = swarm.peers.get(key);

    if (announce.event === 'stopped') {
      if (existing !== undefined) {
        this.#removePeer(swarm, existing);
        this.#bump(swarm);
        if (swarm.peers.size === 0) this.#swarms.delete(swarm.infoHash);
        return { ...this.#counts(swarm, warnings), changed: true };
      }
      return { ...this.#counts(swarm, warnings), changed: false };
    }

    const holding = this.#holdingOf(swarm, announce, existing, warnings);
    const leftBefore = existing?.left;
    let changed = false;
    let record = existing;
    if (record === undefined) {
      const quota = this.#overQuota(key);
      const swarmFull = swarm.peers.size >= this.#limits.maxPeersPerSwarm;
      if (quota === null && !swarmFull && this.#peerCount >= this.#limits.maxPeers) this.#evictOldestSwarm(swarm);
      if (quota !== null) {
        warnings.push(quota);
      } else if (swarmFull) {
        warnings.push(`swarm is full (${this.#limits.maxPeersPerSwarm} peers): you are not listed`);
      } else if (this.#peerCount >= this.#limits.maxPeers) {
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
    if (swarm.peers.size === 0) this.#swarms.delete(swarm.infoHash);

    const peers =
      announce.numWant > 0
        ? pickPeers(swarm, record ?? null, holding, announce.numWant, announce.wantFamily, key, locality)
        : [];
    return {
      ...this.#counts(swarm, warnings),
      peers,
      urlList: this.#objectUrls(swarm, key),
      pieceUrls: this.#pieceUrls(swarm, key),
      changed,
    };
  }

  /** Why a new entry from this address is refused, or null: its address or network holds its quota. */
  #overQuota(key: string): string | null {
    if ((this.#entriesByAddress.get(addressOf(key)) ?? 0) >= this.#limits.maxPeersPerAddress) {
      return `your address holds ${this.#limits.maxPeersPerAddress} entries, the most this tracker keeps per address: not listed`;
    }
    if ((this.#entriesByNetwork.get(networkOf(key)) ?? 0) >= this.#limits.maxPeersPerNetwork) {
      return `your network holds ${this.#limits.maxPeersPerNetwork} entries, the most this tracker keeps per /24 or /64: not listed`;
    }
    return null;
  }

  #countEntry(key: string, sign: 1 | -1): void {
    for (const [counts, group] of [
      [this.#entriesByAddress, addressOf(key)],
      [this.#entriesByNetwork, networkOf(key)],
    ] as const) {
      const count = (counts.get(group) ?? 0) + sign;
      if (count > 0) counts.set(group, count);
      else counts.delete(group);
    }
  }

  /** Drops the least recently announced swarm (not `keep`), peers and all. */
  #evictOldestSwarm(keep?: Swarm): void {
    for (const swarm of this.#swarms.values()) {
      if (swarm === keep) continue;
      for (let i = swarm.list.length - 1; i >= 0; i--) this.#removePeer(swarm, swarm.list[i]!);
      this.#swarms.delete(swarm.infoHash);
      this.#evictedSwarms++;
      return;
    }
  }

  /** What the announce says the peer holds; problems become warnings and leave the bitmap unknown. */
  #holdingOf(swarm: Swarm, announce: PeerAnnounce, existing: PeerRecord | undefined, warnings: string[]): Holding {
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
    if (network?.bitmap !== undefined && swarm.pieceCount !== null) {
      const bitmap = network.bitmap;
      const held = countBits(bitmap);
      if (held === swarm.pieceCount) return FULL;
      const previousBytes = existing?.holding.kind === 'bitmap' ? existing.holding.bitmap.length : 0;
      if (this.#bitmapBytes - previousBytes + bitmap.length > this.#limits.maxBitmapBytes) {
        warnings.push('tracker bitmap memory is full: bitmap not kept');
        return UNKNOWN;
      }
      return { kind: 'bitmap', bitmap, held };
    }
    // A network peer that left its bitmap out (too large for a GET) keeps the one it sent before.
    if (network !== undefined && existing?.holding.kind === 'bitmap') return existing.holding;
    return UNKNOWN;
  }

  #setPieceCount(swarm: Swarm, pieceCount: number): void {
    swarm.pieceCount = pieceCount;
    swarm.copies = new Uint32Array(pieceCount);
  }

  #addPeer(swarm: Swarm, key: string, announce: PeerAnnounce, holding: Holding): PeerRecord {
    const record: PeerRecord = {
      key,
      peerId: announce.peerId.toString('latin1'),
      ip: announce.ip,
      family: announce.family,
      port: announce.port,
      compact: key,
      uploaded: announce.uploaded,
      downloaded: announce.downloaded,
      left: announce.left,
      lastSeen: announce.now,
      holding: UNKNOWN,
      network: announce.network !== undefined,
      urls: urlsOf(announce),
      index: swarm.list.length,
    };
    swarm.peers.set(key, record);
    swarm.list.push(record);
    this.#peerCount++;
    this.#countEntry(key, 1);
    if (record.left === 0) swarm.seeds++;
    if (record.network) swarm.networkPeers++;
    this.#setHolding(swarm, record, holding);
    return record;
  }

  /** Applies an announce of a known peer; true when statistics change. */
  #updatePeer(swarm: Swarm, record: PeerRecord, announce: PeerAnnounce, holding: Holding): boolean {
    let changed = false;
    const peerId = announce.peerId.toString('latin1');
    if (record.peerId !== peerId) {
      record.peerId = peerId; // the client restarted on this address and port
      changed = true;
    }
    if (record.left !== announce.left) {
      if (record.left === 0) swarm.seeds--;
      if (announce.left === 0) swarm.seeds++;
      record.left = announce.left;
      changed = true;
    }
    const network = announce.network !== undefined;
    if (record.network !== network) {
      swarm.networkPeers += network ? 1 : -1;
      record.network = network;
      changed = true;
    }
    const urls = urlsOf(announce);
    if (urls.join('\n') !== record.urls.join('\n')) {
      record.urls = urls;
      changed = true;
    }
    record.uploaded = announce.uploaded;
    record.downloaded = announce.downloaded;
    record.lastSeen = announce.now;
    if (holding !== record.holding && !sameHolding(holding, record.holding)) {
      this.#setHolding(swarm, record, holding);
      changed = true;
    }
    return changed;
  }

  /** Moves a peer's contribution to the piece copy counts from its old holding to the new one. */
  #setHolding(swarm: Swarm, record: PeerRecord, holding: Holding): void {
    this.#contribute(swarm, record.holding, -1);
    record.holding = holding;
    this.#contribute(swarm, holding, +1);
  }

  #contribute(swarm: Swarm, holding: Holding, sign: 1 | -1): void {
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

  #removePeer(swarm: Swarm, record: PeerRecord): void {
    this.#setHolding(swarm, record, UNKNOWN);
    swarm.peers.delete(record.key);
    const last = swarm.list.pop()!;
    if (last !== record) {
      swarm.list[record.index] = last;
      last.index = record.index;
    }
    this.#peerCount--;
    this.#countEntry(record.key, -1);
    if (record.left === 0) swarm.seeds--;
    if (record.network) swarm.networkPeers--;
  }

  #bump(swarm: Swarm): void {
    swarm.version = ++this.#lastVersion;
  }

  #counts(swarm: Swarm, warnings: string[]): AnnounceOutcome {
    return {
      complete: swarm.seeds,
      incomplete: swarm.peers.size - swarm.seeds,
      downloaded: swarm.downloaded,
      peers: [],
      urlList: [],
      pieceUrls: [],
      warnings,
      version: swarm.version,
      changed: false,
    };
  }

  #objectUrls(swarm: Swarm, askerKey: string): string[] {
    if (swarm.networkPeers === 0) return [];
    const urls: string[] = [];
    for (const record of swarm.list) {
      if (!record.network || record.key === askerKey || record.holding.kind !== 'full') continue;
      for (const url of record.urls) {
        if (urls.length >= this.#limits.maxUrlsPerAnswer) return urls;
        urls.push(objectUrl(url, swarm.infoHash));
      }
    }
    return urls;
  }

  #pieceUrls(swarm: Swarm, askerKey: string): string[] {
    if (swarm.networkPeers === 0) return [];
    const urls: string[] = [];
    for (const record of swarm.list) {
      if (!record.network || record.key === askerKey || record.holding.kind === 'unknown') continue;
      for (const url of record.urls) {
        if (urls.length >= this.#limits.maxUrlsPerAnswer) return urls;
        urls.push(pieceUrlPattern(url, swarm.infoHash));
      }
    }
    return urls;
  }

  async scrape(infoHashes: readonly string[] | undefined, limit: number): Promise<ScrapeEntry[]> {
    const entry = (infoHash: string, swarm: Swarm | undefined): ScrapeEntry => ({
      infoHash,
      complete: swarm?.seeds ?? 0,
      incomplete: swarm === undefined ? 0 : swarm.peers.size - swarm.seeds,
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

  async stats(infoHash: string, maxPeers: number): Promise<SwarmStats> {
    const swarm = this.#swarms.get(infoHash);
    if (swarm === undefined) return emptySwarmStats(infoHash);
    const pieceCopies = swarm.copies === null ? null : Array.from(swarm.copies, (copies) => copies + swarm.fullPeers);
    const byRecency = [...swarm.list].sort((a, b) => b.lastSeen - a.lastSeen);
    let unknown = 0;
    for (const record of swarm.list) if (record.holding.kind === 'unknown') unknown++;
    return {
      infoHash,
      version: swarm.version,
      pieceCount: swarm.pieceCount,
      size: swarm.size,
      seeds: swarm.seeds,
      leechers: swarm.peers.size - swarm.seeds,
      downloaded: swarm.downloaded,
      pieceCopies,
      peersWithUnknownPieces: unknown,
      networkPeers: swarm.list.filter((record) => record.network).map((record) => networkPeerStatsOf(swarm, record)),
      peers: byRecency.slice(0, maxPeers).map((record) => peerStatsOf(swarm, record)),
      peerCount: swarm.peers.size,
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
        leechers: swarm.peers.size - swarm.seeds,
        networkPeers: swarm.networkPeers,
        pieceCount: swarm.pieceCount,
      });
    }
    return summaries;
  }

  async expire(before: number): Promise<string[]> {
    const changed: string[] = [];
    for (const swarm of this.#swarms.values()) {
      let removed = false;
      // Walk backwards: removal moves the last record into the freed slot.
      for (let i = swarm.list.length - 1; i >= 0; i--) {
        const record = swarm.list[i]!;
        if (record.lastSeen < before) {
          this.#removePeer(swarm, record);
          removed = true;
        }
      }
      if (!removed) continue;
      this.#bump(swarm);
      changed.push(swarm.infoHash);
      this.#tell(swarm.infoHash, swarm.version);
      if (swarm.peers.size === 0) this.#swarms.delete(swarm.infoHash);
    }
    return changed;
  }

  async counts(): Promise<SwarmStoreCounts> {
    return {
      swarms: this.#swarms.size,
      peers: this.#peerCount,
      bitmapBytes: this.#bitmapBytes,
      evictedSwarms: this.#evictedSwarms,
    };
  }
}

/** The address bytes of a compact key (6 bytes IPv4 + port, 18 bytes IPv6 + port). */
function addressOf(key: string): string {
  return key.slice(0, key.length - 2);
}

/** The /24 (IPv4) or /64 (IPv6) of a compact key, marked by family so the two never meet. */
function networkOf(key: string): string {
  return key.length === 6 ? `4${key.slice(0, 3)}` : `6${key.slice(0, 8)}`;
}

function newSwarm(infoHash: string): Swarm {
  return {
    infoHash,
    peers: new Map(),
    list: [],
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
export type SwarmFacts = Pick<Swarm, 'infoHash' | 'pieceCount' | 'size'>;

/** Statistics of a swarm nobody is in. */
export function emptySwarmStats(infoHash: string): SwarmStats {
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
