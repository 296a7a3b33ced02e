// Benchmark server for scripts/bench/http.sh: puts FILE into a store under STORE_DIR (once; hashed with the
// hashing pool, default piece length), then serves it with the agent's HTTP server and a piece cache of
// CACHE_MIB. Prints `READY <port> <url path>` when listening; stops on SIGTERM/SIGINT.
// usage: node scripts/bench/http-serve.ts FILE STORE_DIR PORT CACHE_MIB [THREADS]
//   THREADS: HTTP server threads (0: the main thread only; N: N worker threads sharing the port).
import { link } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createHashPool } from '../../src/hashing/index.ts';
import { createHttpServer, objectUrls, startHttpWorkers } from '../../src/http/index.ts';
import { buildMetainfo, defaultPieceLength } from '../../src/metainfo/index.ts';
import { createPieceCache, openStore } from '../../src/store/index.ts';

const [file, storeDir, portText, cacheMibText, threadsText = '0'] = process.argv.slice(2);
if (file === undefined || storeDir === undefined || portText === undefined || cacheMibText === undefined) {
  console.error('usage: node scripts/bench/http-serve.ts FILE STORE_DIR PORT CACHE_MIB [THREADS]');
  process.exit(2);
}
const port = Number(portText);
const cacheBytes = Number(cacheMibText) * 1024 * 1024;
const threads = Number(threadsText);

const store = await openStore(storeDir, { mode: 'write' });
const pool = createHashPool();
const name = basename(file);
let object = store.list().find((candidate) => candidate.name === name);
if (object === undefined) {
  const { size } = await import('node:fs/promises').then((fs) => fs.stat(file));
  const pieceLength = defaultPieceLength(size);
  const staging = await store.createStaging();
  await link(file, join(staging, name)); // same filesystem: no copy
  const pieceHashes = await pool.hashFiles([{ path: join(staging, name), length: size }], pieceLength);
  const metainfo = buildMetainfo({
    name,
    pieceLength,
    multiFile: false,
    files: [{ path: [], length: size }],
    pieceHashes,
  });
  object = await store.adoptStaging(staging, metainfo);
}
const urlPath = new URL(objectUrls('http://x', object).files[0]!).pathname;

let close: () => Promise<void>;
if (threads === 0) {
  const cache = createPieceCache(store, {
    maxBytes: cacheBytes,
    verify: (data, expected) => pool.verify(data, expected),
  });
  const server = createHttpServer({ store, cache, host: '127.0.0.1', port, policy: 'refuse' });
  await server.listen();
  close = () => server.close(100);
} else {
  const workers = await startHttpWorkers({
    dataDir: storeDir,
    threads,
    cacheBytes,
    host: '127.0.0.1',
    port,
    policy: 'refuse',
  });
  close = () => workers.close(100);
}
console.log(`READY ${port} ${urlPath}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void close()
      .then(() => pool.close())
      .then(() => store.close())
      .finally(() => process.exit(0));
  });
}
