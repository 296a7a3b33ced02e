// Egress limit accuracy (src/qos): the agent's HTTP server (real piece cache over the memory store) with a
// global limit, CLIENTS curl processes each downloading the object over and over on keep-alive, for SECONDS
// per limit. The achieved rate is the bytes the limiter let go (what the server handed to its sockets)
// over the window after a second of ramp-up; the first row, with no limit, shows what the machine can do
// at all (a limit above it cannot bind).
//
// usage: node scripts/bench/qos-accuracy.ts [--seconds 5] [--clients 4] [--mib 128] [--rates 10MB,100MB,1GB]
//   (or npm run bench -- qos via scripts/bench/qos.sh)
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createHttpServer } from '../../src/http/index.ts';
import { buildMetainfo } from '../../src/metainfo/index.ts';
import { Qos, resolveQos } from '../../src/qos/index.ts';
import { createPieceCache, MemoryStore } from '../../src/store/index.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '4' },
    mib: { type: 'string', default: '128' },
    rates: { type: 'string', default: '10MB,100MB,1GB' },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const length = Number(values.mib) * 1024 * 1024;
const pieceLength = 1024 * 1024;

const content = randomBytes(length);
const hashes: Buffer[] = [];
for (let at = 0; at < length; at += pieceLength) {
  hashes.push(
    createHash('sha1')
      .update(content.subarray(at, at + pieceLength))
      .digest(),
  );
}
const metainfo = buildMetainfo({
  name: 'accuracy.bin',
  pieceLength,
  multiFile: false,
  files: [{ path: [], length }],
  pieceHashes: Buffer.concat(hashes),
});
const store = new MemoryStore();
await store.addObject(metainfo);
for (let i = 0; i < metainfo.pieceCount; i++) {
  await store.writePiece(metainfo.infoHash, i, content.subarray(i * pieceLength, (i + 1) * pieceLength));
}
const cache = createPieceCache(store, {
  maxBytes: length + 64 * 1024 * 1024,
  verify: async (data, expected) => createHash('sha1').update(data).digest().equals(expected),
});
const qos = new Qos(resolveQos({}));
const server = createHttpServer({ store, cache, port: 0, host: '127.0.0.1', policy: 'refuse', qos });
const { baseUrls } = await server.listen();
const url = `${baseUrls[0]}/objects/${metainfo.infoHash}/accuracy.bin`;

const elapsed = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes handed to sockets for this window, as the server counts them. */
async function measure(rate: number): Promise<number> {
  qos.update({ rate });
  const children: ChildProcess[] = [];
  for (let i = 0; i < clients; i++) {
    // One process fetches the URL many times over one keep-alive connection.
    children.push(
      spawn(
        'curl',
        [
          '-s',
          ...Array(1000)
            .fill(url)
            .flatMap((u) => ['-o', '/dev/null', u]),
        ],
        { stdio: 'ignore' },
      ),
    );
  }
  await elapsed(1000);
  const before = server.stats().bytesSent;
  const started = performance.now();
  await elapsed(seconds * 1000);
  const sent = server.stats().bytesSent - before;
  const took = (performance.now() - started) / 1000;
  for (const child of children) child.kill();
  await elapsed(300);
  return sent / took;
}

const parseRate = (text: string) => resolveQos({ rate: text }).rate;
console.log(
  `# ${values.mib} MiB object, ${clients} curl clients, ${seconds} s per limit after 1 s ramp-up; loadavg ${(await import('node:os')).loadavg()[0]!.toFixed(2)}`,
);
console.log('limit_B/s      achieved_B/s   achieved/limit');
const capacity = await measure(0);
console.log(`${'none'.padEnd(14)} ${capacity.toFixed(0).padEnd(14)} -`);
for (const text of values.rates.split(',')) {
  const limit = parseRate(text.trim());
  const achieved = await measure(limit);
  console.log(
    `${String(limit).padEnd(14)} ${achieved.toFixed(0).padEnd(14)} ${(achieved / limit).toFixed(4)}${limit > capacity ? ' (limit above what the machine did unlimited)' : ''}`,
  );
}
qos.stop();
await server.close(100);
process.exit(0);
