// The Network Storage Control Function's data (TR 23.844 6.2.3): its settings, what it reads of each swarm,
// what it remembers between rounds, and the decisions it makes. Plain data only, so that the agent, the
// swarm simulator and the tests run the same decide() over it.

/** The thresholds and limits of the function (config `storageControl.*`, docs/policy.md). */
export interface StorageControlSettings {
  /** Ingest a piece leechers want when fewer than this many copies are outside the CDN (>= 1). */
  lowCopies: number;
  /** Purge a held piece once at least this many copies are outside the CDN for `holdMs` (> lowCopies). */
  highCopies: number;
  /** Also ingest when leechers per copy outside the CDN reach this (and copies are below highCopies); 0: off. */
  demandPerCopy: number;
  /**
   * Copies outside the CDN each leecher needs to download at its full rate (about a leecher's downlink over
   * a peer's uplink): ingest, and keep, while copies outside are fewer than leechers x this; 0: off.
   */
  copiesPerLeecher: number;
  /**
   * Top-up (storageControl.topUpRate) paces a swarm only while its seeds outside the CDN are at least this
   * many per leecher: a thin swarm's peers cannot make up what pacing holds back, so there it only lengthens
   * downloads (the p95) and saves little. 0: every swarm is paced unless the edge is its only source.
   */
  paceSeedsPerLeecher: number;
  /** How long copies must stay at or above highCopies before a purge. */
  holdMs: number;
  /** Pieces the function ingested are purged this long after ingest unless still rare; 0: no TTL. */
  ttlMs: number;
  /** Bytes of pieces the function may hold across the swarms it controls. */
  budgetBytes: number;
  /** Average ingest rate allowed, bytes per second; 0: unlimited. */
  ingestBytesPerSecond: number;
  /** Ingest and purge operations (one per swarm and round, any number of pieces) per minute. */
  opsPerMinute: number;
  /** Statistics older than this are stale: the function holds its decisions. */
  staleMs: number;
  /**
   * Purged for `plentiful` or `ttl`, a piece's verified bytes are set aside here (not served, not announced)
   * within the budget, so that putting it back when it is rare again costs no origin bytes. Set-aside
   * pieces are the first to go when room is needed.
   */
  setAside: boolean;
}

/** Copies and demand of one swarm as the tracker's statistics last gave them. */
export interface SwarmCounts {
  /** The tracker's version of the swarm (src/tracker: one counter per tracker). */
  version: number;
  /** ms since the epoch when these counts were received (a long poll's answer is current when received). */
  receivedAt: number;
  /** Per piece: every known copy in the swarm (the tracker's pieceCopies), CDN nodes included. */
  swarmCopies: number[];
  /** Per piece: copies held by network peers (CDN nodes announcing bitmaps), this node included once the tracker knows. */
  cdnCopies: number[];
  /** Leechers that are not CDN nodes: the peers that want pieces (their bitmaps are not known to the tracker). */
  demand: number;
  seeds: number;
  leechers: number;
  /**
   * A tracker with network maps (docs/topology.md): seeds and leechers that are not CDN nodes, by PID
   * (peers outside every PID left out). Absent without maps. Where to place pieces (controller placement).
   */
  pids?: Record<string, { seeds: number; leechers: number }>;
}

/** Why the last statistics cannot be used. */
export interface StatsProblem {
  kind: 'malformed' | 'unreachable';
  detail: string;
  /** ms since the epoch of the first failure in a row. */
  since: number;
}

/** What the statistics source knows of one swarm: the last good counts and the current problem, if any. */
export interface StatsReading {
  counts: SwarmCounts | null;
  problem: StatsProblem | null;
}

/** One swarm as decide() sees it in a round. */
export interface SwarmInput {
  infoHash: string;
  pieceCount: number;
  pieceLength: number;
  /** Bytes of the object (the last piece may be short). */
  length: number;
  /** Per piece: held here, verified. */
  held: readonly boolean[];
  /** Per piece: set aside here (bytes kept, not served; settings.setAside). Absent: none. */
  reserved?: readonly boolean[];
  stats: StatsReading;
  /** Why pieces cannot be ingested now (no origin recorded, origin failing), or null. */
  ingestBlocked: string | null;
}

/** What decide() remembers of a swarm between rounds. */
export interface SwarmMemory {
  /** Per piece: since when copies outside the CDN have been at or above highCopies (ms), or null. */
  plentifulSince: Array<number | null>;
  /** Per piece: when the function ingested it (ms), or null (held for another reason, or not held). */
  ingestedAt: Array<number | null>;
  /** The last round's decisions, shown while statistics cannot be used. */
  last: Array<{ action: PieceAction; reason: DecisionReason }> | null;
}

export interface PolicyState {
  swarms: Record<string, SwarmMemory>;
  /** Token buckets of the rate limits, refilled with time. */
  opsTokens: number;
  bytesTokens: number;
  tokensAt: number | null;
}

/**
 * ingest / purge: carried out this round. keep: held, stays. skip: not held, not wanted. defer: wanted
 * (ingest or purge) but a limit stops it this round. hold: statistics cannot be used; nothing changes.
 * drop: a piece set aside here (not held) is discarded to make room.
 */
export type PieceAction = 'ingest' | 'purge' | 'keep' | 'skip' | 'defer' | 'hold' | 'drop';

export type DecisionReason =
  /** ingest: fewer than lowCopies outside the CDN while leechers want it. */
  | 'rare'
  /** ingest: leechers per copy outside the CDN at or above demandPerCopy. */
  | 'demand'
  /** purge: at or above highCopies outside the CDN for holdMs. */
  | 'plentiful'
  /** purge: the function ingested it ttlMs ago and it is no longer rare. */
  | 'ttl'
  /** purge: the function holds more than its budget (a lowered budget); most plentiful pieces go first. */
  | 'over-budget'
  /**
   * purge: room for a piece leechers want, when the budget is full: first pieces of swarms no leecher wants
   * (even the only copy: the origin keeps the object), then pieces with more copies outside the CDN than
   * the wanted one and at least lowCopies.
   */
  | 'make-room'
  /** keep: at or above highCopies, waiting out holdMs. */
  | 'plentiful-waiting'
  /** keep: the only known copy. */
  | 'only-copy'
  /** keep: below highCopies outside the CDN. */
  | 'needed'
  /** keep: TTL ran out but it is still rare. */
  | 'ttl-still-rare'
  /** skip: no leecher wants pieces. */
  | 'no-demand'
  /** skip: enough copies outside the CDN. */
  | 'enough-copies'
  /** defer: would exceed budgetBytes. */
  | 'no-room'
  /** defer: no operation left this minute (opsPerMinute). */
  | 'ops-limit'
  /** defer: ingest bandwidth used up for now (ingestBytesPerSecond). */
  | 'bandwidth-limit'
  /** defer: the object cannot be ingested now (SwarmInput.ingestBlocked). */
  | 'ingest-blocked'
  /** hold: statistics older than staleMs. */
  | 'stats-stale'
  /** hold: the tracker's answer could not be read. */
  | 'stats-malformed'
  /** hold: the tracker could not be reached. */
  | 'stats-unreachable'
  /** hold: no statistics yet. */
  | 'no-stats';

export interface PieceDecision {
  piece: number;
  held: boolean;
  /** Known copies in the swarm (CDN nodes included); null without usable statistics. */
  swarmCopies: number | null;
  /** Copies outside the CDN: what the thresholds compare. */
  outsideCopies: number | null;
  demand: number | null;
  action: PieceAction;
  reason: DecisionReason;
  /** The decision in words, with the figures it used. */
  detail: string;
}

export type StatsState = 'ok' | 'stale' | 'malformed' | 'unreachable' | 'none';

export interface SwarmDecision {
  infoHash: string;
  /** ms since the epoch of the round. */
  at: number;
  stats: StatsState;
  statsDetail: string | null;
  statsVersion: number | null;
  statsReceivedAt: number | null;
  pieces: PieceDecision[];
  /**
   * Pieces to ingest and purge this round, ascending, with the reason of each. An ingest comes from the
   * object's origin or from the pieces set aside here; a purge sets the piece aside (settings.setAside) or
   * removes it. `drop`: set-aside pieces to discard (room for others, or over budget).
   */
  ingest: Array<{ piece: number; reason: DecisionReason; from: 'origin' | 'reserve' }>;
  purge: Array<{ piece: number; reason: DecisionReason; setAside: boolean }>;
  drop: Array<{ piece: number; reason: DecisionReason }>;
  /**
   * This node is the only known source of a piece leechers want: it holds (or ingests this round) a piece
   * with no copy outside the CDN, as in a swarm with no seed yet (a flash crowd's start, a new object).
   * Top-up (storageControl.topUpRate) does not pace such a swarm: there are no peers to leave room for,
   * and pacing the one source slows every leecher. False without usable statistics or demand.
   */
  soleSource: boolean;
  /**
   * Top-up paces this swarm: not the only source (soleSource), and seeds outside the CDN at least
   * settings.paceSeedsPerLeecher per leecher. What the agent's wire and HTTP pacing and the simulator read.
   */
  paced: boolean;
}

export interface Round {
  at: number;
  swarms: SwarmDecision[];
  state: PolicyState;
}
