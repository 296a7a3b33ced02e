// Entry of an HTTP worker thread (started by workers.ts): a read-mode store, its own piece cache, and an
// HTTP server sharing the port with the other workers (SO_REUSEPORT).
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { createPieceCache, openStore } from '../store/index.ts';
import { createHttpServer } from './server.ts';
import type { HttpWorkerData, MainToWorker, WorkerToMain } from './workers.ts';

const data = workerData as HttpWorkerData;
const port = parentPort!;
const post = (message: WorkerToMain) => port.postMessage(message);

// Each worker is a thread of its own: hashing in place costs no trip to another thread.
const verify = async (bytes: Uint8Array, expected: Uint8Array) =>
  createHash('sha1').update(bytes).digest().equals(expected);

const pendingWrites = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
let nextWriteId = 0;

function writePiece(infoHash: string, pieceIndex: number, bytes: Uint8Array): Promise<void> {
  const id = nextWriteId++;
  return new Promise((resolve, reject) => {
    pendingWrites.set(id, { resolve, reject });
    // Copied across (structured clone): these bytes are also being served from this thread.
    post({ type: 'write', id, infoHash, pieceIndex, data: bytes });
  });
}

try {
  const store = await openStore(data.dataDir, { mode: 'read' });
  const cache = createPieceCache(store, { maxBytes: data.cacheBytes, verify });
  const server = createHttpServer({
    ...data.server,
    port: data.server.port,
    store,
    cache,
    verify,
    reusePort: true,
    // A read-mode store follows the writer by reading its journal; looking it up once per request per
    // object would cost syscalls on every request.
    limits: { lookupCacheMs: 100, ...data.server.limits },
    ...(data.canWrite ? { writePiece } : {}),
    onCorruptPiece: (infoHash, pieceIndex) => post({ type: 'corrupt', infoHash, pieceIndex }),
    logger: {
      warn: (message, details) => post({ type: 'warn', message, ...(details === undefined ? {} : { details }) }),
    },
  });
  const { port: listeningPort, baseUrls } = await server.listen();
  port.on('message', (message: MainToWorker) => {
    switch (message.type) {
      case 'written': {
        const pending = pendingWrites.get(message.id);
        pendingWrites.delete(message.id);
        if (message.error === undefined) pending?.resolve();
        else pending?.reject(new Error(message.error));
        break;
      }
      case 'stats':
        post({ type: 'stats', id: message.id, stats: server.stats() });
        break;
      case 'close':
        void server
          .close(message.graceMs)
          .then(() => store.close())
          .finally(() => {
            post({ type: 'closed' });
            port.close();
          });
        break;
    }
  });
  post({ type: 'listening', port: listeningPort, baseUrls });
} catch (err) {
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  port.close();
}
