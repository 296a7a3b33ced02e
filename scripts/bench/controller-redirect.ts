// Issue 14: the controller's redirect decisions in this process, on one core. A MemoryFleetState and a
// FleetCatalog filled through the FleetState API (EDGES edges up with heartbeats, OBJECTS objects with their
// metainfo, each whole on REPLICAS edges), then edgeForwarder(catalog) (src/controller/forwarding.ts: the
// function the controller's HTTP server asks for every request whose bytes its edges hold) called in a loop
// with random objects and pieces, as three request shapes:
//   piece   one piece (GET /pieces/<ih>/<n>, or a range within one piece)
//   span    a range over 2-8 pieces
//   object  the whole object (GET /objects/<ih>/<name> without a range)
// Throughput: ROUNDS rounds of ROUND_MS ms of back-to-back calls (median). Latency: SAMPLES calls each timed
// with process.hrtime.bigint() (which adds ~0.05-0.1 us per call).
//
// usage: node scripts/bench/controller-redirect.ts
// env: EDGES=1000 OBJECTS=10000 REPLICAS=2 PIECES=64 ROUNDS=5 ROUND_MS=1000 SAMPLES=200000
// Output: '# ' lines for people and one line `RESULT {json}`.
import { randomBytes } from 'node:crypto';
import { edgeForwarder } from '../../src/controller/forwarding.ts';
import { FleetCatalog, MemoryFleetState } from '../../src/controller/index.ts';
import type { ForwardRequest } from '../../src/http/index.ts';
import { buildMetainfo, encodeTorrent } from '../../src/metainfo/index.ts';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const EDGES = env('EDGES', 1000);
const OBJECTS = env('OBJECTS', 10_000);
const REPLICAS = env('REPLICAS', 2);
const PIECES = env('PIECES', 64);
const ROUNDS = env('ROUNDS', 5);
const ROUND_MS = env('ROUND_MS', 1000);
const SAMPLES = env('SAMPLES', 200_000);
const PIECE_LENGTH = 256 * 1024;

let seed = 14;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}
const pick = (n: number) => Math.floor(random() * n);
const round = (value: number, digits = 1) => Number(value.toFixed(digits));
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const tFill = performance.now();
const fleet = await MemoryFleetState.open(null);
const catalog = new FleetCatalog(fleet, { warn: () => {}, info: () => {} });
await catalog.load();
const edgeIds: string[] = [];
for (let i = 0; i < EDGES; i += 1) {
  const id = `edge-${randomBytes(6).toString('hex')}`;
  edgeIds.push(id);
  await fleet.addEdge({
    id,
    name: `bench-edge-${i}`,
    keyHash: '00'.repeat(32),
    enrolledAt: Date.now(),
    draining: false,
  });
  await fleet.recordHeartbeat(id, {
    address: { httpBaseUrl: `http://edge${i}.cdn.example:8080`, peerPort: 6881 },
    capacityBytes: 4 * 2 ** 40,
    freeBytes: 2 * 2 ** 40,
    // Some load, so that the weighted rendezvous has weights to work with.
    connections: pick(300),
    uploadBytesPerSecond: 0,
    lastSeen: Date.now(),
  });
}
const infoHashes: string[] = [];
const holdings: Array<Array<{ infoHash: string; pieceCount: number; bitfield: Uint8Array }>> = edgeIds.map(() => []);
const full = Buffer.alloc(Math.ceil(PIECES / 8), 0xff);
if (PIECES % 8 !== 0) full[full.length - 1] = (0xff << (8 - (PIECES % 8))) & 0xff;
for (let j = 0; j < OBJECTS; j += 1) {
  const metainfo = buildMetainfo({
    name: `bench-object-${j}.bin`,
    pieceLength: PIECE_LENGTH,
    multiFile: false,
    files: [{ path: [], length: PIECES * PIECE_LENGTH }],
    pieceHashes: randomBytes(20 * PIECES),
  });
  const torrent = encodeTorrent(metainfo);
  if (!catalog.adoptMetainfo(metainfo.infoHash, torrent)) throw new Error('metainfo not adopted');
  await fleet.putMetainfo(metainfo.infoHash, torrent);
  infoHashes.push(metainfo.infoHash);
  for (let r = 0; r < REPLICAS; r += 1) {
    holdings[(j + Math.floor((r * EDGES) / REPLICAS)) % EDGES]!.push({
      infoHash: metainfo.infoHash,
      pieceCount: PIECES,
      bitfield: full,
    });
  }
}
for (let i = 0; i < EDGES; i += 1) {
  await fleet.replaceHoldings(edgeIds[i]!, { session: '0'.repeat(16), seq: 0 }, holdings[i]!);
}
const fillS = (performance.now() - tFill) / 1000;
const listed = catalog.list().length;
console.log(
  `# filled ${EDGES} edges and ${OBJECTS} objects (${PIECES} pieces, ${REPLICAS} replicas) through the FleetState API in ${round(fillS, 2)} s; catalog lists ${listed}`,
);
if (listed !== OBJECTS) throw new Error(`the catalog lists ${listed} objects, not ${OBJECTS}`);

const forward = edgeForwarder(catalog);
const REQUESTS = 1 << 16;
function requests(shape: 'piece' | 'span' | 'object'): ForwardRequest[] {
  return Array.from({ length: REQUESTS }, () => {
    const infoHash = infoHashes[pick(OBJECTS)]!;
    const object = catalog.get(infoHash)!;
    let firstPiece = 0;
    let lastPiece = PIECES - 1;
    if (shape === 'piece') {
      firstPiece = pick(PIECES);
      lastPiece = firstPiece;
    } else if (shape === 'span') {
      firstPiece = pick(PIECES - 8);
      lastPiece = firstPiece + 1 + pick(7);
    }
    const target = shape === 'piece' ? `/pieces/${infoHash}/${firstPiece}` : `/objects/${infoHash}/${object.name}`;
    return { object, target, firstPiece, lastPiece };
  });
}

const results: Record<string, unknown> = {
  edges: EDGES,
  objects: OBJECTS,
  replicas: REPLICAS,
  pieces: PIECES,
  fillS: round(fillS, 2),
};
for (const shape of ['piece', 'span', 'object'] as const) {
  const list = requests(shape);
  let misses = 0;
  // Warm-up: the JIT, and every request once.
  for (const request of list) if (forward(request) === null) misses += 1;
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      for (let i = 0; i < 4096; i += 1) {
        if (forward(list[(calls + i) & (REQUESTS - 1)]!) === null) misses += 1;
      }
      calls += 4096;
      elapsed = performance.now() - start;
    }
    rates.push((calls * 1000) / elapsed);
  }
  rates.sort((a, b) => a - b);
  const latencies = new Float64Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i += 1) {
    const request = list[i & (REQUESTS - 1)]!;
    const t0 = process.hrtime.bigint();
    const where = forward(request);
    latencies[i] = Number(process.hrtime.bigint() - t0) / 1000;
    if (where === null) misses += 1;
  }
  latencies.sort();
  const figures = {
    perSecond: Math.round(rates[Math.floor(rates.length / 2)]!),
    rounds: rates.map((rate) => Math.round(rate)),
    p50us: round(quantile(latencies, 0.5), 2),
    p99us: round(quantile(latencies, 0.99), 2),
    p999us: round(quantile(latencies, 0.999), 2),
    maxUs: round(quantile(latencies, 1), 1),
    misses,
  };
  results[shape] = figures;
  console.log(
    `# ${shape.padEnd(6)} ${figures.perSecond} decisions/s (rounds ${figures.rounds.join(' ')}); ` +
      `us p50 ${figures.p50us} p99 ${figures.p99us} p99.9 ${figures.p999us} max ${figures.maxUs}; no edge: ${misses}`,
  );
}
console.log(`RESULT ${JSON.stringify(results)}`);
