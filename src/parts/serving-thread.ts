// One serving thread of http.threads (workers/http-worker.ts runs it): the HTTP server on the agent's port
// (SO_REUSEPORT), over the store opened read-only and the agent's shared piece slab. What only the agent's
// thread may do goes to it over the thread's port: SHA-1 checks (its hashing pool), a corrupt piece's
// removal from the store, the per-object byte tally, log lines. Counters go to shared memory.
import type { MessagePort } from 'node:worker_threads';
import { createHttpServer, type HttpLimits, type HttpServer, type HttpServerStats } from '../http/index.ts';
import type { Logger } from '../log/index.ts';
import { createSharedPieceCache, openStore, type PieceSlab, type VerifyPolicy } from '../store/index.ts';

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
  http: {
    port: number;
    host?: string;
    policy: 'refuse' | 'redirect';
    limits: Partial<HttpLimits>;
    corsOrigin?: string;
  };
}

/** Messages of a serving thread to the agent's thread. */
export type ThreadMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'verify'; id: number; data: Uint8Array; expected: Uint8Array }
  | { kind: 'corrupt'; id: number; infoHash: string; pieceIndex: number }
  | { kind: 'sent'; tally: [string, number][] }
  | { kind: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; fields: unknown; message: string }
  | { kind: 'published' }
  | { kind: 'closed' };

/** Messages of the agent's thread to a serving thread. */
export type AgentMessage =
  | { kind: 'verified'; id: number; ok: boolean }
  | { kind: 'corrupted'; id: number; removed: boolean }
  | { kind: 'publish' }
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
  const value = (name: (typeof STAT_FIELDS)[number]) => row[STAT_FIELDS.indexOf(name)]!;
  return {
    connections: value('connections'),
    requests: value('requests'),
    responses: { '2xx': value('2xx'), '3xx': value('3xx'), '4xx': value('4xx'), '5xx': value('5xx') },
    bytesSent: value('bytesSent'),
    aborted: value('aborted'),
    refused: value('refused'),
    redirected: value('redirected'),
    piecesPulled: value('piecesPulled'),
    pullFailures: value('pullFailures'),
    clientErrors: value('clientErrors'),
    refusedConnections: value('refusedConnections'),
    internalErrors: value('internalErrors'),
    topUpPauses: value('topUpPauses'),
  };
}

/** Runs the thread's server until the agent says close; answers over `port`. */
export async function runServingThread(data: ServingThreadData, port: MessagePort): Promise<void> {
  const send = (message: ThreadMessage, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer ?? []);
  const logger = forwardingLogger(send);
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
  const server: HttpServer = createHttpServer({
    store,
    cache,
    port: data.http.port,
    reusePort: true,
    policy: data.http.policy,
    limits: data.http.limits,
    logger,
    onSent: (infoHash, bytes) => tally.set(infoHash, (tally.get(infoHash) ?? 0) + bytes),
    ...(data.http.host === undefined ? {} : { host: data.http.host }),
    ...(data.http.corsOrigin === undefined ? {} : { corsOrigin: data.http.corsOrigin }),
  });
  const row = data.stats.subarray(data.thread * STAT_ROW, (data.thread + 1) * STAT_ROW);
  const publish = () => {
    writeStatsRow(row, server.stats());
    if (tally.size > 0) {
      send({ kind: 'sent', tally: [...tally] });
      tally.clear();
    }
  };
  const timer = setInterval(publish, PUBLISH_MS);
  port.on('message', (message: AgentMessage) => {
    if (message.kind === 'verified' || message.kind === 'corrupted') {
      const resolve = pending.get(message.id);
      pending.delete(message.id);
      resolve?.(message.kind === 'verified' ? message.ok : message.removed);
    } else if (message.kind === 'publish') {
      publish();
      send({ kind: 'published' });
    } else if (message.kind === 'close') {
      void server.close(message.graceMs).finally(() => {
        clearInterval(timer);
        publish();
        store.close();
        send({ kind: 'closed' });
        port.close();
      });
    }
  });
  const { port: listening } = await server.listen();
  send({ kind: 'listening', port: listening });
}

/** The thread's log lines, written by the agent's logger (errors as their message and stack). */
function forwardingLogger(send: (message: ThreadMessage) => void): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (fields: object, message: string): void => {
      const plain: Record<string, unknown> = {};
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
