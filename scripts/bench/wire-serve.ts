// Serves one file over edgepeer's peer wire server for scripts/bench/wire.sh: opens a store in WORKDIR,
// hashes FILE with the hashing pool, adopts it into the store through staging (a hard link, so no copy),
// writes WORKDIR/object.torrent and serves it with the piece cache verifying through the pool, as the
// agent does.
//
// usage: node scripts/bench/wire-serve.ts FILE WORKDIR [--cache-mib N] [--warm] [--verify checksum|once|always]
//                                         [--piece-kib N] [--limits JSON] [--qos JSON] [--accounting DIR]
//   --warm   read every piece through the cache before READY (verifying it), as libtorrent checks before
//            seeding; with a cache at least as big as FILE, serving is then from memory
//   --verify checksum (default, as the agent runs): SHA-1 on a piece's first read from disk since start,
//            block checksums on every later read (verifyPolicy 'checksum'); once: SHA-1 on the first read,
//            later reads trusted (verifyPolicy 'first-read', the former default); always: SHA-1 on every
//            read from disk (verifyPolicy 'every-read')
// prints 'READY port=<port> torrent=<path> prepare_s=<s>'; SIGUSR2 prints a JSON line of stats; SIGTERM stops.
import { copyFile, link, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AccountingLog, AccountingRecorder } from '../../src/accounting/index.ts';
import { createHashPool } from '../../src/hashing/index.ts';
import { buildMetainfo, encodeTorrent } from '../../src/metainfo/index.ts';
import { Qos, resolveQos } from '../../src/qos/index.ts';
import { createPieceCache, openStore } from '../../src/store/index.ts';
import { createPeerWireServer } from '../../src/wire/index.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'cache-mib': { type: 'string', default: '256' },
    'piece-kib': { type: 'string', default: '1024' },
    warm: { type: 'boolean', default: false },
    verify: { type: 'string', default: 'checksum' },
    limits: { type: 'string', default: '{}' },
    qos: { type: 'string' },
    accounting: { type: 'string' },
  },
});
const [file, workdir] = positionals;
if (file === undefined || workdir === undefined) {
  console.error('usage: node scripts/bench/wire-serve.ts FILE WORKDIR [--cache-mib N] [--warm] [--limits JSON]');
  process.exit(2);
}

const started = performance.now();
const source = resolve(file);
const { size } = await stat(source);
const pieceLength = Number(values['piece-kib']) * 1024;
const store = await openStore(join(workdir, 'store'), { mode: 'write' });
const pool = createHashPool();
const pieceHashes = await pool.hashFiles([{ path: source, length: size }], pieceLength);
const metainfo = buildMetainfo({
  name: basename(source),
  pieceLength,
  multiFile: false,
  files: [{ path: [], length: size }],
  pieceHashes,
});
const staging = await store.createStaging();
await link(source, join(staging, metainfo.name)).catch(() => copyFile(source, join(staging, metainfo.name)));
await store.adoptStaging(staging, metainfo);
const cache = createPieceCache(store, {
  maxBytes: Number(values['cache-mib']) * 1024 * 1024,
  verify: (data, expected) => pool.verify(data, expected),
  verifyPolicy: ({ always: 'every-read', once: 'first-read', checksum: 'checksum' } as const)[values.verify as 'once'],
});
if (values.warm) {
  for (let i = 0; i < metainfo.pieceCount; i++) await cache.getPiece(metainfo.infoHash, i);
}
const torrent = join(workdir, 'object.torrent');
await writeFile(torrent, encodeTorrent(metainfo));
// --qos JSON: egress limits (src/qos settings, e.g. {"rate":1e11}), configured but, at such rates, not binding.
const qos = values.qos === undefined ? undefined : new Qos(resolveQos(JSON.parse(values.qos)));
// --accounting DIR: a record per peer-wire session and interim records every second, as the agent writes them
// (its default interim is a minute: a second here puts more of them in a run).
const accountingLog =
  values.accounting === undefined ? undefined : await AccountingLog.open({ dir: values.accounting, agent: 'bench' });
const recorder = accountingLog === undefined ? undefined : new AccountingRecorder(accountingLog);
const server = createPeerWireServer({
  store,
  cache,
  port: 0,
  limits: JSON.parse(values.limits),
  ...(qos ? { qos } : {}),
  ...(recorder ? { onSessionEnd: (peer) => recorder.sessionEnded(peer) } : {}),
});
if (recorder) setInterval(() => recorder.interim(server.peers()), 1000).unref();
const { port } = await server.listen();
console.log(`READY port=${port} torrent=${torrent} prepare_s=${((performance.now() - started) / 1000).toFixed(2)}`);

process.on('SIGUSR2', () => {
  console.log(JSON.stringify({ ...server.stats(), cache: cache.stats(), rss: process.memoryUsage().rss }));
});
process.on('SIGTERM', async () => {
  await server.close(0);
  qos?.stop();
  await accountingLog?.close();
  await store.close();
  await pool.close();
  process.exit(0);
});
