// Topology costs (issue 18): (1) address -> PID lookups (longest-prefix match) per address, IPv4 text,
// IPv4 compact (the tracker's form), IPv6 text, against a plain Map.get of the address text as the
// yardstick; (2) TrackerCore announces/s without and with network and cost maps, in one run, rounds
// alternating. In process, no sockets: what the maps add to the hot path, not the HTTP stack.
// usage: node scripts/bench/topology-lookup.ts   env: PREFIXES=10000 PIDS=50 SWARMS=1000 PEERS=100 ROUNDS=5
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Topology } from '../../src/topology/index.ts';
import { TrackerCore } from '../../src/tracker/index.ts';

const PREFIXES = Number(process.env['PREFIXES'] ?? 10_000);
const PID_COUNT = Number(process.env['PIDS'] ?? 50);
const SWARMS = Number(process.env['SWARMS'] ?? 1000);
const PEERS = Number(process.env['PEERS'] ?? 100);
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);

let seed = 1;
const random = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x80000000;
};

/** PREFIXES /24s in 10/8 and /48s in 2001:db8::/32 spread over PID_COUNT PIDs, and a cost map between them. */
function maps(): { network: string; cost: string } {
  const pids: Record<string, { ipv4: string[]; ipv6: string[] }> = {};
  for (let p = 0; p < PID_COUNT; p++) pids[`pid${p}`] = { ipv4: [], ipv6: [] };
  for (let i = 0; i < PREFIXES; i++) {
    const pid = pids[`pid${i % PID_COUNT}`]!;
    pid.ipv4.push(`10.${(i >> 8) & 255}.${i & 255}.0/24`);
    pid.ipv6.push(`2001:db8:${i.toString(16)}::/48`);
  }
  const cost: Record<string, Record<string, number>> = {};
  for (let a = 0; a < PID_COUNT; a++) {
    cost[`pid${a}`] = {};
    for (let b = 0; b < PID_COUNT; b++) cost[`pid${a}`]![`pid${b}`] = a === b ? 1 : 1 + Math.abs(a - b);
  }
  return {
    network: JSON.stringify({ meta: { vtag: { 'resource-id': 'bench', tag: '1' } }, 'network-map': pids }),
    cost: JSON.stringify({
      meta: { 'cost-type': { 'cost-mode': 'numerical', 'cost-metric': 'routingcost' } },
      'cost-map': cost,
    }),
  };
}

function nsPer(count: number, run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / count;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ep-topology-bench-'));
  const { network, cost } = maps();
  await writeFile(join(dir, 'net.json'), network);
  await writeFile(join(dir, 'cost.json'), cost);
  const loadStart = process.hrtime.bigint();
  const topology = await Topology.open({
    networkMap: join(dir, 'net.json'),
    costMap: join(dir, 'cost.json'),
    watchFiles: false,
  });
  const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;
  console.log(
    `# node ${process.version}; ${PREFIXES} IPv4 + ${PREFIXES} IPv6 prefixes in ${PID_COUNT} PIDs (map loaded in ${loadMs.toFixed(0)} ms); loadavg ${(await import('node:os')).loadavg()[0]!.toFixed(2)}`,
  );

  const count = 1_000_000;
  const v4 = Array.from(
    { length: 4096 },
    () => `10.${Math.floor(random() * 40)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`,
  );
  const v4Compact = v4.map((ip) => String.fromCharCode(...ip.split('.').map(Number), 0x1a, 0xe1));
  const v6 = Array.from(
    { length: 4096 },
    () => `2001:db8:${Math.floor(random() * PREFIXES).toString(16)}::${Math.floor(random() * 65535).toString(16)}`,
  );
  const yardstick = new Map(v4.map((ip) => [ip, 'pid']));
  let sink = 0;
  for (let warm = 0; warm < 2; warm++) {
    const rows = [
      [
        'Map.get(address text) (yardstick)',
        nsPer(count, () => {
          for (let i = 0; i < count; i++) sink += yardstick.get(v4[i & 4095]!)?.length ?? 0;
        }),
      ],
      [
        'IPv4 text -> PID',
        nsPer(count, () => {
          for (let i = 0; i < count; i++) sink += topology.pidOf(v4[i & 4095]!)?.length ?? 0;
        }),
      ],
      [
        'IPv4 compact -> PID, trie walk',
        nsPer(count, () => {
          for (let i = 0; i < count; i++) sink += topology.networkMap.pidOfCompact(v4Compact[i & 4095]!)?.length ?? 0;
        }),
      ],
      [
        'IPv4 compact -> PID, remembered (the tracker path)',
        nsPer(count, () => {
          for (let i = 0; i < count; i++) sink += topology.pidOfCompact(v4Compact[i & 4095]!)?.length ?? 0;
        }),
      ],
      [
        'IPv6 text -> PID',
        nsPer(count, () => {
          for (let i = 0; i < count; i++) sink += topology.pidOf(v6[i & 4095]!)?.length ?? 0;
        }),
      ],
    ] as const;
    if (warm === 1) {
      console.log('| lookup | ns per address | x yardstick |\n| --- | ---: | ---: |');
      for (const [name, ns] of rows) console.log(`| ${name} | ${ns.toFixed(0)} | ${(ns / rows[0][1]).toFixed(1)} |`);
    }
  }

  // Announces: SWARMS x PEERS peers from addresses across the map, then plain leecher announces (numwant 50).
  const hashes = Array.from(
    { length: SWARMS },
    (_, s) => `%ed${s.toString(16).padStart(38, '0').replace(/(..)/g, '%$1')}`,
  );
  const peerIps = Array.from({ length: PEERS }, (_, p) => `10.${p % 40}.${(p * 7) % 256}.${1 + (p % 250)}`);
  const query = (hash: string, p: number, numWant: number) =>
    `info_hash=${hash}&peer_id=-BN0001-${String(p).padStart(12, '0')}&port=${6881 + p}&uploaded=0&downloaded=0&left=${p % 5 === 0 ? 0 : 1000}&compact=1&numwant=${numWant}`;
  const cores = {
    'without maps': new TrackerCore({ maxPeersPerAddress: 1e7, maxPeersPerNetwork: 1e7, maxSwarms: SWARMS * 2 }),
    'with maps': new TrackerCore({ maxPeersPerAddress: 1e7, maxPeersPerNetwork: 1e7, maxSwarms: SWARMS * 2, topology }),
  };
  for (const core of Object.values(cores)) {
    for (const hash of hashes) for (let p = 0; p < PEERS; p++) await core.announce(query(hash, p, 0), peerIps[p]!);
    // A refused announce would measure nothing: check one answer lists peers.
    const answer = (await core.announce(query(hashes[0]!, 1, 50), peerIps[1]!)).toString('latin1');
    if (!answer.includes('5:peers300:'))
      throw new Error(`announces are not answered with 50 peers: ${answer.slice(0, 200)}`);
  }
  const rates: Record<string, number[]> = { 'without maps': [], 'with maps': [] };
  const perRound = 50_000;
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const [name, core] of Object.entries(cores)) {
      // CPU time, not wall time: the machine is shared, and a process waiting for a core is not slower.
      const cpu = process.cpuUsage();
      for (let i = 0; i < perRound; i++) {
        const p = i % PEERS;
        await core.announce(query(hashes[i % SWARMS]!, p, 50), peerIps[p]!);
      }
      const used = process.cpuUsage(cpu);
      const seconds = (used.user + used.system) / 1e6;
      if (round > 0) rates[name]!.push(perRound / seconds);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const base = median(rates['without maps']!);
  console.log(
    `\n| TrackerCore, ${SWARMS} swarms x ${PEERS} peers, numwant 50 | announces per CPU second (median of ${ROUNDS}) | x without maps |\n| --- | ---: | ---: |`,
  );
  for (const [name, values] of Object.entries(rates)) {
    console.log(`| ${name} | ${median(values).toFixed(0)} | ${(median(values) / base).toFixed(2)} |`);
  }
  const share = cores['with maps'].locality!.peersListed;
  console.log(
    `\n# with maps: peers listed within the asker's PID ${(share.withinShare * 100).toFixed(1)} % (sink ${sink > 0})`,
  );
  topology.close();
  await rm(dir, { recursive: true, force: true });
}

await main();
