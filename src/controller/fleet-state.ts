// The controller's fleet state: enrolment tokens, enrolled edges, their liveness, and which edge holds
// which pieces. Behind one interface so that several controllers can later share it in Redis; the
// in-memory default is src/controller/memory-fleet-state.ts. Writes are async (a shared store is remote);
// every change is also an event, from which each controller keeps the in-memory view its hot paths read
// (src/controller/fleet-catalog.ts).
import type { EventEmitter } from 'node:events';
import type { EdgeAddress } from '../fleet/index.ts';

/** A one-time enrolment token, kept as its SHA-256 only. */
export interface EnrolmentToken {
  /** SHA-256 of the token, hex. */
  hash: string;
  /** ms since the epoch. */
  createdAt: number;
  expiresAt: number;
  /** What the operator wrote when creating it (e.g. the edge it is for), or null. */
  label: string | null;
  /** The edge that used it, or null while unused. */
  usedBy: string | null;
}

export type TokenRedemption = { ok: true } | { ok: false; reason: 'unknown' | 'expired' | 'used' };

/** An enrolled edge: what survives restarts. */
export interface EdgeRecord {
  /** 'edge-' and 12 hex digits, given at enrolment. */
  id: string;
  /** The name the edge gave (its host name, usually). */
  name: string;
  /** SHA-256 of the edge's key, hex. */
  keyHash: string;
  enrolledAt: number;
  /** Takes no new requests or placements; its pieces leave the union. */
  draining: boolean;
}

/** What an edge's heartbeats say, and when the last one came. */
export interface EdgeLiveness {
  address: EdgeAddress;
  capacityBytes: number;
  freeBytes: number;
  connections: number;
  uploadBytesPerSecond: number;
  /** Load shedding refuses new requests there now: chosen only when no other edge holds the bytes. */
  shedding?: boolean;
  /** ms since the epoch. */
  lastSeen: number;
}

/** An edge's holdings are counted in a session (one run of the edge's process) by numbered deltas. */
export interface HoldingsCursor {
  session: string;
  seq: number;
}

export interface HeldPieces {
  infoHash: string;
  pieceCount: number;
  /** Wire-format bitfield. */
  bitfield: Uint8Array;
}

export interface HoldingsChange {
  infoHash: string;
  pieceCount: number;
  added?: number[];
  removed?: number[];
  gone?: boolean;
}

/**
 * A purge through the controller that an edge was not reached by (it was down, or went down during it):
 * sent to the edge when it is back, so that an object purged fleet-wide does not come back with it.
 */
export interface QueuedPurge {
  infoHash: string;
  /** Piece list as `--pieces` takes it (e.g. "0-9,12"); null for the whole object. */
  pieces: string | null;
  /** ms since the epoch. */
  queuedAt: number;
}

export interface FleetEvents {
  /** An edge was enrolled, or its record changed (draining). */
  'edge-record': [record: EdgeRecord];
  'edge-removed': [edgeId: string];
  /** A heartbeat: the edge is up (or back up) with these figures. */
  'edge-live': [edgeId: string, liveness: EdgeLiveness];
  /** The edge is down: it missed its heartbeats or left. Its holdings were dropped just before. */
  'edge-down': [edgeId: string];
  /**
   * An edge's pieces of one object changed. `bitfield` is the edge's whole bitfield after the change
   * (empty when the object left it).
   */
  holdings: [edgeId: string, infoHash: string, pieceCount: number, bitfield: Uint8Array];
  /** An object's .torrent was stored (a controller that lacks it reads it with metainfo()). */
  metainfo: [infoHash: string];
  /** A purge of one object was queued for an edge (`purge`), or dropped from its queue (null). */
  'queued-purge': [edgeId: string, infoHash: string, purge: QueuedPurge | null];
}

export interface FleetState extends EventEmitter<FleetEvents> {
  /** Several controllers may share it (another takes over the announces when this one stops). */
  readonly shared: boolean;

  addToken(token: EnrolmentToken): Promise<void>;
  /** Marks the token used by `edgeId` if it is known, unused and unexpired at `now`: atomically, once. */
  redeemToken(hash: string, edgeId: string, now: number): Promise<TokenRedemption>;
  listTokens(): Promise<EnrolmentToken[]>;

  addEdge(record: EdgeRecord): Promise<void>;
  /** The record, or undefined for an unknown (or removed) edge. */
  edge(edgeId: string): Promise<EdgeRecord | undefined>;
  listEdges(): Promise<EdgeRecord[]>;
  setDraining(edgeId: string, draining: boolean): Promise<EdgeRecord | undefined>;
  /** Revokes the edge: its record, liveness, holdings and queued purges go. False if it was unknown. */
  removeEdge(edgeId: string): Promise<boolean>;

  recordHeartbeat(edgeId: string, liveness: EdgeLiveness): Promise<void>;
  /** The edge's last heartbeat, if it is up. */
  liveness(edgeId: string): Promise<EdgeLiveness | undefined>;
  /** Every up edge's last heartbeat, by edge id (a controller starting over a shared fleet reads them). */
  listLiveness(): Promise<Map<string, EdgeLiveness>>;
  /** The edge goes down: liveness and holdings dropped (it sends its whole state when it is back). */
  markDown(edgeId: string): Promise<void>;

  /** Where the edge's counted holdings stand, or undefined when it must send its whole state. */
  cursor(edgeId: string): Promise<HoldingsCursor | undefined>;
  /** The edge's whole state: replaces everything it held before, and starts counting at `cursor`. */
  replaceHoldings(edgeId: string, cursor: HoldingsCursor, objects: HeldPieces[]): Promise<void>;
  /**
   * Applies delta number `cursor.seq` of the session: 'gap' (nothing applied) unless it follows the last
   * one of the same session.
   */
  applyChanges(edgeId: string, cursor: HoldingsCursor, changes: HoldingsChange[]): Promise<'applied' | 'gap'>;
  /** What one edge holds (a controller starting over a shared fleet reads it). */
  holdingsOf(edgeId: string): Promise<HeldPieces[]>;
  /** Every edge's bitfield of the object (edges that hold none of it are left out). */
  holdersOf(infoHash: string): Promise<Array<HeldPieces & { edgeId: string }>>;

  /**
   * Keeps a purge for the edge until it is back, in place of one of the same object queued there (the
   * caller merges the two: see src/controller/operations.ts).
   */
  queuePurge(edgeId: string, purge: QueuedPurge): Promise<void>;
  /** The purges waiting for the edge, oldest first. */
  queuedPurges(edgeId: string): Promise<QueuedPurge[]>;
  /** The purge of one object waiting for the edge, if any (one lookup: a bulk purge asks once per object). */
  queuedPurge(edgeId: string, infoHash: string): Promise<QueuedPurge | undefined>;
  /** The edge did the purge (or no longer holds the object). */
  dropQueuedPurge(edgeId: string, infoHash: string): Promise<void>;
  /** The object was ingested again through a controller: no edge is to purge it any more. */
  dropQueuedPurgesOf(infoHash: string): Promise<void>;

  /** The object's .torrent bytes, as an edge sent them (checked against the info hash by the caller). */
  putMetainfo(infoHash: string, torrent: Uint8Array): Promise<void>;
  metainfo(infoHash: string): Promise<Uint8Array | undefined>;
  deleteMetainfo(infoHash: string): Promise<void>;

  /**
   * Storage control's record of what it placed and when (src/policy IngestedRecord, as text): the leader
   * writes it, and a new leader reads it so that TTLs go on.
   */
  putStorageControlRecord(text: string): Promise<void>;
  storageControlRecord(): Promise<string | undefined>;

  /**
   * The peer id the CDN announces under: `candidate` for a controller alone; on a shared state the first
   * controller's, so that trackers keep one entry for the CDN whichever controller announces.
   */
  sharedPeerId(candidate: Uint8Array): Promise<Uint8Array>;
  /**
   * Who registers in IMS and announces: every controller asks; one holds it at a time (a lease on a shared
   * state, always this one alone). `onChange` hears each change of this controller's part.
   */
  leadership(onChange: (leader: boolean) => void): Leadership;

  close(): Promise<void>;
}

export interface Leadership {
  readonly leader: boolean;
  /** Lets the lease go (another controller takes over at once). */
  stop(): Promise<void>;
}
