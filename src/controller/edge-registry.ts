// The controller's side of the edge protocol (src/fleet/protocol.ts), without HTTP: enrolment (a one-time
// token for a per-edge key), authentication of every later call, heartbeats and the down sweep, whole
// states and numbered deltas of holdings, metainfo uploads, and commands handed to edges through their
// channels (or a long poll). The HTTP layer is src/controller/edge-api.ts, channels edge-channel.ts.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EnrolmentRefusedError, InvalidArgumentError, NoEdgesError, UnauthorizedError } from '../errors/index.ts';
import type {
  CommandEvent,
  DeltasRequest,
  EdgeCommand,
  EnrolRequest,
  EnrolResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  HoldingsResponse,
  StateRequest,
} from '../fleet/index.ts';
import type { Logger } from '../log/index.ts';
import { parsePieceList } from '../metainfo/index.ts';
import type { FleetCatalog } from './fleet-catalog.ts';
import type { EdgeRecord, FleetState, HeldPieces, QueuedPurge } from './fleet-state.ts';

/** The body of an edge's purge command: the whole object, or the listed pieces ("0-9,12"). */
export function purgeCommand(infoHash: string, pieces: string | null): { ids: string[]; pieces?: string } {
  return pieces === null ? { ids: [infoHash] } : { ids: [infoHash], pieces };
}

export interface EdgeRegistryOptions {
  fleet: FleetState;
  catalog: FleetCatalog;
  /** How often edges send heartbeats, ms. */
  heartbeatMs: number;
  /** An edge whose last heartbeat is older than this is down, ms; default 3 heartbeats. */
  downAfterMs?: number;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  now?: () => number;
}

export interface EdgeRegistryStats {
  enrolments: number;
  /** Enrolments refused, by reason. */
  refusedEnrolments: { unknown: number; expired: number; used: number };
  /** Calls with a missing, unknown or revoked credential. */
  unauthorized: number;
  /** Messages from edges that did not parse or did not fit (bad fields, wrong sizes, wrong metainfo). */
  badMessages: number;
  /** Whole states and deltas taken; whole states asked of edges (first contact, gap, unknown session). */
  states: number;
  deltas: number;
  resyncsAsked: number;
  /** Edges found down by the sweep (missed heartbeats), and edges that left. */
  edgesDown: number;
  edgesLeft: number;
  heartbeats: number;
  /** Purges queued while an edge was down, sent to it when it was back: done, and failed (kept queued). */
  queuedPurgesSent: number;
  queuedPurgesFailed: number;
}

/** Checked credentials kept at most (a fleet's edges, with room). */
const MAX_VERIFIED = 100_000;

/** A token: 'ept_' and 32 random bytes, base64url. Only its SHA-256 is kept. */
/**
 * The holdings less what the queued purges will remove: an object purged whole is left out, a piece purge
 * clears its pieces. A piece list that does not fit the object (it cannot be checked here) leaves it out.
 */
export function withoutQueuedPurges(objects: HeldPieces[], queued: QueuedPurge[]): HeldPieces[] {
  const byHash = new Map(queued.map((purge) => [purge.infoHash, purge.pieces]));
  const held: HeldPieces[] = [];
  for (const object of objects) {
    if (!byHash.has(object.infoHash)) {
      held.push(object);
      continue;
    }
    const pieces = byHash.get(object.infoHash);
    if (pieces === null || pieces === undefined) continue;
    let purged: number[];
    try {
      purged = parsePieceList(pieces, object.pieceCount);
    } catch {
      continue;
    }
    const bitfield = Uint8Array.from(object.bitfield);
    for (const index of purged) bitfield[index >> 3]! &= ~(0x80 >> (index & 7));
    held.push({ ...object, bitfield });
  }
  return held;
}

function newToken(): string {
  return `ept_${randomBytes(32).toString('base64url')}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

type Deliver = (commands: EdgeCommand[]) => void;

interface PendingCommand {
  command: EdgeCommand;
  onEvent: (event: CommandEvent) => void;
  done: (error?: Error) => void;
  /** The channel it was written to; null once the edge reported on it (or when a long poll took it). */
  unconfirmedOn: Deliver | null;
}

interface EdgeMailbox {
  queued: PendingCommand[];
  /** Sent to the edge and not yet done, by id. */
  running: Map<string, PendingCommand>;
  /** A long poll waiting for commands. */
  waiter: ((commands: EdgeCommand[]) => void) | null;
}

export class EdgeRegistry {
  readonly heartbeatMs: number;
  readonly downAfterMs: number;
  readonly #fleet: FleetState;
  readonly #catalog: FleetCatalog;
  readonly #logger: EdgeRegistryOptions['logger'];
  readonly #now: () => number;
  readonly #mailboxes = new Map<string, EdgeMailbox>();
  readonly #stats: EdgeRegistryStats = {
    enrolments: 0,
    refusedEnrolments: { unknown: 0, expired: 0, used: 0 },
    unauthorized: 0,
    badMessages: 0,
    states: 0,
    deltas: 0,
    resyncsAsked: 0,
    edgesDown: 0,
    edgesLeft: 0,
    heartbeats: 0,
    queuedPurgesSent: 0,
    queuedPurgesFailed: 0,
  };
  /** Edges whose queued purges are being sent (a second whole state meanwhile does not send them again). */
  readonly #sendingPurges = new Set<string>();
  #sweeper: NodeJS.Timeout | null = null;
  /** Open channels (src/controller/edge-channel.ts), by edge: commands go there at once. */
  readonly #channels = new Map<string, Deliver>();
  /** Credentials checked already, by their Authorization header, to the edge id. */
  readonly #verified = new Map<string, string>();
  #commandIds = 0;

  constructor(options: EdgeRegistryOptions) {
    this.#fleet = options.fleet;
    this.#catalog = options.catalog;
    this.heartbeatMs = options.heartbeatMs;
    this.downAfterMs = options.downAfterMs ?? options.heartbeatMs * 3;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#fleet.on('edge-down', (edgeId) => this.#failRunning(edgeId, 'the edge went down'));
    this.#fleet.on('edge-removed', (edgeId) => {
      this.#failRunning(edgeId, 'the edge was removed');
      for (const [authorization, id] of this.#verified) if (id === edgeId) this.#verified.delete(authorization);
    });
  }

  /** Sweeps for edges that missed their heartbeats, a few times per heartbeat. */
  start(): void {
    const every = Math.max(100, Math.min(1000, Math.floor(this.heartbeatMs / 2)));
    this.#sweeper = setInterval(() => void this.sweep(), every);
    this.#sweeper.unref();
  }

  stop(): void {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#sweeper = null;
    for (const edgeId of this.#mailboxes.keys()) this.#failRunning(edgeId, 'the controller is stopping');
  }

  stats(): EdgeRegistryStats {
    return structuredClone(this.#stats);
  }

  /** A one-time enrolment token, valid for `ttlMs`. The token itself is returned once and never stored. */
  async createToken(ttlMs: number, label: string | null): Promise<{ token: string; expiresAt: number }> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000) {
      throw new InvalidArgumentError(`token lifetime must be at least 1 s, got ${ttlMs} ms`, { subject: 'ttl' });
    }
    const token = newToken();
    const createdAt = this.#now();
    const expiresAt = createdAt + ttlMs;
    await this.#fleet.addToken({ hash: sha256(token), createdAt, expiresAt, label, usedBy: null });
    return { token, expiresAt };
  }

  async enrol(request: EnrolRequest): Promise<EnrolResponse> {
    const edgeId = `edge-${randomBytes(6).toString('hex')}`;
    const redemption = await this.#fleet.redeemToken(sha256(request.token), edgeId, this.#now());
    if (!redemption.ok) {
      this.#stats.refusedEnrolments[redemption.reason] += 1;
      throw new EnrolmentRefusedError(`enrolment token ${redemption.reason}`);
    }
    const key = randomBytes(32).toString('base64url');
    await this.#fleet.addEdge({
      id: edgeId,
      name: request.name,
      keyHash: sha256(key),
      enrolledAt: this.#now(),
      draining: false,
    });
    this.#stats.enrolments += 1;
    this.#logger.info({ edgeId, name: request.name, address: request.address }, 'controller: an edge enrolled');
    return { edgeId, key, heartbeatMs: this.heartbeatMs };
  }

  /** The edge a call's `Authorization: Bearer <edgeId>.<key>` names, or UnauthorizedError. */
  async authenticate(authorization: string | undefined): Promise<EdgeRecord> {
    // An edge calls several times per heartbeat period with the same credential: once checked, it is
    // known by its exact header while the edge stays enrolled (the catalog's record, kept by events).
    const known = authorization === undefined ? undefined : this.#verified.get(authorization);
    const current = known === undefined ? undefined : this.#catalog.edge(known)?.record;
    if (current !== undefined) return current;
    const match = /^Bearer (edge-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/.exec(authorization ?? '');
    const record = match === null ? undefined : await this.#fleet.edge(match[1] as string);
    if (match === null || record === undefined) {
      this.#stats.unauthorized += 1;
      throw new UnauthorizedError(
        match === null ? 'missing or malformed edge credential' : `edge ${match[1]} is not enrolled (or was removed)`,
      );
    }
    const given = Buffer.from(sha256(match[2] as string), 'hex');
    if (!timingSafeEqual(given, Buffer.from(record.keyHash, 'hex'))) {
      this.#stats.unauthorized += 1;
      throw new UnauthorizedError(`wrong key for edge ${record.id}`);
    }
    // Bounded: one entry per enrolled edge (a re-enrolled edge replaces its own).
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.clear();
    this.#verified.set(authorization as string, record.id);
    return record;
  }

  async heartbeat(edge: EdgeRecord, request: HeartbeatRequest): Promise<HeartbeatResponse> {
    this.#stats.heartbeats += 1;
    await this.#fleet.recordHeartbeat(edge.id, {
      address: request.address,
      capacityBytes: request.capacityBytes,
      freeBytes: request.freeBytes,
      connections: request.load.connections,
      uploadBytesPerSecond: request.load.uploadBytesPerSecond,
      shedding: request.load.shedding === true,
      lastSeen: this.#now(),
    });
    const cursor = await this.#fleet.cursor(edge.id);
    // The edge's count ahead of ours means deltas were lost; behind it, a delta overtook this heartbeat.
    const resync = cursor === undefined || cursor.session !== request.session || request.seq > cursor.seq;
    if (resync) this.#stats.resyncsAsked += 1;
    return { resync, heartbeatMs: this.heartbeatMs, draining: edge.draining };
  }

  async state(edge: EdgeRecord, request: StateRequest): Promise<HoldingsResponse> {
    if ((await this.#fleet.liveness(edge.id)) === undefined) {
      // Holdings count from the first heartbeat on: an edge's address comes with it.
      this.#stats.resyncsAsked += 1;
      return { resync: true, needMetainfo: [] };
    }
    const objects = request.objects.map((object) => ({
      infoHash: object.infoHash,
      pieceCount: object.pieceCount,
      bitfield: this.#bitfieldBytes(object.bitfield, object.pieceCount, object.infoHash),
    }));
    this.#stats.states += 1;
    const queued = await this.#fleet.queuedPurges(edge.id);
    // What a queued purge is about to remove is not counted as held: no redirect goes to an edge back from
    // down for an object purged fleet-wide while it was away, in the time its purge takes to run there.
    const held = queued.length === 0 ? objects : withoutQueuedPurges(objects, queued);
    await this.#fleet.replaceHoldings(edge.id, { session: request.session, seq: request.seq }, held);
    if (queued.length > 0) void this.#sendQueuedPurges(edge.id, new Set(objects.map((object) => object.infoHash)));
    return { resync: false, needMetainfo: this.#needMetainfo(objects.map((object) => object.infoHash)) };
  }

  async deltas(edge: EdgeRecord, request: DeltasRequest): Promise<HoldingsResponse> {
    const outcome = await this.#fleet.applyChanges(
      edge.id,
      { session: request.session, seq: request.seq },
      request.changes,
    );
    if (outcome === 'gap') {
      this.#stats.resyncsAsked += 1;
      this.#logger.debug({ edgeId: edge.id, seq: request.seq }, 'controller: a delta did not follow; resync asked');
      return { resync: true, needMetainfo: [] };
    }
    this.#stats.deltas += 1;
    return {
      resync: false,
      needMetainfo: this.#needMetainfo(request.changes.filter((c) => !c.gone).map((c) => c.infoHash)),
    };
  }

  /** An object's .torrent from an edge: kept only if it parses and has the info hash it was sent for. */
  async metainfo(edge: EdgeRecord, infoHash: string, torrent: Buffer): Promise<void> {
    if (!/^[0-9a-f]{40}$/.test(infoHash)) {
      throw new InvalidArgumentError(`metainfo upload: "${infoHash.slice(0, 64)}" is not an info hash`);
    }
    if (!this.#catalog.adoptMetainfo(infoHash, torrent)) {
      this.#logger.warn(
        { edgeId: edge.id, infoHash },
        'controller: an edge sent metainfo that is not of its info hash',
      );
      throw new InvalidArgumentError(`metainfo upload: the body is not a .torrent of ${infoHash}`);
    }
    await this.#fleet.putMetainfo(infoHash, torrent);
  }

  /** The edge stops: down at once, its pieces leave the union now rather than at the sweep. */
  async leave(edge: EdgeRecord): Promise<void> {
    this.#stats.edgesLeft += 1;
    this.#logger.info({ edgeId: edge.id, name: edge.name }, 'controller: an edge left');
    await this.#fleet.markDown(edge.id);
  }

  /** Marks down the edges whose heartbeats stopped. */
  async sweep(): Promise<void> {
    const now = this.#now();
    for (const edge of this.#catalog.edges()) {
      if (edge.liveness === undefined || now - edge.liveness.lastSeen <= this.downAfterMs) continue;
      this.#stats.edgesDown += 1;
      this.#logger.warn(
        { edgeId: edge.record.id, name: edge.record.name, silentMs: now - edge.liveness.lastSeen },
        'controller: an edge missed its heartbeats and is down; its pieces left the union',
      );
      await this.#fleet.markDown(edge.record.id);
    }
  }

  /** A message from an edge was refused (the API counts them here). */
  noteBadMessage(): void {
    this.#stats.badMessages += 1;
  }

  /**
   * Hands a command to a serving edge; `onEvent` hears its progress and results; resolves when the edge
   * reports it done (rejects with its error, or when the edge goes down or is removed first).
   */
  dispatch(
    edgeId: string,
    kind: EdgeCommand['kind'],
    body: unknown,
    onEvent: (event: CommandEvent) => void,
  ): Promise<void> {
    const edge = this.#catalog.edge(edgeId);
    if (edge === undefined || edge.liveness === undefined) {
      return Promise.reject(new NoEdgesError(`edge ${edgeId} is not up`));
    }
    this.#commandIds += 1;
    const command = { id: `c${this.#commandIds}-${randomBytes(4).toString('hex')}`, kind, body } as EdgeCommand;
    return new Promise<void>((resolve, reject) => {
      const mailbox = this.#mailbox(edgeId);
      const done = (error?: Error) => (error ? reject(error) : resolve());
      mailbox.queued.push({ command, onEvent, done, unconfirmedOn: null });
      const channel = this.#channels.get(edgeId);
      if (channel !== undefined) {
        channel(this.#takeQueued(mailbox, channel));
      } else if (mailbox.waiter !== null) {
        const waiter = mailbox.waiter;
        mailbox.waiter = null;
        waiter(this.#takeQueued(mailbox));
      }
    });
  }

  /**
   * An edge's channel opened: `deliver` takes its commands from now on, those queued at once. A newer
   * channel of the same edge (it reconnected) replaces the older. Returns the detach for when it closes.
   */
  attachChannel(edgeId: string, deliver: Deliver): () => void {
    this.#channels.set(edgeId, deliver);
    const mailbox = this.#mailboxes.get(edgeId);
    if (mailbox !== undefined && mailbox.queued.length > 0) deliver(this.#takeQueued(mailbox, deliver));
    return () => {
      if (this.#channels.get(edgeId) === deliver) this.#channels.delete(edgeId);
      // Written to a channel that closed before the edge said a word of them: maybe never read. They go
      // again on the next channel (the edge runs a command id once).
      const current = this.#mailboxes.get(edgeId);
      if (current === undefined) return;
      for (const pending of current.running.values()) {
        if (pending.unconfirmedOn !== deliver) continue;
        current.running.delete(pending.command.id);
        pending.unconfirmedOn = null;
        current.queued.push(pending);
      }
      const next = this.#channels.get(edgeId);
      if (next !== undefined && current.queued.length > 0) next(this.#takeQueued(current, next));
    };
  }

  /** The commands waiting for the edge, as soon as there are any or after `waitMs` (an empty list). */
  poll(edgeId: string, waitMs: number, signal: AbortSignal): Promise<EdgeCommand[]> {
    const mailbox = this.#mailbox(edgeId);
    if (mailbox.queued.length > 0) return Promise.resolve(this.#takeQueued(mailbox));
    // One poll at a time per edge: a newer one (a reconnect) replaces the old, which gets nothing.
    mailbox.waiter?.([]);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish([]), waitMs);
      const finish = (commands: EdgeCommand[]) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (mailbox.waiter === finish) mailbox.waiter = null;
        resolve(commands);
      };
      // The edge hung up before any command came: nothing was handed to this poll, it just ends.
      const onAbort = () => finish([]);
      signal.addEventListener('abort', onAbort);
      mailbox.waiter = finish;
    });
  }

  /** An edge's report of a command's progress, results and end. */
  report(edge: EdgeRecord, commandId: string, events: CommandEvent[]): void {
    const pending = this.#mailboxes.get(edge.id)?.running.get(commandId);
    if (pending === undefined) {
      throw new InvalidArgumentError(`no command ${commandId.slice(0, 64)} is running on edge ${edge.id}`);
    }
    pending.unconfirmedOn = null;
    for (const event of events) {
      if (event.kind === 'done') {
        this.#mailboxes.get(edge.id)?.running.delete(commandId);
        pending.done(
          event.error ? Object.assign(new Error(event.error.message), { code: event.error.code }) : undefined,
        );
        return;
      }
      pending.onEvent(event);
    }
  }

  /**
   * The edge is back with its whole state: the purges queued for it while it was down go now. One that
   * fails stays queued for its next whole state; one of an object it no longer holds is dropped.
   */
  async #sendQueuedPurges(edgeId: string, held: Set<string>): Promise<void> {
    if (this.#sendingPurges.has(edgeId)) return;
    this.#sendingPurges.add(edgeId);
    try {
      for (const purge of await this.#fleet.queuedPurges(edgeId)) {
        if (held.has(purge.infoHash) && !(await this.#sendQueuedPurge(edgeId, purge))) return;
        await this.#fleet.dropQueuedPurge(edgeId, purge.infoHash);
      }
    } catch (err) {
      this.#logger.warn({ edgeId, err }, 'controller: could not read or drop the purges queued for an edge');
    } finally {
      this.#sendingPurges.delete(edgeId);
    }
  }

  async #sendQueuedPurge(edgeId: string, purge: QueuedPurge): Promise<boolean> {
    const body = purgeCommand(purge.infoHash, purge.pieces);
    const statuses: string[] = [];
    try {
      await this.dispatch(edgeId, 'purge', body, (event) => {
        if (event.kind === 'result') statuses.push(String((event.result as { status?: unknown }).status));
      });
    } catch (err) {
      statuses.push(`failed: ${(err as Error).message}`);
    }
    const ok = statuses.every((status) => !status.startsWith('failed'));
    const fields = { edgeId, infoHash: purge.infoHash, pieces: purge.pieces, queuedAt: purge.queuedAt, statuses };
    if (ok) {
      this.#stats.queuedPurgesSent += 1;
      this.#logger.info(fields, 'controller: an edge back from down did the purge queued for it');
    } else {
      this.#stats.queuedPurgesFailed += 1;
      this.#logger.warn(fields, 'controller: a purge queued for an edge failed there; kept for its next state');
    }
    return ok;
  }

  #mailbox(edgeId: string): EdgeMailbox {
    let mailbox = this.#mailboxes.get(edgeId);
    if (mailbox === undefined) {
      mailbox = { queued: [], running: new Map(), waiter: null };
      this.#mailboxes.set(edgeId, mailbox);
    }
    return mailbox;
  }

  #takeQueued(mailbox: EdgeMailbox, channel: Deliver | null = null): EdgeCommand[] {
    const taken = mailbox.queued.splice(0);
    for (const pending of taken) {
      pending.unconfirmedOn = channel;
      mailbox.running.set(pending.command.id, pending);
    }
    return taken.map((pending) => pending.command);
  }

  #failRunning(edgeId: string, why: string): void {
    const mailbox = this.#mailboxes.get(edgeId);
    if (mailbox === undefined) return;
    this.#mailboxes.delete(edgeId);
    mailbox.waiter?.([]);
    for (const pending of [...mailbox.queued, ...mailbox.running.values()]) {
      pending.done(new NoEdgesError(`command ${pending.command.id} on edge ${edgeId} did not finish: ${why}`));
    }
  }

  #needMetainfo(infoHashes: string[]): string[] {
    return [...new Set(infoHashes)].filter((infoHash) => !this.#catalog.knowsMetainfo(infoHash));
  }

  #bitfieldBytes(base64: string, pieceCount: number, infoHash: string): Buffer {
    const bytes = Buffer.from(base64, 'base64');
    const expected = Math.ceil(pieceCount / 8);
    if (bytes.length !== expected) {
      throw new InvalidArgumentError(
        `state: the bitfield of ${infoHash} has ${bytes.length} bytes; ${pieceCount} pieces need ${expected}`,
      );
    }
    return bytes;
  }
}
