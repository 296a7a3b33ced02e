// The controller's catalog: what its edges hold, as one peer holding the union of their bitfields. Kept in
// memory from the fleet state's events (so a shared fleet state feeds every controller the same way) and
// read synchronously by the wire and HTTP servers, the announce client and the request forwarding. Only
// serving edges count: up (heartbeats on time), not draining, not set aside for failing.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/index.ts';
import { type Metainfo, parseTorrent } from '../metainfo/index.ts';
import { Bitfield, type Catalog, type CatalogEvents, type CatalogObject } from '../store/index.ts';
import type { EdgeLiveness, EdgeRecord, FleetState } from './fleet-state.ts';

/** An edge as the controller's hot paths see it. */
export interface FleetEdge {
  record: EdgeRecord;
  /** Undefined while down. */
  liveness: EdgeLiveness | undefined;
  /** Until when (ms since the epoch) the edge is set aside after failing a fetch; 0 when it is not. */
  setAsideUntil: number;
  /** Fetches from it that failed, and pieces it sent that did not verify, since the controller started. */
  failures: number;
  corruptPieces: number;
}

interface FleetObject extends CatalogObject {
  metainfo: Metainfo;
  /** Serving edges' bitfields of it, by edge id. */
  holders: Map<string, Bitfield>;
  /** Per piece: how many serving edges hold it. */
  copies: Uint16Array;
}

/** Holdings of an object whose metainfo has not arrived yet: counted once it has. */
interface PendingObject {
  holders: Map<string, Bitfield>;
}

export class FleetCatalog extends EventEmitter<CatalogEvents> implements Catalog {
  readonly #fleet: FleetState;
  readonly #logger: Pick<Logger, 'warn' | 'info'>;
  readonly #objects = new Map<string, FleetObject>();
  readonly #pending = new Map<string, PendingObject>();
  /** Every edge's holdings, serving or not, so that an edge coming back into service counts again. */
  readonly #allHoldings = new Map<string, Map<string, Bitfield>>();
  readonly #edges = new Map<string, FleetEdge>();
  /** The objects whose union counts each edge: a recount touches only those, not every object. */
  readonly #countedBy = new Map<string, Set<string>>();
  readonly #now: () => number;

  constructor(fleet: FleetState, logger: Pick<Logger, 'warn' | 'info'>, now: () => number = Date.now) {
    super();
    this.#fleet = fleet;
    this.#logger = logger;
    this.#now = now;
    fleet.on('edge-record', (record) => this.#onRecord(record));
    fleet.on('edge-removed', (edgeId) => this.#onRemoved(edgeId));
    fleet.on('edge-live', (edgeId, liveness) => this.#onLive(edgeId, liveness));
    fleet.on('edge-down', (edgeId) => this.#onDown(edgeId));
    fleet.on('holdings', (edgeId, infoHash, pieceCount, bitfield) =>
      this.#onHoldings(edgeId, infoHash, pieceCount, bitfield),
    );
    // Another controller took an object's metainfo from an edge: read it if this one lacks it.
    fleet.on('metainfo', (infoHash) => {
      if (this.#objects.has(infoHash)) return;
      fleet.metainfo(infoHash).then(
        (torrent) => {
          if (torrent !== undefined) this.adoptMetainfo(infoHash, torrent);
        },
        () => {},
      );
    });
  }

  /**
   * Reads what the fleet state has: enrolled edges, and on a shared state the edges up, their holdings and
   * the metainfo of what they hold (a controller joining others; one alone starts with edges only).
   */
  async load(): Promise<void> {
    for (const record of await this.#fleet.listEdges()) this.#onRecord(record);
    for (const [edgeId, liveness] of await this.#fleet.listLiveness()) {
      this.#onLive(edgeId, liveness);
      for (const held of await this.#fleet.holdingsOf(edgeId)) {
        if (!this.#objects.has(held.infoHash)) {
          const torrent = await this.#fleet.metainfo(held.infoHash);
          if (torrent !== undefined) this.adoptMetainfo(held.infoHash, torrent);
        }
        this.#onHoldings(edgeId, held.infoHash, held.pieceCount, held.bitfield);
      }
    }
  }

  list(): CatalogObject[] {
    return [...this.#objects.values()].filter((object) => object.piecesHeld > 0);
  }

  get(infoHash: string): CatalogObject | undefined {
    const object = this.#objects.get(infoHash) ?? this.#objects.get(infoHash.toLowerCase());
    return object !== undefined && object.piecesHeld > 0 ? object : undefined;
  }

  metainfoOf(infoHash: string): Metainfo | undefined {
    return (this.#objects.get(infoHash) ?? this.#objects.get(infoHash.toLowerCase()))?.metainfo;
  }

  /** True when the controller knows the object's metainfo (edges need not send it). */
  knowsMetainfo(infoHash: string): boolean {
    return this.#objects.has(infoHash);
  }

  /** Parses and adopts an object's .torrent; false (nothing changed) unless it is one and has this info hash. */
  adoptMetainfo(infoHash: string, torrent: Uint8Array): boolean {
    if (this.#objects.has(infoHash)) return true;
    let metainfo: Metainfo;
    try {
      metainfo = parseTorrent(torrent, `metainfo of ${infoHash}`);
    } catch {
      return false;
    }
    if (metainfo.infoHash !== infoHash) return false;
    const object: FleetObject = {
      infoHash,
      name: metainfo.name,
      length: metainfo.length,
      pieceLength: metainfo.pieceLength,
      pieceCount: metainfo.pieceCount,
      bitfield: new Bitfield(metainfo.pieceCount),
      piecesHeld: 0,
      complete: false,
      addedAt: this.#now(),
      expiresAt: null,
      source: null,
      metainfo,
      holders: new Map(),
      copies: new Uint16Array(metainfo.pieceCount),
    };
    this.#objects.set(infoHash, object);
    const pending = this.#pending.get(infoHash);
    this.#pending.delete(infoHash);
    for (const [edgeId, bitfield] of pending?.holders ?? []) {
      if (bitfield.length === metainfo.pieceCount) this.#setHolding(edgeId, infoHash, bitfield);
      else this.#wrongSize(edgeId, infoHash, bitfield.length, metainfo.pieceCount);
    }
    return true;
  }

  edges(): FleetEdge[] {
    return [...this.#edges.values()];
  }

  edge(edgeId: string): FleetEdge | undefined {
    return this.#edges.get(edgeId);
  }

  /** Serving now: up, not draining, not set aside. */
  serving(edge: FleetEdge, now = this.#now()): boolean {
    return edge.liveness !== undefined && !edge.record.draining && edge.setAsideUntil <= now;
  }

  /** The serving edges that hold every piece in [firstPiece, lastPiece] of the object. */
  holdersOfSpan(infoHash: string, firstPiece: number, lastPiece: number): FleetEdge[] {
    const object = this.#objects.get(infoHash);
    if (object === undefined) return [];
    const found: FleetEdge[] = [];
    for (const [edgeId, bitfield] of object.holders) {
      let all = true;
      for (let piece = firstPiece; piece <= lastPiece && all; piece += 1) all = bitfield.get(piece);
      const edge = this.#edges.get(edgeId);
      if (all && edge !== undefined) found.push(edge);
    }
    return found;
  }

  /** Serving edges holding the object, with their bitfields. */
  holdings(infoHash: string): Array<{ edge: FleetEdge; bitfield: Bitfield }> {
    const object = this.#objects.get(infoHash);
    const found: Array<{ edge: FleetEdge; bitfield: Bitfield }> = [];
    for (const [edgeId, bitfield] of object?.holders ?? []) {
      const edge = this.#edges.get(edgeId);
      if (edge !== undefined) found.push({ edge, bitfield });
    }
    return found;
  }

  /** The object, held by a serving edge or not (its metainfo arrived once). */
  known(infoHash: string): CatalogObject | undefined {
    return this.#objects.get(infoHash);
  }

  /** Up edges that hold any piece of the object, serving or not (a purge reaches them all). */
  holdersEverywhere(infoHash: string): FleetEdge[] {
    const found: FleetEdge[] = [];
    for (const [edgeId, held] of this.#allHoldings) {
      const edge = this.#edges.get(edgeId);
      if (held.has(infoHash) && edge?.liveness !== undefined) found.push(edge);
    }
    return found;
  }

  /** Every object whose metainfo is known, held by a serving edge or not (storage control follows them all). */
  knownObjects(): CatalogObject[] {
    return [...this.#objects.values()];
  }

  /** Up edges holding pieces of the object, serving or not, with their bitfields (a purge reaches them all). */
  holdingsEverywhere(infoHash: string): Array<{ edge: FleetEdge; bitfield: Bitfield }> {
    const found: Array<{ edge: FleetEdge; bitfield: Bitfield }> = [];
    for (const [edgeId, held] of this.#allHoldings) {
      const edge = this.#edges.get(edgeId);
      const bitfield = held.get(infoHash);
      if (bitfield !== undefined && edge?.liveness !== undefined) found.push({ edge, bitfield });
    }
    return found;
  }

  /** How many serving edges hold each piece of the object (undefined: unknown object). */
  copies(infoHash: string): Uint16Array | undefined {
    return this.#objects.get(infoHash)?.copies;
  }

  /** Objects and pieces an edge holds (whether or not it serves now). */
  heldBy(edgeId: string): { objects: number; pieces: number } {
    let pieces = 0;
    const held = this.#allHoldings.get(edgeId);
    for (const bitfield of held?.values() ?? []) pieces += bitfield.count();
    return { objects: held?.size ?? 0, pieces };
  }

  /**
   * A fetch from the edge failed (unreachable, an error status, short bytes): it serves no request for
   * `forMs`, and its pieces leave the union meanwhile unless another edge holds them.
   */
  setAside(edgeId: string, forMs: number): void {
    const edge = this.#edges.get(edgeId);
    if (edge === undefined) return;
    edge.failures += 1;
    const wasServing = this.serving(edge);
    edge.setAsideUntil = this.#now() + forMs;
    if (!wasServing) return;
    this.#logger.warn({ edgeId, forMs }, 'controller: an edge failed a fetch and is set aside');
    this.#recount(edgeId);
    // Failures meanwhile move the end on: the timer waits until the last end has passed.
    const countBackIn = () => {
      const left = edge.setAsideUntil - this.#now();
      if (left > 0) setTimeout(countBackIn, left + 1).unref();
      else this.#recount(edgeId);
    };
    setTimeout(countBackIn, forMs + 1).unref();
  }

  /**
   * The edge sent bytes of a piece that failed their hash ('corrupt'), or said it lacks a piece it claimed
   * ('missing'): the piece no longer counts as held there until the edge says so again.
   */
  distrust(edgeId: string, infoHash: string, pieceIndex: number, why: 'corrupt' | 'missing'): void {
    const edge = this.#edges.get(edgeId);
    if (edge === undefined) return;
    if (why === 'corrupt') edge.corruptPieces += 1;
    else edge.failures += 1;
    const bitfield = this.#allHoldings.get(edgeId)?.get(infoHash);
    if (bitfield === undefined || !bitfield.get(pieceIndex)) return;
    const next = new Bitfield(bitfield.length, bitfield.toBuffer());
    next.set(pieceIndex, false);
    this.#logger.warn(
      { edgeId, infoHash, pieceIndex },
      why === 'corrupt'
        ? 'controller: an edge sent a piece that failed its hash'
        : 'controller: an edge lacks a piece it said it held',
    );
    this.#onHoldings(edgeId, infoHash, next.length, next.toBuffer());
  }

  #onRecord(record: EdgeRecord): void {
    const edge = this.#edges.get(record.id);
    if (edge === undefined) {
      this.#edges.set(record.id, { record, liveness: undefined, setAsideUntil: 0, failures: 0, corruptPieces: 0 });
      return;
    }
    edge.record = record;
    this.#recount(record.id);
  }

  #onRemoved(edgeId: string): void {
    this.#onHoldingsCleared(edgeId);
    this.#edges.delete(edgeId);
  }

  #onLive(edgeId: string, liveness: EdgeLiveness): void {
    const edge = this.#edges.get(edgeId);
    if (edge === undefined) return;
    const wasUp = edge.liveness !== undefined;
    edge.liveness = liveness;
    if (!wasUp) this.#recount(edgeId);
  }

  #onDown(edgeId: string): void {
    const edge = this.#edges.get(edgeId);
    if (edge === undefined) return;
    edge.liveness = undefined;
    this.#recount(edgeId);
  }

  #onHoldingsCleared(edgeId: string): void {
    for (const infoHash of [...(this.#allHoldings.get(edgeId)?.keys() ?? [])]) {
      this.#onHoldings(edgeId, infoHash, 0, new Uint8Array(0));
    }
  }

  #onHoldings(edgeId: string, infoHash: string, pieceCount: number, bytes: Uint8Array): void {
    let held = this.#allHoldings.get(edgeId);
    if (held === undefined) {
      held = new Map();
      this.#allHoldings.set(edgeId, held);
    }
    const bitfield = bytes.byteLength === 0 ? null : new Bitfield(pieceCount, bytes);
    if (bitfield === null || bitfield.count() === 0) held.delete(infoHash);
    else held.set(infoHash, bitfield);
    const object = this.#objects.get(infoHash);
    if (object === undefined) {
      let pending = this.#pending.get(infoHash);
      if (pending === undefined && bitfield !== null) {
        pending = { holders: new Map() };
        this.#pending.set(infoHash, pending);
      }
      if (bitfield === null) pending?.holders.delete(edgeId);
      else pending?.holders.set(edgeId, bitfield);
      if (pending?.holders.size === 0) this.#pending.delete(infoHash);
      return;
    }
    if (bitfield !== null && bitfield.length !== object.pieceCount) {
      this.#wrongSize(edgeId, infoHash, pieceCount, object.pieceCount);
      this.#setHolding(edgeId, infoHash, null);
      return;
    }
    this.#setHolding(edgeId, infoHash, bitfield);
  }

  /** A bitfield that does not fit the object's metainfo: not counted, and logged. */
  #wrongSize(edgeId: string, infoHash: string, pieceCount: number, expected: number): void {
    this.#logger.warn(
      { edgeId, infoHash, pieceCount, expected },
      'controller: an edge reported a bitfield of the wrong size; ignored',
    );
    this.#allHoldings.get(edgeId)?.delete(infoHash);
  }

  /** Counts (or stops counting) one edge's bitfield of an object in the union, as it serves now. */
  #setHolding(edgeId: string, infoHash: string, bitfield: Bitfield | null): void {
    const object = this.#objects.get(infoHash);
    if (object === undefined) return;
    const edge = this.#edges.get(edgeId);
    const counted = bitfield !== null && edge !== undefined && this.serving(edge) ? bitfield : null;
    const before = object.holders.get(edgeId) ?? null;
    if (before === counted) return;
    const added: number[] = [];
    const removed: number[] = [];
    for (let piece = 0; piece < object.pieceCount; piece += 1) {
      const had = before?.get(piece) ?? false;
      const has = counted?.get(piece) ?? false;
      if (had === has) continue;
      const copies = (object.copies[piece] ?? 0) + (has ? 1 : -1);
      object.copies[piece] = copies;
      if (has && copies === 1) added.push(piece);
      if (!has && copies === 0) removed.push(piece);
    }
    if (counted === null) object.holders.delete(edgeId);
    else object.holders.set(edgeId, counted);
    const countedHere = this.#countedBy.get(edgeId);
    if (counted !== null) {
      if (countedHere === undefined) this.#countedBy.set(edgeId, new Set([infoHash]));
      else countedHere.add(infoHash);
    } else if (countedHere !== undefined) {
      countedHere.delete(infoHash);
      if (countedHere.size === 0) this.#countedBy.delete(edgeId);
    }
    this.#applyUnion(object, added, removed);
  }

  #applyUnion(object: FleetObject, added: number[], removed: number[]): void {
    if (added.length === 0 && removed.length === 0) return;
    const bitfield = object.bitfield as Bitfield;
    const wasListed = object.piecesHeld > 0;
    for (const piece of added) bitfield.set(piece, true);
    for (const piece of removed) bitfield.set(piece, false);
    object.piecesHeld = bitfield.count();
    object.complete = object.piecesHeld === object.pieceCount;
    if (!wasListed && object.piecesHeld > 0) {
      object.addedAt = this.#now();
      this.emit('object-added', object);
      this.emit('pieces-added', object.infoHash, added);
      return;
    }
    if (object.piecesHeld === 0) {
      this.emit('pieces-removed', object.infoHash, removed, 'policy');
      this.emit('object-removed', object.infoHash, 'policy');
      return;
    }
    if (added.length > 0) this.emit('pieces-added', object.infoHash, added);
    if (removed.length > 0) this.emit('pieces-removed', object.infoHash, removed, 'policy');
  }

  /** The edge's serving state may have changed: count its holdings in (or out of) every union. */
  #recount(edgeId: string): void {
    const held = this.#allHoldings.get(edgeId);
    for (const [infoHash, bitfield] of held ?? []) this.#setHolding(edgeId, infoHash, bitfield);
    for (const infoHash of [...(this.#countedBy.get(edgeId) ?? [])]) {
      if (!held?.has(infoHash)) this.#setHolding(edgeId, infoHash, null);
    }
  }
}
