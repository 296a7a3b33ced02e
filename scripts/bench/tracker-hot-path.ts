// CPU per announce of the tracker's own JavaScript, without sockets: TrackerCore.announce (query parsing,
// the in-memory swarm store, peer selection, the bencoded answer) over the same load as tracker.sh
// (SWARMS x PEERS peers, 20 seeds each, numwant 50, random swarm and peer). The least CPU per announce of
// ROUNDS rounds is reported: on a machine loaded by others it moves far less than a socket benchmark.
// With BASELINE=<dir> (a checkout with dist/ built), that build is measured too, rounds alternating: a
// before/after ratio from one run.
//
// usage: node scripts/bench/tracker-hot-path.ts
// env: SWARMS (1000), PEERS (100), ROUNDS (25), PER_ROUND (5000), BASELINE
import { TrackerCore } from '../../src/tracker/index.ts';

const SWARMS = Number(process.env['SWARMS'] ?? 1000);
const PEERS = Number(process.env['PEERS'] ?? 100);
const ROUNDS = Number(process.env['ROUNDS'] ?? 25);
const PER_ROUND = Number(process.env['PER_ROUND'] ?? 5000);
const BASELINE = process.env['BASELINE'];

interface Core {
  announce(query: string, remoteIp: string): Promise<Buffer>;
}
const OPTIONS = { maxSwarms: 100_000, maxPeersPerAddress: 1_000_000, maxPeersPerNetwork: 1_000_000 };

const hex = (byte: number): string => byte.toString(16).toUpperCase().padStart(2, '0');
const prefix = '%ED'.repeat(16);
/** The announce tracker-announce.lua sends for peer p of swarm s. */
function query(s: number, p: number): string {
  const hash = `${prefix}%${hex((s >>> 24) & 255)}%${hex((s >>> 16) & 255)}%${hex((s >>> 8) & 255)}%${hex(s & 255)}`;
  const peerId = `-WK0001-${String(s * PEERS + p).padStart(12, '0')}`;
  return `info_hash=${hash}&peer_id=${peerId}&port=${10000 + p}&uploaded=0&downloaded=0&left=${p < 20 ? 0 : 1000}&compact=1&numwant=50`;
}

async function filled(core: Core): Promise<Core> {
  for (let s = 0; s < SWARMS; s++) for (let p = 0; p < PEERS; p++) await core.announce(query(s, p), '127.0.0.1');
  return core;
}

const queries = Array.from({ length: PER_ROUND }, () =>
  query(Math.floor(Math.random() * SWARMS), Math.floor(Math.random() * PEERS)),
);
async function round(core: Core): Promise<number> {
  const start = process.cpuUsage();
  for (const text of queries) await core.announce(text, '127.0.0.1');
  const used = process.cpuUsage(start);
  return (used.user + used.system) / queries.length;
}

const cores: Array<[string, Core]> = [['edgepeer', await filled(new TrackerCore(OPTIONS))]];
if (BASELINE !== undefined) {
  const module = (await import(`${BASELINE}/dist/src/tracker/server/core.js`)) as {
    TrackerCore: new (options: typeof OPTIONS) => Core;
  };
  cores.push(['baseline', await filled(new module.TrackerCore(OPTIONS))]);
}
const best = new Map<string, number>();
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, core] of cores) best.set(name, Math.min(best.get(name) ?? Infinity, await round(core)));
}
console.log(`# ${SWARMS} swarms x ${PEERS} peers, ${ROUNDS} rounds of ${PER_ROUND} announces; least CPU per announce`);
for (const [name, us] of best) console.log(`${name}: ${us.toFixed(2)} us`);
if (BASELINE !== undefined) {
  console.log(`ratio edgepeer / baseline: ${(best.get('edgepeer')! / best.get('baseline')!).toFixed(2)}x`);
}
