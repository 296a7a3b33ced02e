// The serving threads of http.threads and peer.threads, from the agent's side: each runs the HTTP server
// and/or the peer wire server on the agent's ports (SO_REUSEPORT) over the shared piece slab
// (src/parts/serving-thread.ts). The agent's thread keeps what is one for all: the store's writer (a
// thread's store follows it, told of each change through shared memory), the hashing pool (threads send it
// the pieces they read), the removal of a corrupt piece, the byte tally; the threads' counters are read
// from shared memory.
import { Worker } from 'node:worker_threads';
import { emptyHttpStats, type HttpServer, type HttpServerStats } from '../http/index.ts';
import type { Logger } from '../log/index.ts';
import { type PieceSlab, removeCorruptPieces, type Store, type VerifyPolicy } from '../store/index.ts';
import type { PeerInfo, PeerWireServer, PeerWireStats } from '../wire/index.ts';
import type { Part } from './lifecycle.ts';
import {
  type AgentMessage,
  readStatsRow,
  readWireStatsRow,
  type ServingThreadData,
  STAT_ROW,
  type ThreadMessage,
  WIRE_STAT_FIELDS,
  WIRE_STAT_ROW,
} from './serving-thread.ts';

export interface ServingThreadsOptions {
  /** Threads to start besides the agent's own, which serves too. */
  count: number;
  dataDir: string;
  store: Pick<Store, 'on' | 'off' | 'removePieces'>;
  slab: PieceSlab;
  verifyPolicy: VerifyPolicy;
  /** The hashing pool's check. */
  verify: (data: Uint8Array, expected: Uint8Array) => Promise<boolean>;
  onSent?: (infoHash: string, bytes: number) => void;
  /** The settings of the agent's HTTP server; `port` the one it listens on. Absent: no thread serves HTTP. */
  http?: ServingThreadData['http'];
  /** Of the threads started, how many serve HTTP (the first ones); default all of them. */
  httpThreads?: number;
  /** The settings of the agent's peer wire server (each thread's share); absent: no thread serves the wire. */
  wire?: ServingThreadData['wire'];
  /** Of the threads started, how many serve the peer wire (the first ones); default all of them. */
  wireThreads?: number;
  logger: Logger;
}

export interface ServingThreadsPart extends Part {
  /** The HTTP counters of each thread started (not the agent's own), as last written (every 200 ms). */
  stats(): HttpServerStats[];
  /** The peer wire counters of each thread started that serves it, as last written (every 200 ms). */
  wireStats(): PeerWireStats[];
  /** Resolves once every thread wrote its counters and tally anew (tests, and a status that must be exact). */
  published(): Promise<void>;
  /**
   * The wire threads' peers as each last listed them. A call finding that list over PEERS_FRESH_MS old asks
   * the threads anew (the answer serves the next call): pages that poll see peers at most that old.
   */
  peers(): PeerInfo[];
  /** Resolves once every wire thread listed its peers anew (tests, and a caller that must be exact). */
  refreshPeers(): Promise<void>;
}

/** How old the threads' peer lists may be before a look at them asks for new ones. */
const PEERS_FRESH_MS = 1000;

const STORE_EVENTS = ['object-added', 'pieces-added', 'pieces-removed', 'object-removed'] as const;

/** The worker entry next to this module's tree: .ts when running from sources, .js from dist/. */
function workerFileUrl(): URL {
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`../../workers/serving-worker${extension}`, import.meta.url);
}

export async function startServingThreads(
  options: ServingThreadsOptions,
  graceMs: number,
): Promise<ServingThreadsPart> {
  const { store, logger } = options;
  const storeChanges = new Int32Array(new SharedArrayBuffer(4));
  const stats = new Float64Array(new SharedArrayBuffer((options.count + 1) * STAT_ROW * 8));
  const wireStats = new Float64Array(new SharedArrayBuffer((options.count + 1) * WIRE_STAT_ROW * 8));
  const httpThreads = options.http === undefined ? 0 : (options.httpThreads ?? options.count);
  const wireThreads = options.wire === undefined ? 0 : (options.wireThreads ?? options.count);
  // Threads serving the wire wait on the counter (their peers hear of each change at once); HTTP reads it.
  const changed = () => {
    Atomics.add(storeChanges, 0, 1);
    Atomics.notify(storeChanges, 0);
  };
  for (const event of STORE_EVENTS) store.on(event, changed);
  const removeCorrupt = removeCorruptPieces(store);
  const workers: Worker[] = [];
  /** Callers of published() waiting for each thread's answer, by thread. */
  const publishing = new Map<Worker, (() => void)[]>();
  /** Each wire thread's peers as it last listed them, and callers of refreshPeers() waiting for its answer. */
  const threadPeers = new Map<Worker, PeerInfo[]>();
  const listingPeers = new Map<Worker, (() => void)[]>();
  let peersAskedAt = Number.NEGATIVE_INFINITY;
  const closed: Promise<void>[] = [];
  let stopping = false;

  const start = (thread: number): Promise<void> => {
    const data: ServingThreadData = {
      thread,
      dataDir: options.dataDir,
      slab: options.slab,
      verifyPolicy: options.verifyPolicy,
      storeChanges,
      stats,
      wireStats,
      ...(thread <= httpThreads && options.http !== undefined ? { http: options.http } : {}),
      ...(thread <= wireThreads && options.wire !== undefined ? { wire: options.wire } : {}),
    };
    const worker = new Worker(workerFileUrl(), { workerData: data, name: `serving-${thread}` });
    workers.push(worker);
    const threadLogger = logger;
    let listening: () => void = () => {};
    const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    closed.push(ended);
    const started = new Promise<void>((resolve, reject) => {
      listening = resolve;
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`serving thread ${thread} exited (code ${code})`)));
    });
    worker.on('error', (err) => {
      if (!stopping) threadLogger.error({ thread, err }, 'a serving thread failed; the others serve on');
    });
    worker.on('message', (message: ThreadMessage) => {
      const reply = (answer: AgentMessage) => worker.postMessage(answer);
      switch (message.kind) {
        case 'listening':
          listening();
          break;
        case 'verify':
          options.verify(message.data, message.expected).then(
            (ok) => reply({ kind: 'verified', id: message.id, ok }),
            () => reply({ kind: 'verified', id: message.id, ok: false }),
          );
          break;
        case 'corrupt':
          removeCorrupt(message.infoHash, message.pieceIndex).then((removed) =>
            reply({ kind: 'corrupted', id: message.id, removed }),
          );
          break;
        case 'sent':
          for (const [infoHash, bytes] of message.tally) options.onSent?.(infoHash, bytes);
          break;
        case 'log':
          threadLogger[message.level]({ thread, ...(message.fields as object) }, message.message);
          break;
        case 'published':
          publishing.get(worker)?.shift()?.();
          break;
        case 'peers':
          threadPeers.set(worker, message.peers);
          listingPeers.get(worker)?.shift()?.();
          break;
        case 'closed':
          break;
      }
    });
    return started;
  };

  const stop = async () => {
    stopping = true;
    for (const worker of workers) worker.postMessage({ kind: 'close', graceMs } satisfies AgentMessage);
    // A thread that does not finish within the grace (and a margin) is ended.
    const deadline = setTimeout(() => {
      for (const worker of workers) void worker.terminate();
    }, graceMs + 2000);
    await Promise.all(closed);
    clearTimeout(deadline);
    for (const event of STORE_EVENTS) store.off(event, changed);
  };

  /** Sends `message` to each of `targets`; resolves when each answered (its answer shifts `waiting`). */
  const askEach = (targets: Worker[], waiting: Map<Worker, (() => void)[]>, message: AgentMessage) =>
    Promise.all(
      targets.map(
        (worker) =>
          new Promise<void>((resolve) => {
            const queue = waiting.get(worker) ?? [];
            queue.push(resolve);
            waiting.set(worker, queue);
            worker.postMessage(message);
          }),
      ),
    ).then(() => undefined);
  const refreshPeers = (): Promise<void> => {
    peersAskedAt = performance.now();
    // The wire threads are the first wireThreads started (start(1) ... start(wireThreads)).
    return askEach(workers.slice(0, wireThreads), listingPeers, { kind: 'peers' });
  };

  try {
    await Promise.all(Array.from({ length: options.count }, (_, index) => start(index + 1)));
  } catch (err) {
    await stop();
    throw err;
  }
  if (options.http !== undefined) {
    logger.info({ threads: httpThreads + 1, port: options.http.port }, 'http: serving on threads sharing the port');
  }
  if (options.wire !== undefined) {
    logger.info(
      { threads: wireThreads + 1, port: options.wire.port },
      'peer wire: serving on threads sharing the port',
    );
  }
  return {
    name: 'serving threads',
    phase: 'serving',
    stop,
    published: () => askEach(workers, publishing, { kind: 'publish' }),
    peers: () => {
      if (performance.now() - peersAskedAt >= PEERS_FRESH_MS) void refreshPeers();
      return [...threadPeers.values()].flat();
    },
    refreshPeers,
    stats: () =>
      Array.from({ length: httpThreads }, (_, index) =>
        readStatsRow(stats.subarray((index + 1) * STAT_ROW, (index + 2) * STAT_ROW)),
      ),
    wireStats: () =>
      Array.from({ length: wireThreads }, (_, index) =>
        readWireStatsRow(wireStats.subarray((index + 1) * WIRE_STAT_ROW, (index + 2) * WIRE_STAT_ROW)),
      ),
  };
}

/** Counters of several peer wire servers as one: the agent's figures over its threads (and each one's share). */
export function sumWireStats(all: PeerWireStats[]): PeerWireStats {
  const total = {} as PeerWireStats;
  for (const name of WIRE_STAT_FIELDS) total[name] = 0;
  for (const stats of all) for (const name of WIRE_STAT_FIELDS) total[name] += stats[name];
  return {
    ...total,
    acceptedPerThread: all.map((stats) => stats.accepted),
    requestsPerThread: all.map((stats) => stats.requestsReceived),
  };
}

/** The agent's peer wire server with its threads' counters and peers added to its own. */
export function withWireThreads(
  server: PeerWireServer,
  threads: Pick<ServingThreadsPart, 'wireStats' | 'peers'>,
): PeerWireServer {
  return {
    listen: () => server.listen(),
    close: (graceMs) => server.close(graceMs),
    stats: () => sumWireStats([server.stats(), ...threads.wireStats()]),
    peers: () => [...server.peers(), ...threads.peers()],
    limits: server.limits,
    peerId: server.peerId,
  };
}

/** Counters of several servers as one: the agent's figures over its threads (and each one's requests). */
export function sumHttpStats(all: HttpServerStats[]): HttpServerStats {
  const total = emptyHttpStats();
  for (const stats of all) {
    for (const name of Object.keys(total) as Exclude<keyof HttpServerStats, 'requestsPerThread'>[]) {
      if (name === 'responses') {
        for (const klass of ['2xx', '3xx', '4xx', '5xx'] as const) total.responses[klass] += stats.responses[klass];
      } else {
        total[name] += stats[name];
      }
    }
  }
  return { ...total, requestsPerThread: all.map((stats) => stats.requests) };
}

/** The agent's HTTP server with its threads' counters added to its own. */
export function withThreads(server: HttpServer, threads: Pick<ServingThreadsPart, 'stats'>): HttpServer {
  return { ...server, stats: () => sumHttpStats([server.stats(), ...threads.stats()]) };
}
