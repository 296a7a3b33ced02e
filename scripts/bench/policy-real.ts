// A real-process run to check the swarm simulator (issue 16): `edgepeer tracker`, the agent with storage control on,
// nginx as the origin (its bytes counted from its own log, $body_bytes_sent), and python3-libtorrent leechers with
// upload and download limits arriving as a flash crowd (seeded exponential gaps) on loopback; each seeds SEED_S after
// completing, then leaves. The simulator then runs the same schedule, object and limits with the function's decide(),
// and both are printed: origin bytes, CDN egress (the agent's peer wire), and mean and p95 download time. TOP_UP_KIB
// lists top-up rates (storageControl.topUpRate, KiB/s; 0: off) to run one after the other on the same schedule, each
// with a fresh tracker and agent, e.g. TOP_UP_KIB=0,230.
// usage: node scripts/bench/policy-real.ts   (after npm run build; scripts/bench/policy.sh runs it with REAL=1)
//   env: LEECHERS=12 PIECES=32 PIECE_KIB=64 UP_KIB=64 DOWN_KIB=256 GAP_S=1 SEED_S=15 SEED=1 TOP_UP_KIB=0
//   START_S (the simulator's client start-up time; default: fitted in each run on the fastest leecher alone),
//   TRACE_DIR (keep libtorrent traces for scripts/bench/policy-trace.ts). The simulator runs twice: a leecher's downlink shared in
//   proportion to what its sources offer (the default) and max-min fairly (Scenario.downlinkShare 'fair').
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildMetainfo, encodeTorrent } from '../../src/metainfo/index.ts';
import {
  DEFAULT_SETTINGS,
  LIBTORRENT_REQUESTS,
  SCENARIOS,
  type Scenario,
  seededRandom,
  simulate,
} from '../../src/policy/index.ts';

import { edgepeer } from '../../test/helpers/cli.ts';
import { startNginx } from '../../test/helpers/nginx.ts';
import {
  followStats,
  type LtLeecher,
  startLtLeecher,
  startTrackerCommand,
  writeBareTorrent,
} from '../../test/interop/tracker-support.ts';
import { fitStart } from './policy-fit.ts';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const LEECHERS = num('LEECHERS', 12);
const PIECES = num('PIECES', 32);
const PIECE = num('PIECE_KIB', 64) * 1024;
const UP = num('UP_KIB', 64) * 1024;
const DOWN = num('DOWN_KIB', 256) * 1024;
const GAP_S = num('GAP_S', 1);
const SEED_S = num('SEED_S', 15);
const SEED = num('SEED', 1);
const START_S = process.env.START_S === undefined ? null : Number(process.env.START_S);
// TRACE_DIR: keep each leecher's libtorrent trace (tracker_lt.py --trace) and the run's schedule there, for
// scripts/bench/policy-trace.ts to compare phase by phase with the simulator.
const TRACE_DIR = process.env.TRACE_DIR;
const TOP_UPS = (process.env.TOP_UP_KIB ?? '0').split(',').map((kib) => Math.round(Number(kib) * 1024));
const RUN = join(import.meta.dirname, '..', '..', 'bin', 'run.js');
const policy = {
  ...DEFAULT_SETTINGS,
  lowCopies: 2,
  highCopies: 4,
  demandPerCopy: 3,
  holdMs: 10_000,
  opsPerMinute: 600,
  staleMs: 60_000,
};

const random = seededRandom(SEED);
const schedule: number[] = [];
for (let at = 0, i = 0; i < LEECHERS; i++) {
  schedule.push(Math.round(at * 10) / 10);
  at += -Math.log(1 - random()) * GAP_S;
}

const dir = await mkdtemp(join(tmpdir(), 'edgepeer-policy-real-'));
const data = randomBytes(PIECES * PIECE);
const hashes = Array.from({ length: PIECES }, (_, i) =>
  createHash('sha1')
    .update(data.subarray(i * PIECE, (i + 1) * PIECE))
    .digest(),
);
const metainfo = buildMetainfo({
  name: 'crowd.bin',
  pieceLength: PIECE,
  multiFile: false,
  files: [{ path: [], length: data.length }],
  pieceHashes: Buffer.concat(hashes),
});
// nginx's workers cannot enter a 0700 temp dir of this process's: the origin's root is its own.
const originRoot = await mkdtemp(join(tmpdir(), 'edgepeer-policy-origin-'));
await writeFile(join(originRoot, 'crowd.bin'), data, { mode: 0o644 });
const origin = await startNginx(originRoot, { accessLog: true });
const originUrl = origin.url;

/** The agent's peer wire bytes sent so far (`edgepeer status`): the CDN egress of the run. */
async function uploadedBytes(dataDir: string): Promise<number> {
  const status = await edgepeer(['status', '--data-dir', dataDir, '--json']);
  if (status.code !== 0) throw new Error(`status failed: ${status.stderr}`);
  return (status.lines[0]!.wire as { uploadedBytes: number }).uploadedBytes;
}

async function runOnce(topUp: number, run: number): Promise<void> {
  const tracker = await startTrackerCommand(['--interval', '60', '--min-interval', '1']);
  let agent: ChildProcess | null = null;
  const leechers: LtLeecher[] = [];
  try {
    const dataDir = join(dir, `store-${run}`);
    const configFile = join(dir, `agent-${run}.yaml`);
    await writeFile(
      configFile,
      [
        `dataDir: ${dataDir}`,
        'logLevel: warn',
        `trackers: [${tracker.announceUrl}]`,
        // Every leecher comes from 127.0.0.1: the per-address cap (8 by default) would turn most of them away.
        'peer: { port: 0, host: 127.0.0.1, limits: { maxConnectionsPerIp: 1000 } }',
        'http: { enabled: false }',
        'admin: { listen: "127.0.0.1:0" }',
        'storageControl:',
        '  enabled: true',
        `  lowCopies: ${policy.lowCopies}`,
        `  highCopies: ${policy.highCopies}`,
        `  demandPerCopy: ${policy.demandPerCopy}`,
        `  hold: ${policy.holdMs}ms`,
        `  opsPerMinute: ${policy.opsPerMinute}`,
        '  interval: 1s',
        `  topUpRate: ${topUp}`,
        '',
      ].join('\n'),
    );
    agent = spawn(process.execPath, [RUN, 'agent', '--config', configFile, '--json'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(createInterface({ input: agent.stdout! }), 'line');
    const torrent = join(dir, 'crowd.torrent');
    await writeFile(torrent, encodeTorrent(metainfo));
    const ingest = await edgepeer([
      'ingest',
      `${originUrl}/crowd.bin`,
      '--torrent',
      torrent,
      '--pieces',
      '0',
      '--data-dir',
      dataDir,
    ]);
    if (ingest.code !== 0) throw new Error(`ingest failed: ${ingest.stderr}`);
    const follower = followStats(tracker.statsUrl, metainfo.infoHash);
    await follower.until((s) => s.networkPeers.length === 1, 30_000);
    follower.close();
    const originBefore = await origin.bytesSent();
    const bare = await writeBareTorrent(join(dir, 'torrents'), metainfo);
    const wireBefore = await uploadedBytes(dataDir);
    const started = performance.now();
    const spawnedAt: number[] = [];
    const times = await Promise.all(
      schedule.map(async (at, i) => {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, at * 1000 - (performance.now() - started))));
        const t0 = performance.now();
        spawnedAt[i] = performance.timeOrigin + t0;
        const leecher = startLtLeecher(bare, join(dir, `r${run}-l${i}`), {
          tracker: tracker.announceUrl,
          stay: true,
          timeoutS: 600,
          downloadLimit: DOWN,
          uploadLimit: UP,
          ...(TRACE_DIR === undefined ? {} : { trace: join(TRACE_DIR, `r${run}-l${i}.jsonl`) }),
        });
        leechers.push(leecher);
        const result = await leecher.result;
        const seconds = (performance.now() - t0) / 1000;
        setTimeout(() => void leecher.stop(), SEED_S * 1000);
        if (!result.seeding) throw new Error(`leecher ${i} did not finish: ${JSON.stringify(result)}`);
        return seconds;
      }),
    );
    const wall = (performance.now() - started) / 1000;
    const originBytes = (await origin.bytesSent()) - originBefore;
    const cdnBytes = (await uploadedBytes(dataDir)) - wireBefore;
    const realMean = times.reduce((a, b) => a + b, 0) / times.length;
    const sorted = [...times].sort((a, b) => a - b);
    // As the simulator takes its p95.
    const realP95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!;
    const runScenario: Scenario = {
      ...SCENARIOS[0]!,
      name: 'real-run',
      seed: SEED,
      durationS: Math.ceil(wall) + 120,
      objects: 1,
      piecesPerObject: PIECES,
      pieceBytes: PIECE,
      arrivalTimesS: schedule,
      seedTimeFixedS: SEED_S,
      cdnStartPieces: [0],
      cdnTopUpBytesPerS: topUp,
      abortShare: 0,
      peerUploadBytesPerS: [UP],
      peerDownloadBytesPerS: DOWN,
      cdnEgressBytesPerS: 1024 ** 3,
      cdnBudgetBytes: 1024 ** 3,
      originBytesPerS: 1024 ** 3,
      policy,
      roundIntervalS: 1,
      // Slots as the real parts have them: the agent's 16 regular slots held at least 30 s (peer.limits).
      // libtorrent puts peers on the local network (loopback too) in its "local" peer class, which ignores
      // unchoke slots: the traces show a leecher unchoking up to 33 of its peers at once, not 8.
      cdnUploadSlots: 16,
      cdnSlotHoldS: 30,
      // The agent's choker looks at its slots every 10 s (peer.limits.rechokeIntervalMs); under top-up a
      // leecher that others give half the rate yields its slot then. Top-up measured as the agent does: HAVEs
      // over 2 s less the edge's bytes (src/wire/top-up.ts; docs/policy.md "The simulator").
      cdnRechokeS: 10,
      topUpMeter: 'haves',
      peerUploadSlots: LEECHERS,
      peerSlotHoldS: 15,
      // libtorrent's block requests (request queues, end-game), measured with TRACE_DIR (docs/policy.md).
      requests: LIBTORRENT_REQUESTS,
    };
    // What the model cannot derive: a client's start (process, session, tracker announce, connecting, the
    // agent's first unchoke). Fitted on the fastest leecher alone: the start whose simulated fastest download
    // is nearest the real one, so the other 39 leechers (and the mean) are a check, not a fit.
    const startS = START_S ?? fitStart(runScenario, Math.min(...times));
    runScenario.peerStartS = startS;
    const sim = simulate(runScenario, 'function');
    // The same with a leecher's downlink shared max-min fairly among its sources (Scenario.downlinkShare):
    // the real runs' peer share has fallen between the two models (docs/benchmarks.md).
    const simFair = simulate({ ...runScenario, downlinkShare: 'fair' }, 'function');
    const line = (what: string, real: number, simulated: number, fair: number) =>
      `| ${what} | ${real.toFixed(1)} | ${simulated.toFixed(1)} | ${(simulated / real).toFixed(2)} | ${fair.toFixed(1)} | ${(fair / real).toFixed(2)} |`;
    console.log(
      `# top-up ${topUp === 0 ? 'off' : `${topUp / 1024} KiB/s`}: ${LEECHERS} leechers (gaps exp. mean ${GAP_S} s, seed ${SEED}), ${PIECES} x ${PIECE / 1024} KiB, up ${UP / 1024} KiB/s, down ${DOWN / 1024} KiB/s, seeding ${SEED_S} s; client start ${startS.toFixed(2)} s${START_S === null ? ' (fitted on the fastest leecher)' : ''}; load ${loadavg()[0]!.toFixed(1)}`,
    );
    console.log(
      '| measure | real | simulator | simulator / real | simulator, fair share | fair / real |\n| --- | --- | --- | --- | --- | --- |',
    );
    console.log(
      line(
        'origin KiB (after the initial piece)',
        originBytes / 1024,
        sim.originBytes / 1024,
        simFair.originBytes / 1024,
      ),
    );
    console.log(line('CDN egress KiB', cdnBytes / 1024, sim.cdnBytes / 1024, simFair.cdnBytes / 1024));
    console.log(line('mean download s', realMean, sim.meanDownloadS, simFair.meanDownloadS));
    console.log(line('p95 download s', realP95, sim.p95DownloadS, simFair.p95DownloadS));
    console.log(line('completed', times.length, sim.completed, simFair.completed));
    if (TRACE_DIR !== undefined) {
      await writeFile(
        join(TRACE_DIR, `r${run}-meta.json`),
        JSON.stringify({ topUp, schedule, spawnedAt, times, startS, load: loadavg(), scenario: runScenario }),
      );
    }
    console.log(
      JSON.stringify({
        topUp,
        real: { originBytes, cdnBytes, meanDownloadS: realMean, p95DownloadS: realP95, times },
        sim,
        simFair,
      }),
    );
  } finally {
    for (const leecher of leechers) await leecher.stop().catch(() => {});
    if (agent !== null && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
    await tracker.stop();
  }
}

try {
  for (const [run, topUp] of TOP_UPS.entries()) await runOnce(topUp, run);
} finally {
  await origin.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(originRoot, { recursive: true, force: true });
}
