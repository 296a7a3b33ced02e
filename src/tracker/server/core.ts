// The tracker without its sockets: options and limits, swarm state, the statistics feed, and the answers to
// an HTTP announce query, a multi-object announce body and a UDP datagram. The reference tracker puts it
// behind HTTP and UDP; the announce load simulation (scripts/bench) drives it directly.

import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../../errors/index.ts';
import type { Topology } from '../../topology/index.ts';
import {
  type BencodeDictionary,
  BencodeError,
  type BencodeInput,
  type BencodeValue,
  decodeBencode,
  encodeBencode,
  isDictionary,
} from '../protocol/bencode.ts';
import { ExtensionParam, MAX_CDN_URLS } from '../protocol/extension.ts';
import { parseQuery, QueryError } from '../protocol/query.ts';
import {
  type AnnounceLimits,
  AnnounceRefused,
  type ParamSource,
  parseAnnounce,
  queryParamSource,
} from './announce-request.ts';
import { type AnswerSettings, announceDictionary, extensionOffer, failureAnswer } from './answers.ts';
import { NO_CDN_ALLOW, parseCdnAllow } from './cdn-allow.ts';
import { DEFAULT_RANDOM_SHARE, TrackerLocality } from './locality.ts';
import { StatsFeed } from './stats-feed.ts';
import {
  type AnnounceOutcome,
  MemorySwarmStore,
  type PeerAnnounce,
  type SwarmStore,
  type SwarmStoreLimits,
} from './swarm-store.ts';
import { UdpEndpoint } from './udp-endpoint.ts';

export interface TrackerCoreOptions {
  /** Announce interval told to clients, seconds. Default 1800. */
  intervalS?: number;
  /** Min interval told to clients, seconds. Default interval / 2. */
  minIntervalS?: number;
  /** Peers not heard from for this long are dropped, seconds. Default 2 x interval + 60. */
  peerTimeoutS?: number;
  maxSwarms?: number;
  maxPeersPerSwarm?: number;
  maxPeers?: number;
  /**
   * Entries (one per swarm and port) one address may hold, default 20,000, and one /24 or /64 network,
   * default 50,000: one client cannot fill the tracker. An edge announcing more objects than that from one
   * address needs higher figures.
   */
  maxPeersPerAddress?: number;
  maxPeersPerNetwork?: number;
  /** Largest bitmap kept, in pieces. Default 1,048,576 (128 KiB per bitmap). */
  maxPieces?: number;
  /** Bytes all bitmaps may take together. Default 256 MiB. */
  maxBitmapBytes?: number;
  defaultNumWant?: number;
  maxNumWant?: number;
  /** Entries per multi-object announce. Default 1000. */
  maxBatch?: number;
  /** Statistics streams and long polls open at once. Default 1000. */
  maxFollowers?: number;
  /** Accept the announce `ip` parameter. Default false. */
  trustIpParam?: boolean;
  /**
   * Hosts, addresses and CIDR networks whose CDN URLs (`ep_url`) any announcer may claim; without them an
   * announcer may claim only URLs at its own address. Default none.
   */
  cdnAllow?: readonly string[];
  /** Offer the bitmap extension and the multi-object announce. Default true (false answers like a plain tracker). */
  extension?: boolean;
  /**
   * Replaces the in-memory swarm state (server/state.ts opens one in Redis). Its limits are its own; the
   * caller closes it.
   */
  swarmStore?: SwarmStore;
  /**
   * Network and cost maps (ALTO, docs/topology.md): peer lists ordered by cost from the asker's PID, CDN
   * URLs of the nearest edges first. The caller opens and closes it.
   */
  topology?: Topology;
  /** Share of each peer list drawn at random whatever the cost (RFC 6821). Default 0.2. */
  altoRandomShare?: number;
  /** Clock, ms since the epoch (tests). */
  now?: () => number;
}

export const BATCH_PATH = '/announce/batch';
export const STATS_PATH = '/stats';

export class TrackerCore {
  readonly swarms: SwarmStore;
  readonly feed: StatsFeed;
  readonly udp: UdpEndpoint;
  readonly settings: AnswerSettings;
  readonly limits: AnnounceLimits;
  readonly peerTimeoutMs: number;
  readonly now: () => number;
  /** Set with a topology: where askers and peers are, and what was listed within and across PIDs. */
  readonly locality: TrackerLocality | null;
  readonly #maxBatch: number;
  readonly #extension: boolean;

  constructor(options: TrackerCoreOptions = {}) {
    this.now = options.now ?? Date.now;
    const intervalS = positive(options.intervalS ?? 1800, 'intervalS');
    const maxPieces = positive(options.maxPieces ?? 1 << 20, 'maxPieces');
    this.#maxBatch = positive(options.maxBatch ?? 1000, 'maxBatch');
    this.#extension = options.extension ?? true;
    this.peerTimeoutMs = positive(options.peerTimeoutS ?? intervalS * 2 + 60, 'peerTimeoutS') * 1000;
    this.limits = {
      defaultNumWant: options.defaultNumWant ?? 50,
      maxNumWant: options.maxNumWant ?? 200,
      maxPieces,
      trustIpParam: options.trustIpParam ?? false,
      cdnAllow: options.cdnAllow === undefined ? NO_CDN_ALLOW : parseCdnAllow(options.cdnAllow),
    };
    const ownTrackerId = randomBytes(6).toString('hex');
    const givenStore = options.swarmStore;
    this.settings = {
      intervalS,
      minIntervalS: options.minIntervalS ?? Math.max(1, Math.floor(intervalS / 2)),
      // A shared store's, read at each answer: it changes when the shared state was lost.
      get trackerId() {
        return givenStore?.trackerId ?? ownTrackerId;
      },
      batchPath: BATCH_PATH,
      maxBatch: this.#maxBatch,
      maxPieces,
      statsPath: STATS_PATH,
    };
    this.swarms = options.swarmStore ?? new MemorySwarmStore(swarmStoreLimits(options));
    this.feed = new StatsFeed(positive(options.maxFollowers ?? 1000, 'maxFollowers'));
    const share = options.altoRandomShare ?? DEFAULT_RANDOM_SHARE;
    if (!(share >= 0 && share <= 1)) {
      throw new InvalidArgumentError(`tracker option altoRandomShare must be between 0 and 1, got ${share}`);
    }
    this.locality = options.topology === undefined ? null : new TrackerLocality(options.topology, share);
    this.udp = new UdpEndpoint({
      store: this.swarms,
      announce: (announce) => this.announcePeer(announce),
      limits: this.limits,
      intervalS,
      now: this.now,
    });
    // Changes come from the store: with a shared one, also those made through the other instances.
    this.swarms.onChange((infoHash, version) => this.feed.publish(infoHash, version));
  }

  /** The bencoded answer to an HTTP announce query (a failure reason for a bad one). */
  async announce(query: string, remoteIp: string): Promise<Buffer> {
    let parsed: ReturnType<typeof parseAnnounce>;
    try {
      parsed = parseAnnounce(queryParamSource(parseQuery(query)), remoteIp, this.now(), this.limits);
    } catch (err) {
      if (err instanceof AnnounceRefused || err instanceof QueryError) return failureAnswer(err.message);
      throw err;
    }
    if (!this.#extension) parsed.extension = false;
    const outcome = await this.announcePeer(parsed.announce);
    return encodeBencode(announceDictionary(parsed, outcome, this.settings));
  }

  /** The bencoded answer to a multi-object announce body (docs/tracker.md). */
  async batch(body: Uint8Array, remoteIp: string): Promise<Buffer> {
    let decoded: BencodeValue;
    try {
      decoded = decodeBencode(body);
    } catch (err) {
      if (err instanceof BencodeError) return failureAnswer(`body is not bencoded: ${err.message}`);
      throw err;
    }
    const entries = isDictionary(decoded) ? decoded['announces'] : undefined;
    if (!isDictionary(decoded) || !Array.isArray(entries)) {
      return failureAnswer('body must be a dictionary with an "announces" list');
    }
    if (entries.length > this.#maxBatch) {
      return failureAnswer(`at most ${this.#maxBatch} announces per batch, got ${entries.length}`);
    }
    const now = this.now();
    const results: Array<{ [key: string]: BencodeInput | undefined }> = [];
    // Results go in the order of the entries; they do not repeat the info hash.
    for (const entry of entries) {
      try {
        if (!isDictionary(entry)) throw new AnnounceRefused('announce entry is not a dictionary');
        const parsed = parseAnnounce(batchParamSource(entry, decoded), remoteIp, now, this.limits);
        const outcome = await this.announcePeer(parsed.announce);
        results.push(announceDictionary(parsed, outcome, this.settings, true));
      } catch (err) {
        if (!(err instanceof AnnounceRefused)) throw err;
        results.push({ 'failure reason': err.message });
      }
    }
    return encodeBencode({
      interval: this.settings.intervalS,
      'min interval': this.settings.minIntervalS,
      'tracker id': this.settings.trackerId,
      ep: extensionOffer(this.settings),
      results,
    });
  }

  /** One parsed announce through the store; with a topology, peers and CDN URLs nearest first. */
  async announcePeer(announce: PeerAnnounce): Promise<AnnounceOutcome> {
    if (this.locality === null) return this.swarms.announce(announce);
    const { askerPid, locality } = this.locality.forAsker(announce);
    const outcome = await this.swarms.announce(announce, locality);
    this.locality.finish(askerPid, outcome);
    return outcome;
  }

  /** How often the expiry sweep runs, ms. */
  get sweepIntervalMs(): number {
    return Math.min(this.peerTimeoutMs / 4, 60_000);
  }

  /**
   * Drops peers past the timeout, if this instance runs the sweep (with a shared store, the one holding the
   * expiry lease, renewed here; it lapses three sweeps after its holder stops). Returns the peers' swarms
   * that changed (the store tells statistics followers), or null when another instance sweeps.
   */
  async sweep(): Promise<string[] | null> {
    if (!(await this.swarms.claimExpiry(this.sweepIntervalMs * 3))) return null;
    return this.swarms.expire(this.now() - this.peerTimeoutMs);
  }
}

/** The swarm store's limits from the tracker's options (defaults for those not given). */
export function swarmStoreLimits(options: TrackerCoreOptions): SwarmStoreLimits {
  return {
    maxSwarms: positive(options.maxSwarms ?? 100_000, 'maxSwarms'),
    maxPeersPerSwarm: positive(options.maxPeersPerSwarm ?? 10_000, 'maxPeersPerSwarm'),
    maxPeers: positive(options.maxPeers ?? 500_000, 'maxPeers'),
    maxPeersPerAddress: positive(options.maxPeersPerAddress ?? 20_000, 'maxPeersPerAddress'),
    maxPeersPerNetwork: positive(options.maxPeersPerNetwork ?? 50_000, 'maxPeersPerNetwork'),
    maxPieces: positive(options.maxPieces ?? 1 << 20, 'maxPieces'),
    maxBitmapBytes: positive(options.maxBitmapBytes ?? 256 * 1024 * 1024, 'maxBitmapBytes'),
    maxUrlsPerAnswer: 16,
  };
}

/** Reads a multi-object entry, falling back to the values all entries share (peer id, port, key, ip, numwant, urls). */
function batchParamSource(entry: BencodeDictionary, shared: BencodeDictionary): ParamSource {
  const shareName: Record<string, string> = {
    peer_id: 'peer id',
    port: 'port',
    key: 'key',
    ip: 'ip',
    numwant: 'numwant',
    trackerid: 'trackerid',
  };
  const asBytes = (value: BencodeValue | undefined): Buffer | undefined => {
    if (Buffer.isBuffer(value)) return value;
    if (typeof value === 'number') return Buffer.from(String(value));
    return undefined;
  };
  return {
    bytes(name) {
      if (name === ExtensionParam.version) return Buffer.from('1');
      const own = asBytes(entry[name]);
      if (own !== undefined) return own;
      const sharedName = shareName[name];
      return sharedName === undefined ? undefined : asBytes(shared[sharedName]);
    },
    all(name) {
      if (name !== ExtensionParam.url) return [];
      const urls = shared[ExtensionParam.url];
      if (!Array.isArray(urls)) return [];
      return urls.filter((url): url is Buffer => Buffer.isBuffer(url)).slice(0, MAX_CDN_URLS);
    },
  };
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`tracker option ${name} must be positive, got ${value}`);
  }
  return value;
}
