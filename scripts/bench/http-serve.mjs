// Benchmark server for scripts/bench/http.sh, as built (dist/): puts FILE into a store under STORE_DIR (once;
// hashed with the hashing pool, default piece length), then serves it with the agent's HTTP server on the
// main thread, over the store and one piece cache of CACHE_MIB (the agent's own setup: the cache it shares
// with the wire server). Prints `READY <port> <url path>` when listening; stops on SIGTERM/SIGINT.
// usage: node scripts/bench/http-serve.mjs FILE STORE_DIR PORT CACHE_MIB
//   env: DIRECT_READ_MAX (bytes): limits.directReadMaxBytes, the longest range read straight from disk.
//        ACCESS_LOG (path): write an access log there (off by default, as in the agent).
//        TOKEN_KEY (path): require signed URL tokens (src/auth) with this key; the URL path printed carries
//        one token valid for an hour, the same on every request (as a web seed reuses its URL).
//        ACCOUNTING_DIR (path): write accounting records there (src/accounting), one per response.
//        THREADS (n, default 1): serve on n threads sharing the port and one piece slab (http.threads), as the
//        agent does; SLAB=1 with one thread uses the shared slab too (its cost without a second thread).
import { link, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TransferTally } from '../../dist/src/agent/transfer-tally.js';
import { createHashPool } from '../../dist/src/hashing/index.js';
import { createHttpServer, objectUrls } from '../../dist/src/http/index.js';
import { buildMetainfo, defaultPieceLength } from '../../dist/src/metainfo/index.js';
import { Qos, resolveQos } from '../../dist/src/qos/index.js';
import { createPieceCache, createPieceSlab, createSharedPieceCache, openStore } from '../../dist/src/store/index.js';

const [file, storeDir, portText, cacheMibText] = process.argv.slice(2);
if (file === undefined || storeDir === undefined || portText === undefined || cacheMibText === undefined) {
  console.error('usage: node scripts/bench/http-serve.mjs FILE STORE_DIR PORT CACHE_MIB');
  process.exit(2);
}
const port = Number(portText);
const cacheBytes = Number(cacheMibText) * 1024 * 1024;

const store = await openStore(storeDir, { mode: 'write' });
const pool = createHashPool();
const name = basename(file);
let object = store.list().find((candidate) => candidate.name === name);
if (object === undefined) {
  const { size } = await stat(file);
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
let urlPath = new URL(objectUrls('http://x', object).files[0]).pathname;
let gate;
if (process.env.TOKEN_KEY) {
  // Only with tokens: the auth module is not loaded otherwise, as in the agent.
  const { KeyRing, UrlGate, signToken } = await import('../../dist/src/auth/index.js');
  const keys = await KeyRing.load([{ id: 'bench', file: process.env.TOKEN_KEY }]);
  gate = new UrlGate({ keys });
  const token = signToken(
    { expires: Math.floor(Date.now() / 1000) + 3600, paths: [urlPath], keyId: 'bench' },
    keys.get('bench'),
  );
  urlPath = `${urlPath}?__token__=${token}`;
}

const threads = Number(process.env.THREADS ?? 1);
const cacheOptions = {
  verify: (data, expected) => pool.verify(data, expected),
  // VERIFY=first-read runs the former, trusting default, to compare with the checked one in the same run.
  verifyPolicy: process.env.VERIFY ?? 'checksum',
};
// As the agent: slots the size of the largest piece held.
const slab =
  threads > 1 || process.env.SLAB === '1'
    ? createPieceSlab({ maxBytes: cacheBytes, slotBytes: object.pieceLength })
    : null;
const cache =
  slab === null
    ? createPieceCache(store, { maxBytes: cacheBytes, ...cacheOptions })
    : createSharedPieceCache(store, { slab, ...cacheOptions });
const limits =
  process.env.DIRECT_READ_MAX === undefined ? {} : { directReadMaxBytes: Number(process.env.DIRECT_READ_MAX) };
// As in the agent: bytes sent are tallied per object for the announces' `uploaded`; CORS fields on.
const transfers = new TransferTally();
// QOS='{"rate":...}': egress limits (src/qos settings), for the configured-but-not-binding comparison.
const qos = process.env.QOS ? new Qos(resolveQos(JSON.parse(process.env.QOS))) : undefined;
let accounting;
if (process.env.ACCOUNTING_DIR) {
  const { AccountingLog, AccountingRecorder } = await import('../../dist/src/accounting/index.js');
  accounting = new AccountingRecorder(await AccountingLog.open({ dir: process.env.ACCOUNTING_DIR, agent: 'bench' }));
}
const server = createHttpServer({
  store,
  cache,
  host: '127.0.0.1',
  port,
  policy: 'refuse',
  limits,
  onSent: (infoHash, bytes) => transfers.uploaded(infoHash, bytes),
  corsOrigin: '*', // the agent's default
  ...(threads > 1 ? { reusePort: true } : {}),
  ...(qos ? { qos } : {}),
  ...(process.env.ACCESS_LOG ? { accessLog: process.env.ACCESS_LOG } : {}),
  ...(gate === undefined ? {} : { gate }),
  ...(accounting === undefined ? {} : { onResponse: (entry) => accounting.httpResponse(entry) }),
});
await server.listen();
let servingThreads;
if (threads > 1) {
  const { startServingThreads } = await import('../../dist/src/parts/index.js');
  servingThreads = await startServingThreads(
    {
      count: threads - 1,
      dataDir: storeDir,
      store,
      slab,
      verifyPolicy: cacheOptions.verifyPolicy,
      verify: cacheOptions.verify,
      onSent: (infoHash, bytes) => transfers.uploaded(infoHash, bytes),
      http: { port, host: '127.0.0.1', policy: 'refuse', limits, corsOrigin: '*' },
      logger: { debug() {}, info() {}, warn: console.error, error: console.error },
    },
    100,
  );
}
console.log(`READY ${port} ${urlPath}`);
// SIGUSR2: the requests each thread answered, on stdout (the benchmark checks that every thread served).
process.on('SIGUSR2', () => {
  void (servingThreads?.published() ?? Promise.resolve()).then(() => {
    const counts = [server.stats().requests, ...(servingThreads?.stats() ?? []).map((stats) => stats.requests)];
    const { hits, misses, bytes, directReads } = cache.stats();
    console.log(`THREADS ${counts.join(' ')}`);
    console.log(`CACHE hits=${hits} misses=${misses} bytes=${bytes} directReads=${directReads}`);
  });
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    void (servingThreads?.stop() ?? Promise.resolve())
      .then(() => server.close(100))
      .then(() => pool.close())
      .then(() => store.close())
      .finally(() => process.exit(0));
  });
}
