// Memory of the reference tracker's in-memory swarm state: bytes per peer over the baseline (V8 heap plus
// ArrayBuffers, where typed arrays keep their bytes), with the
// GC settled (several full collections), not V8's high-water mark. Fills SWARMS x PEERS peers (20 % seeds)
// from distinct addresses (so the per-address and per-network quota maps hold one entry per peer, as with
// real clients), announces every peer ROUNDS more times (updates, and the announces' answers), stops and
// re-adds CHURN_PCT % of them (the free lists), then measures.
//
// usage: node --expose-gc scripts/bench/tracker-memory.ts
// env: SWARMS (1000), PEERS (100), ROUNDS (2), CHURN_PCT (10)
import { MemorySwarmStore, type PeerAnnounce, swarmStoreLimits } from '../../src/tracker/index.ts';

const SWARMS = Number(process.env['SWARMS'] ?? 1000);
const PEERS = Number(process.env['PEERS'] ?? 100);
const ROUNDS = Number(process.env['ROUNDS'] ?? 2);
const CHURN_PCT = Number(process.env['CHURN_PCT'] ?? 10);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}

/** Heap used plus ArrayBuffer memory (typed arrays' bytes live outside the heap), after full collections. */
function settle(): number {
  for (let i = 0; i < 6; i++) gc!();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const infoHashes = Array.from(
  { length: SWARMS },
  (_, s) => `edededededededededededededededed${s.toString(16).padStart(8, '0')}`,
);

function announceOf(swarm: number, peer: number, now: number, event?: PeerAnnounce['event']): PeerAnnounce {
  const n = swarm * PEERS + peer;
  const peerId = Buffer.alloc(20);
  peerId.write('-EP0001-', 'latin1');
  peerId.writeUInt32BE(n, 16);
  return {
    infoHash: infoHashes[swarm]!,
    peerId,
    ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
    family: 4,
    port: 6881 + (n % 1000),
    uploaded: 0,
    downloaded: 0,
    left: peer < PEERS / 5 ? 0 : 1_000_000,
    event,
    numWant: 50,
    now,
  };
}

const limits = swarmStoreLimits({ maxPeers: 10_000_000, maxSwarms: 1_000_000 });
const baseline = settle();
const store = new MemorySwarmStore(limits);
let now = Date.now();
const started = performance.now();
let announces = 0;
for (let peer = 0; peer < PEERS; peer++) {
  for (let swarm = 0; swarm < SWARMS; swarm++) {
    store.announceNow(announceOf(swarm, peer, now, 'started'));
    announces++;
  }
}
for (let round = 0; round < ROUNDS; round++) {
  now += 1000;
  for (let swarm = 0; swarm < SWARMS; swarm++) {
    for (let peer = 0; peer < PEERS; peer++) {
      store.announceNow(announceOf(swarm, peer, now));
      announces++;
    }
  }
}
const churned = Math.floor((PEERS * CHURN_PCT) / 100);
for (const event of ['stopped', 'started'] as const) {
  for (let swarm = 0; swarm < SWARMS; swarm++) {
    for (let peer = PEERS - churned; peer < PEERS; peer++) {
      store.announceNow(announceOf(swarm, peer, now, event));
      announces++;
    }
  }
}
const seconds = (performance.now() - started) / 1000;
const loaded = settle();
const counts = await store.counts();
const bytesPerPeer = (loaded - baseline) / counts.peers;
process.stdout.write(
  `${JSON.stringify({
    swarms: counts.swarms,
    peers: counts.peers,
    announces,
    announcesPerSecondInProcess: Math.round(announces / seconds),
    heapAndArrayBuffersBaselineMiB: +(baseline / 2 ** 20).toFixed(1),
    heapAndArrayBuffersLoadedMiB: +(loaded / 2 ** 20).toFixed(1),
    overBaselineMiB: +((loaded - baseline) / 2 ** 20).toFixed(1),
    bytesPerPeer: Math.round(bytesPerPeer),
    heapUsedMiB: +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1),
    arrayBuffersMiB: +(process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(1),
    rssMiB: +(process.memoryUsage().rss / 2 ** 20).toFixed(1),
  })}\n`,
);
// Keep the store alive until after the measurement.
if (counts.peers < 0) process.stdout.write(String(store));
