// Compares a real run of scripts/bench/policy-real.ts (TRACE_DIR=DIR) with the simulator, leecher by leecher
// and phase by phase: the libtorrent traces (test/interop/tracker_lt.py --trace) give, from the leecher's
// spawn, its first tracker reply, the edge's first unchoke, the first piece, half the pieces and the last;
// the simulator runs the run's scenario (saved beside the traces) and reports the same phases.
// usage: node scripts/bench/policy-trace.ts DIR [RUN]   (RUN: 0 by default, the first TOP_UP_KIB entry)
//   env REFIT=1: the simulator as policy-real.ts sets it up now (block requests, every loopback peer
//   unchoked, the agent's choker and top-up meter, the start fitted on the fastest leecher), for runs saved
//   before those changes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LIBTORRENT_REQUESTS, type Scenario, type SimPeerRecord, simulate } from '../../src/policy/index.ts';
import { fitStart } from './policy-fit.ts';

interface TracePeer {
  peer: string;
  choked_us: boolean;
  got: number;
  we_choke: boolean;
  down: number;
  queue: number;
  interesting: boolean;
}

interface TraceRecord {
  t: number;
  ev: string;
  piece?: number;
  got?: number;
  pieces?: number;
  rate?: number;
  peers?: TracePeer[];
}

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: node scripts/bench/policy-trace.ts DIR [RUN]');
const run = Number(process.argv[3] ?? 0);
const meta = JSON.parse(readFileSync(join(dir, `r${run}-meta.json`), 'utf8')) as {
  spawnedAt: number[];
  times: number[];
  startS: number;
  load: number[];
  scenario: Scenario;
};

interface Phases {
  tracker: number;
  edgeSlot: number | null;
  first: number;
  half: number;
  done: number;
  /** Most peers (not the edge) unchoking it at once, and most peers it unchoked at once. */
  unchokedBy: number;
  unchoking: number;
}

function realPhases(i: number): Phases {
  const spawn = meta.spawnedAt[i]! / 1000;
  const records = readFileSync(join(dir!, `r${run}-l${i}.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as TraceRecord);
  const at = (test: (r: TraceRecord) => boolean) => {
    const found = records.find(test);
    return found === undefined ? null : found.t - spawn;
  };
  const pieces = records.filter((r) => r.ev === 'piece').map((r) => r.t - spawn);
  const samples = records.filter((r) => r.ev === 'sample');
  const max = (count: (r: TraceRecord) => number) => Math.max(0, ...samples.map(count));
  return {
    tracker: at((r) => r.ev === 'tracker_reply') ?? Number.NaN,
    edgeSlot: at((r) => r.ev === 'sample' && r.peers!.some((p) => p.peer === 'agent' && !p.choked_us)),
    first: pieces[0]!,
    half: pieces[Math.ceil(pieces.length / 2) - 1]!,
    done: meta.times[i]!,
    unchokedBy: max((r) => r.peers!.filter((p) => p.peer !== 'agent' && !p.choked_us).length),
    unchoking: max((r) => r.peers!.filter((p) => p.peer !== 'agent' && !p.we_choke).length),
  };
}

/**
 * The request mechanism's inputs as the traces show them (Scenario.requests): blocks each unchoking peer
 * holds requested, and the agent's rate while it has at most one block requested (end-game: every missing
 * block is requested from a peer) against while it has more.
 */
function requestMeasures(): string {
  const queues: number[] = [];
  const endgame: number[] = [];
  const free: number[] = [];
  meta.times.forEach((_, i) => {
    for (const line of readFileSync(join(dir!, `r${run}-l${i}.jsonl`), 'utf8')
      .trim()
      .split('\n')) {
      const r = JSON.parse(line) as TraceRecord;
      if (r.ev !== 'sample' || r.pieces! >= meta.scenario.piecesPerObject) continue;
      for (const p of r.peers!) if (p.peer !== 'agent' && !p.choked_us && p.interesting) queues.push(p.queue);
      const agent = r.peers!.find((p) => p.peer === 'agent' && !p.choked_us);
      if (agent !== undefined) (agent.queue <= 1 ? endgame : free).push(agent.down);
    }
  });
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;
  const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length / 1024;
  return `requests measured: an unchoking peer holds a median of ${median(queues)} blocks requested (${queues.length} samples); the agent sends ${avg(endgame).toFixed(0)} KiB/s with <= 1 block requested (${endgame.length} samples), ${avg(free).toFixed(0)} KiB/s with more (${free.length})`;
}

/**
 * What the agent's top-up meter sees (src/wire/top-up.ts): over each leecher's first and second half, while
 * the agent unchokes it and after the first seed (the swarm paced), the leecher's HAVE bytes over the last
 * 2 s against its download rate, and how often the agent's rule (HAVE bytes in 2 s + a block over 2 s of the
 * top-up rate: the edge pauses) holds.
 */
function topUpMeasures(topUp: number): string {
  const P = meta.scenario.piecesPerObject;
  const pieceBytes = meta.scenario.pieceBytes;
  const firstSeed = Math.min(...meta.times.map((t, i) => meta.spawnedAt[i]! / 1000 + t));
  const halves = [0, 1].map(() => ({ n: 0, paused: 0, haves: 0, rate: 0 }));
  meta.times.forEach((_, i) => {
    const records = readFileSync(join(dir!, `r${run}-l${i}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as TraceRecord);
    const pieces = records.filter((r) => r.ev === 'piece').map((r) => r.t);
    for (const r of records) {
      if (r.ev !== 'sample' || r.pieces! >= P || r.t < firstSeed) continue;
      if (!r.peers!.some((p) => p.peer === 'agent' && !p.choked_us)) continue;
      const haves = pieces.filter((t) => t > r.t - 2 && t <= r.t).length * pieceBytes;
      const half = halves[r.pieces! < P / 2 ? 0 : 1]!;
      half.n++;
      half.haves += haves / 2;
      half.rate += r.rate!;
      if (haves + 16 * 1024 > 2 * (topUp || 230 * 1024)) half.paused++;
    }
  });
  const text = halves.map(
    (h, k) =>
      `${k === 0 ? 'first' : 'second'} half: HAVEs ${(h.haves / h.n / 1024).toFixed(0)} KiB/s against a download rate of ${(h.rate / h.n / 1024).toFixed(0)}, the rule pauses in ${((100 * h.paused) / h.n).toFixed(0)} % of ${h.n} samples`,
  );
  return `top-up meter (${topUp === 0 ? 'off: as if 230 KiB/s' : `${topUp / 1024} KiB/s`}), while the agent unchokes, after the first seed: ${text.join('; ')}`;
}

if (process.env.REFIT === '1') {
  meta.scenario = {
    ...meta.scenario,
    peerUploadSlots: meta.times.length,
    requests: LIBTORRENT_REQUESTS,
    cdnRechokeS: 10,
    topUpMeter: 'haves',
  };
  meta.scenario.peerStartS = fitStart(meta.scenario, Math.min(...meta.times));
}
const simRecords: SimPeerRecord[] = [];
const sim = simulate(meta.scenario, 'function', { peerDone: (record) => simRecords.push(record) });
simRecords.sort((a, b) => a.id - b.id);
const simPhases = (record: SimPeerRecord): Phases => ({
  tracker: Number.NaN,
  edgeSlot: record.edgeSlotAt === null ? null : record.edgeSlotAt - record.arrivedAt,
  first: record.firstPieceAt! - record.arrivedAt,
  half: record.halfAt! - record.arrivedAt,
  done: record.doneAt - record.arrivedAt,
  unchokedBy: Number.NaN,
  unchoking: Number.NaN,
});

const real = meta.times.map((_, i) => realPhases(i));
console.log(requestMeasures());
console.log(topUpMeasures(meta.scenario.cdnTopUpBytesPerS ?? 0));
const simulated = simRecords.map(simPhases);
const f = (x: number | null) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(1));
console.log(
  `# ${dir} run ${run}: load at the end ${meta.load.map((l) => l.toFixed(1)).join(' ')}; simulator's client start ${meta.scenario.peerStartS?.toFixed(2)} s`,
);
console.log(
  '| leecher | arrives s | tracker reply | edge unchoke real / sim | first piece real / sim | half real / sim | done real / sim | peers unchoking it / it unchokes (real) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
real.forEach((r, i) => {
  const s = simulated[i];
  console.log(
    `| ${i} | ${meta.scenario.arrivalTimesS![i]!.toFixed(1)} | ${f(r.tracker)} | ${f(r.edgeSlot)} / ${f(s?.edgeSlot ?? null)} | ${f(r.first)} / ${f(s?.first ?? null)} | ${f(r.half)} / ${f(s?.half ?? null)} | ${f(r.done)} / ${f(s?.done ?? null)} | ${r.unchokedBy} / ${r.unchoking} |`,
  );
});
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.95)]!;
const meanOf = (phases: Phases[], key: 'first' | 'half' | 'done') => mean(phases.map((p) => p[key]));
console.log(
  `mean: first piece ${f(meanOf(real, 'first'))} / ${f(meanOf(simulated, 'first'))}; first to half ${f(meanOf(real, 'half') - meanOf(real, 'first'))} / ${f(meanOf(simulated, 'half') - meanOf(simulated, 'first'))}; half to done ${f(meanOf(real, 'done') - meanOf(real, 'half'))} / ${f(meanOf(simulated, 'done') - meanOf(simulated, 'half'))}; done ${f(meanOf(real, 'done'))} / ${f(meanOf(simulated, 'done'))} (simulator's own mean ${f(sim.meanDownloadS)})`,
);
console.log(
  `sim / real: mean ${(sim.meanDownloadS / mean(meta.times)).toFixed(2)}, p95 ${(sim.p95DownloadS / p95(meta.times)).toFixed(2)}; simulated CDN egress ${(sim.cdnBytes / 1024).toFixed(0)} KiB, origin ${(sim.originBytes / 1024).toFixed(0)} KiB`,
);
