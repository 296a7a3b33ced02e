// The HTTP server on several cores: worker threads, each with its own read-mode store and piece cache,
// listening on one port with SO_REUSEPORT so that the kernel spreads connections among them. Only the
// thread that owns the writable store writes: workers send it pulled pieces to store, and report pieces
// they find corrupt on disk so it takes them out of the store (a read-mode store cannot).
import { Worker } from 'node:worker_threads';
import { LocalIoError } from '../errors/index.ts';
import type { RemovalReason } from '../store/types.ts';
import {
  emptyHttpStats,
  type HttpLogger,
  type HttpServerOptions,
  type HttpServerStats,
  type PieceWriter,
} from './types.ts';

export interface HttpWorkersOptions extends Pick<HttpServerOptions, 'host' | 'port' | 'policy' | 'origin' | 'limits'> {
  /** The store's folder: each worker opens it read-only and follows what the writer commits. */
  dataDir: string;
  threads: number;
  /** Piece cache budget of each worker, in bytes. */
  cacheBytes: number;
  /** The writable store (this thread's), for pulled pieces and for corrupt pieces workers find. */
  writer?: {
    writePiece: PieceWriter;
    removePieces(infoHash: string, pieceIndexes: number[], reason: RemovalReason): Promise<void>;
  };
  logger?: HttpLogger;
}

export interface HttpWorkers {
  port: number;
  baseUrls: string[];
  threads: number;
  /** Sums of the workers' counters. */
  stats(): Promise<HttpServerStats>;
  close(graceMs?: number): Promise<void>;
}

/** What a worker gets at start (plain data). */
export interface HttpWorkerData {
  dataDir: string;
  cacheBytes: number;
  server: Pick<HttpServerOptions, 'host' | 'port' | 'policy' | 'origin' | 'limits'>;
  canWrite: boolean;
}

export type WorkerToMain =
  | { type: 'listening'; port: number; baseUrls: string[] }
  | { type: 'failed'; message: string }
  | { type: 'write'; id: number; infoHash: string; pieceIndex: number; data: Uint8Array }
  | { type: 'corrupt'; infoHash: string; pieceIndex: number }
  | { type: 'stats'; id: number; stats: HttpServerStats }
  | { type: 'warn'; message: string; details?: Record<string, unknown> }
  | { type: 'closed' };

export type MainToWorker =
  | { type: 'written'; id: number; error?: string }
  | { type: 'stats'; id: number }
  | { type: 'close'; graceMs: number };

/** The worker entry next to this module: .ts when running from sources, .js from dist/. */
function workerFileUrl(): URL {
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./worker${extension}`, import.meta.url);
}

/** Starts `threads` HTTP worker threads on one port; resolves once all listen. */
export async function startHttpWorkers(options: HttpWorkersOptions): Promise<HttpWorkers> {
  if (!Number.isSafeInteger(options.threads) || options.threads < 1) {
    throw new LocalIoError(`HTTP worker threads must be a positive integer, got ${options.threads}`);
  }
  if (options.policy === 'pull-through' && options.writer === undefined) {
    throw new LocalIoError('pull-through in HTTP workers needs the writable store (writer)');
  }
  const workers: Worker[] = [];
  const statsWaiters = new Map<number, (stats: HttpServerStats) => void>();
  const removals = new Map<string, Promise<void>>();
  let nextId = 0;
  let port = options.port;
  let baseUrls: string[] = [];
  try {
    // One after another: the first may pick the port (0), the others join it.
    for (let i = 0; i < options.threads; i += 1) {
      const worker = new Worker(workerFileUrl(), {
        workerData: {
          dataDir: options.dataDir,
          cacheBytes: options.cacheBytes,
          server: { host: options.host, port, policy: options.policy, origin: options.origin, limits: options.limits },
          canWrite: options.writer !== undefined,
        } satisfies HttpWorkerData,
      });
      workers.push(worker);
      worker.on('message', (message: WorkerToMain) => onMessage(worker, message));
      const listening = await new Promise<{ port: number; baseUrls: string[] }>((resolve, reject) => {
        const onMessageOnce = (message: WorkerToMain) => {
          if (message.type === 'listening') resolve(message);
          else if (message.type === 'failed') reject(new LocalIoError(`HTTP worker ${i}: ${message.message}`));
          else return;
          worker.off('message', onMessageOnce);
        };
        worker.on('message', onMessageOnce);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new LocalIoError(`HTTP worker ${i} exited (${code}) before listening`)));
      });
      port = listening.port;
      baseUrls = listening.baseUrls;
    }
  } catch (err) {
    await Promise.all(workers.map((worker) => worker.terminate()));
    throw err;
  }

  function onMessage(worker: Worker, message: WorkerToMain): void {
    switch (message.type) {
      case 'write': {
        const reply = (error?: string) =>
          worker.postMessage({
            type: 'written',
            id: message.id,
            ...(error === undefined ? {} : { error }),
          } satisfies MainToWorker);
        // A piece reported corrupt is replaced only once its removal is done (writePiece skips held pieces).
        const removal = removals.get(`${message.infoHash}:${message.pieceIndex}`) ?? Promise.resolve();
        removal
          .then(() => options.writer!.writePiece(message.infoHash, message.pieceIndex, message.data))
          .then(
            () => reply(),
            (err: unknown) => reply(err instanceof Error ? err.message : String(err)),
          );
        break;
      }
      case 'corrupt': {
        const key = `${message.infoHash}:${message.pieceIndex}`;
        if (options.writer === undefined || removals.has(key)) break;
        const removal = options.writer
          .removePieces(message.infoHash, [message.pieceIndex], 'corrupt')
          .catch((err: unknown) => {
            options.logger?.warn('could not remove a corrupt piece a worker found', {
              infoHash: message.infoHash,
              pieceIndex: message.pieceIndex,
              error: err instanceof Error ? err.message : String(err),
            });
          })
          .finally(() => removals.delete(key));
        removals.set(key, removal);
        break;
      }
      case 'stats':
        statsWaiters.get(message.id)?.(message.stats);
        statsWaiters.delete(message.id);
        break;
      case 'warn':
        options.logger?.warn(message.message, message.details);
        break;
      default:
        break;
    }
  }

  return {
    port,
    baseUrls,
    threads: workers.length,
    async stats() {
      const all = await Promise.all(
        workers.map(
          (worker) =>
            new Promise<HttpServerStats>((resolve) => {
              const id = nextId++;
              statsWaiters.set(id, resolve);
              worker.postMessage({ type: 'stats', id } satisfies MainToWorker);
            }),
        ),
      );
      return sumStats(all);
    },
    async close(graceMs = 5000) {
      await Promise.all(
        workers.map(async (worker) => {
          const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
          worker.postMessage({ type: 'close', graceMs } satisfies MainToWorker);
          // A worker that does not finish closing in time is stopped.
          const deadline = setTimeout(() => void worker.terminate(), graceMs + 5000);
          await exited;
          clearTimeout(deadline);
        }),
      );
    },
  };
}

function sumStats(all: HttpServerStats[]): HttpServerStats {
  const total = emptyHttpStats();
  for (const stats of all) {
    for (const key of Object.keys(total) as (keyof HttpServerStats)[]) {
      if (key === 'responses') {
        for (const status of Object.keys(total.responses) as (keyof HttpServerStats['responses'])[]) {
          total.responses[status] += stats.responses[status];
        }
      } else {
        total[key] += stats[key];
      }
    }
  }
  return total;
}
