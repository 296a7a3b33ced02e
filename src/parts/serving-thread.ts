// One serving thread of http.threads / peer.threads (workers/serving-worker.ts runs it): the HTTP server
// and/or the peer wire server on the agent's ports (SO_REUSEPORT), over the store opened read-only and the
// agent's shared piece slab. What only the agent's thread may do goes to it over the thread's port: SHA-1
// checks (its hashing pool), a corrupt piece's removal from the store, the per-object byte tally, log
// lines. Counters go to shared memory. The wire's peers hear of the store's changes as the agent makes
// them: the agent wakes the thread through the shared change counter, and the thread's store catches up.
import type { MessagePort } from 'node:worker_threads';
import { createHttpServer, type HttpLimits, type HttpServer, type HttpServerStats } from '../http/index.ts';
import type { Logger } from '../log/index.ts';
import { createSharedPieceCache, openStore, type PieceSlab, type VerifyPolicy } from '../store/index.ts';
import {
  createPeerWireServer,
  type MseMode,
  type PeerInfo,
  type PeerWireLimits,
  type PeerWireServer,
  type PeerWireStats,
} from '../wire/index.ts';

/** What the agent gives a serving thread: plain data and shared memory only. */
export interface ServingThreadData {
  /** This thread's number, 1 and up (the agent's own thread serves as 0). */
  thread: number;
  dataDir: string;
  slab: PieceSlab;
  verifyPolicy: VerifyPolicy;
  /** Bumped by the agent after each change it commits to the store: the thread's store then catches up. */
  storeChanges: Int32Array;
  /** Counter rows, one per thread (STAT_FIELDS), written by their thread only. */
  stats: Float64Array;
  /** The peer wire's counter rows, one per thread (WIRE_STAT_FIELDS), written by their thread only. */
  wireStats: Float64Array;
  /** Absent: this thread serves no HTTP. */
  http?: {
    port: number;
    host?: string;
    policy: 'refuse' | 'redirect';
    limits: Partial<HttpLimits>;
    corsOrigin?: string;
  };
  /** Absent: this thread serves no peer wire. */
  wire?: {
    port: number;
    host?: string | string[];
    /** The agent's peer id: every thread is the same peer to the swarm. */
    peerId: Uint8Array;
    mse?: MseMode;
    /** This thread's share (upload slots and connections divided among the threads). */
    limits: Partial<PeerWireLimits>;
  };
}

/** Messages of a serving thread to the agent's thread. */
export type ThreadMessage =
  | { kind: 'listening'; http?: number; wire?: number }
  | { kind: 'verify'; id: number; data: Uint8Array; expected: Uint8Array }
  | { kind: 'corrupt'; id: number; infoHash: string; pieceIndex: number }
  | { kind: 'sent'; tally: [string, number][] }
  | { kind: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; fields: unknown; message: string }
  | { kind: 'published' }
  | { kind: 'peers'; peers: PeerInfo[] }
  | { kind: 'closed' };

/** Messages of the agent's thread to a serving thread. */
export type AgentMessage =
  | { kind: 'verified'; id: number; ok: boolean }
  | { kind: 'corrupted'; id: number; removed: boolean }
  | { kind: 'publish' }
  | { kind: 'peers' }
  | { kind: 'close'; graceMs: number };

/** The counters of HttpServerStats in a row of shared memory, in this order. */
export const STAT_FIELDS = [
  'connections',
  'requests',
  '2xx',
  '3xx',
  '4xx',
  '5xx',
  'bytesSent',
  'aborted',
  'refused',
  'redirected',
  'piecesPulled',
  'pullFailures',
  'clientErrors',
  'refusedConnections',
  'internalErrors',
  'topUpPauses',
] as const;
export const STAT_ROW = 16;

/** The counters of PeerWireStats in a row of shared memory (the record makes tsc insist on every one). */
const WIRE_FIELD_SET: Record<Exclude<keyof PeerWireStats, 'acceptedPerThread' | 'requestsPerThread'>, true> = {
  connections: true,
  handshaking: true,
  unchoked: true,
  waiting: true,
  slotRotations: true,
  accepted: true,
  refused: true,
  protocolErrors: true,
  notBitTorrent: true,
  encryptedHandshakes: true,
  rc4Refused: true,
  uploadedBytes: true,
  blocksSent: true,
  requestsReceived: true,
  requestsRejected: true,
  topUpPauses: true,
  requestsDropped: true,
  sendQueueBytes: true,
  metadataPiecesSent: true,
  internalErrors: true,
  rc4Streams: true,
  utpResets: true,
  unauthorisedPeers: true,
};
export const WIRE_STAT_FIELDS = Object.keys(WIRE_FIELD_SET) as (keyof typeof WIRE_FIELD_SET)[];
export const WIRE_STAT_ROW = 24;

export function writeWireStatsRow(row: Float64Array, stats: PeerWireStats): void {
  for (let field = 0; field < WIRE_STAT_FIELDS.length; field++) row[field] = stats[WIRE_STAT_FIELDS[field]!];
}

export function readWireStatsRow(row: Float64Array): PeerWireStats {
  const stats = {} as PeerWireStats;
  for (let field = 0; field < WIRE_STAT_FIELDS.length; field++) stats[WIRE_STAT_FIELDS[field]!] = row[field]!;
  return stats;
}

/** How often a thread writes its counters and its byte tally for the agent to read. */
const PUBLISH_MS = 200;
/** How long the thread's store trusts that nothing changed without a look at the journal (a safety net). */
const FULL_LOOK_MS = 1000;

export function writeStatsRow(row: Float64Array, stats: HttpServerStats): void {
  for (let field = 0; field < STAT_FIELDS.length; field++) {
    const name = STAT_FIELDS[field]!;
    row[field] =
      name === '2xx' || name === '3xx' || name === '4xx' || name === '5xx'
        ? stats.responses[name]
        : stats[name as Exclude<typeof name, '2xx' | '3xx' | '4xx' | '5xx'>];
  }
}

export function readStatsRow(row: Float64Array): HttpServerStats {
  const stats = { responses: {} } as HttpServerStats;
  for (let field = 0; field < STAT_FIELDS.length; field++) {
    const name = STAT_FIELDS[field]!;
    if (name === '2xx' || name === '3xx' || name === '4xx' || name === '5xx') stats.responses[name] = row[field]!;
    else stats[name] = row[field]!;
  }
  return stats;
}

/** Runs the thread's server until the agent says close; answers over `port`. */
export async function runServingThread(data: ServingThreadData, port: MessagePort): Promise<void> {
  const send = (message: ThreadMessage, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer ?? []);
  let seenChanges = Atomics.load(data.storeChanges, 0);
  let lastLook = performance.now();
  const store = await openStore(data.dataDir, {
    mode: 'read',
    writerChanged: () => {
      const changes = Atomics.load(data.storeChanges, 0);
      if (changes === seenChanges && performance.now() - lastLook < FULL_LOOK_MS) return false;
      seenChanges = changes;
      lastLook = performance.now();
      return true;
    },
  });
  const pending = new Map<number, (answer: boolean) => void>();
  let nextId = 0;
  const ask = (message: ThreadMessage & { id: number }, transfer?: ArrayBuffer[]) =>
    new Promise<boolean>((resolve) => {
      pending.set(message.id, resolve);
      send(message, transfer);
    });
  const cache = createSharedPieceCache(store, {
    slab: data.slab,
    verifyPolicy: data.verifyPolicy,
    // A copy crosses to the agent's hashing pool (moved, not copied again); the bytes checked here stay
    // here, unchanged.
    verify: (bytes, expected) => {
      const data = new Uint8Array(bytes);
      return ask({ kind: 'verify', id: nextId++, data, expected: new Uint8Array(expected) }, [data.buffer]);
    },
    // The agent takes the piece out of the store; every thread's store then no longer holds it.
    onCorrupt: (infoHash, pieceIndex) => ask({ kind: 'corrupt', id: nextId++, infoHash, pieceIndex }),
  });
  const tally = new Map<string, number>();
  const count = (infoHash: string, bytes: number) => tally.set(infoHash, (tally.get(infoHash) ?? 0) + bytes);
  const http: HttpServer | null =
    data.http === undefined
      ? null
      : createHttpServer({
          store,
          cache,
          port: data.http.port,
          reusePort: true,
          policy: data.http.policy,
          limits: data.http.limits,
          logger: forwardingLogger(send, { part: 'http' }),
          onSent: count,
          ...(data.http.host === undefined ? {} : { host: data.http.host }),
          ...(data.http.corsOrigin === undefined ? {} : { corsOrigin: data.http.corsOrigin }),
        });
  const wire: PeerWireServer | null =
    data.wire === undefined
      ? null
      : createPeerWireServer({
          store,
          cache,
          port: data.wire.port,
          peerId: data.wire.peerId,
          limits: data.wire.limits,
          reusePort: true,
          // The agent's thread answers uTP on the port's UDP side for all.
          utpReset: false,
          logger: forwardingLogger(send, { part: 'wire' }),
          onUploaded: count,
          ...(data.wire.host === undefined ? {} : { host: data.wire.host }),
          ...(data.wire.mse === undefined ? {} : { mse: data.wire.mse }),
        });
  const row = data.stats.subarray(data.thread * STAT_ROW, (data.thread + 1) * STAT_ROW);
  const wireRow = data.wireStats.subarray(data.thread * WIRE_STAT_ROW, (data.thread + 1) * WIRE_STAT_ROW);
  const publish = () => {
    if (http !== null) writeStatsRow(row, http.stats());
    if (wire !== null) writeWireStatsRow(wireRow, wire.stats());
    if (tally.size > 0) {
      send({ kind: 'sent', tally: [...tally] });
      tally.clear();
    }
  };
  const timer = setInterval(publish, PUBLISH_MS);
  let closing = false;
  // The wire's peers hear of what the agent added or removed as soon as it is committed (HAVEs, a removed
  // object's connections closed): each change wakes this thread, whose store then catches up and emits.
  const followChanges = async () => {
    let seen = Atomics.load(data.storeChanges, 0);
    while (!closing) {
      const waited = Atomics.waitAsync(data.storeChanges, 0, seen);
      if (waited.async) await waited.value;
      if (closing) break;
      seen = Atomics.load(data.storeChanges, 0);
      store.list();
    }
  };
  port.on('message', (message: AgentMessage) => {
    if (message.kind === 'verified' || message.kind === 'corrupted') {
      const resolve = pending.get(message.id);
      pending.delete(message.id);
      resolve?.(message.kind === 'verified' ? message.ok : message.removed);
    } else if (message.kind === 'publish') {
      publish();
      send({ kind: 'published' });
    } else if (message.kind === 'peers') {
      send({ kind: 'peers', peers: wire?.peers() ?? [] });
    } else if (message.kind === 'close') {
      closing = true;
      // Wakes followChanges (and, harmlessly, the other threads' followers) so that it ends.
      Atomics.notify(data.storeChanges, 0);
      void Promise.all([http?.close(message.graceMs), wire?.close(message.graceMs)]).finally(() => {
        clearInterval(timer);
        publish();
        store.close();
        send({ kind: 'closed' });
        port.close();
      });
    }
  });
  const ports: { http?: number; wire?: number } = {};
  if (http !== null) ports.http = (await http.listen()).port;
  if (wire !== null) {
    ports.wire = (await wire.listen()).port;
    void followChanges();
  }
  send({ kind: 'listening', ...ports });
}

/** The thread's log lines, written by the agent's logger (errors as their message and stack). */
function forwardingLogger(send: (message: ThreadMessage) => void, base: Record<string, unknown>): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (fields: object, message: string): void => {
      const plain: Record<string, unknown> = { ...base };
      for (const [name, value] of Object.entries(fields)) {
        plain[name] = value instanceof Error ? { message: value.message, stack: value.stack } : value;
      }
      send({ kind: 'log', level, fields: structuredCloneable(plain), message });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function structuredCloneable(fields: Record<string, unknown>): unknown {
  try {
    return structuredClone(fields);
  } catch {
    return JSON.parse(JSON.stringify(fields));
  }
}
