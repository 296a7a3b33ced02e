// The swarm simulator (src/policy/sim): every scenario under every policy, deterministic for a seed.
// usage: npm run sim -- [--json] [--seed N] [--scenario NAME] [--set KEY=VALUE ...] [--write-docs] [--topology]
//   --set         a setting of the function for this run (StorageControlSettings, e.g. copiesPerLeecher=4)
//   --top-up      the edge's top-up rate for the function, bytes/s (Scenario.cdnTopUpBytesPerS; 0: off)
//   --cdn-slots   the edge serves over the peer wire with this many slots (held 30 s) instead of HTTP
//   --fair-share  a leecher's downlink is shared max-min fairly among its sources (Scenario.downlinkShare
//                 'fair'), not in proportion to their offers
//   --json        one JSON line per scenario and policy (SimResult: policy, originBytes, contentBytes, ...)
//   --write-docs  also write docs/sim/<scenario>.svg and docs/sim/results.md
//   --curve       instead: the function over a grid of top-up rates x copiesPerLeecher against LRU per scenario
//                 (the egress / p95 trade-off; with --write-docs also docs/sim/tradeoff.md and tradeoff.svg)
//   --floors      instead: per scenario, the least CDN egress any policy could reach at a p95 within 1.10x
//                 (and 1.25, 1.5, 2x) of LRU's, against the goal and the function's best (src/policy/sim/bound.ts;
//                 --json: a FloorRow per scenario; with --write-docs also docs/sim/floors.md)
//   --topology    instead: the topology scenarios (issue 18) with the tracker's locality on and off, under
//                 the function and origin-only: intra-PID share of peer bytes and download times
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  floorRow,
  floorTable,
  markdownTable,
  SCENARIOS,
  SIM_POLICIES,
  type SimResult,
  simulate,
  svgChart,
  tradeoffCurve,
  tradeoffSvg,
  tradeoffTable,
} from '../src/policy/index.ts';

// `npm run sim -- --json | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const seed = value('--seed') === undefined ? undefined : Number(value('--seed'));
const only = value('--scenario');
const topUp = value('--top-up') === undefined ? undefined : Number(value('--top-up'));
const cdnSlots = value('--cdn-slots') === undefined ? undefined : Number(value('--cdn-slots'));
const share = flag('--fair-share') ? { downlinkShare: 'fair' as const } : {};
const overrides: Record<string, number | boolean> = {};
args.forEach((arg, i) => {
  if (arg !== '--set') return;
  const [key, raw] = (args[i + 1] ?? '').split('=');
  if (key === undefined || raw === undefined || !(key in SCENARIOS[0]!.policy)) {
    process.stderr.write(`--set KEY=VALUE with KEY one of ${Object.keys(SCENARIOS[0]!.policy).join(', ')}\n`);
    process.exit(2);
  }
  overrides[key] = raw === 'true' ? true : raw === 'false' ? false : Number(raw);
});
if (flag('--topology')) {
  const { TOPOLOGY_SCENARIOS } = await import('../src/policy/sim/scenarios.ts');
  const lines = [
    '| scenario | policy | topology | peers | intra-PID share of peer bytes | local source existed | intra-PID share where it did | mean download s (x off) | p95 download s (x off) | CDN egress MiB |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const scenario of TOPOLOGY_SCENARIOS.filter((s) => only === undefined || s.name === only)) {
    for (const policy of ['function', 'origin-only'] as const) {
      const runs = [false, true].map((local) =>
        simulate({ ...scenario, seed: seed ?? scenario.seed, topology: { ...scenario.topology!, local } }, policy),
      );
      const off = runs[0]!;
      for (const [i, r] of runs.entries()) {
        if (flag('--json')) process.stdout.write(`${JSON.stringify({ ...r, topologyLocal: i === 1 })}\n`);
        lines.push(
          `| ${r.scenario} | ${policy} | ${i === 1 ? 'on' : 'off'} | ${r.peers} | ${((r.intraPidPeerShare ?? 0) * 100).toFixed(0)} % | ${((r.localSourcePeerShare ?? 0) * 100).toFixed(0)} % | ${((r.intraPidShareWhereLocal ?? 0) * 100).toFixed(0)} % | ${r.meanDownloadS.toFixed(1)} (${(r.meanDownloadS / off.meanDownloadS).toFixed(3)}) | ${r.p95DownloadS.toFixed(1)} (${(r.p95DownloadS / off.p95DownloadS).toFixed(3)}) | ${(r.cdnBytes / 1024 / 1024).toFixed(0)} |`,
        );
      }
    }
  }
  if (!flag('--json')) process.stdout.write(`${lines.join('\n')}\n`);
  process.exit(0);
}
const scenarios = SCENARIOS.filter((s) => only === undefined || s.name === only);
if (scenarios.length === 0) {
  process.stderr.write(`no scenario ${only}: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
if (flag('--floors')) {
  const rows = scenarios.map((scenario) =>
    floorRow({ ...scenario, ...share, seed: seed ?? scenario.seed, policy: { ...scenario.policy, ...overrides } }),
  );
  if (flag('--json')) for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  const table = floorTable(rows);
  if (!flag('--json')) process.stdout.write(`${table}\n`);
  if (flag('--write-docs')) {
    const dir = join(import.meta.dirname, '..', 'docs', 'sim');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'floors.md'), `${table}\n`);
  }
  process.exit(0);
}
if (flag('--curve')) {
  const points = scenarios.flatMap((scenario) =>
    tradeoffCurve({ ...scenario, ...share, seed: seed ?? scenario.seed, policy: { ...scenario.policy, ...overrides } }),
  );
  if (flag('--json')) for (const point of points) process.stdout.write(`${JSON.stringify(point)}\n`);
  const table = tradeoffTable(points);
  if (!flag('--json')) process.stdout.write(`${table}\n`);
  if (flag('--write-docs')) {
    const dir = join(import.meta.dirname, '..', 'docs', 'sim');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'tradeoff.md'), `${table}\n`);
    await writeFile(join(dir, 'tradeoff.svg'), tradeoffSvg(points));
  }
  process.exit(0);
}
const results: SimResult[] = [];
for (const scenario of scenarios) {
  const run = {
    ...scenario,
    ...share,
    seed: seed ?? scenario.seed,
    policy: { ...scenario.policy, ...overrides },
    cdnTopUpBytesPerS: topUp ?? scenario.cdnTopUpBytesPerS,
    // The edge as the agent's peer wire: this many unchoke slots, each held at least 30 s.
    ...(cdnSlots === undefined ? {} : { cdnUploadSlots: cdnSlots, cdnSlotHoldS: 30 }),
  };
  for (const policy of SIM_POLICIES) {
    const result = simulate(run, policy);
    results.push(result);
    if (flag('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}
const table = markdownTable(results);
if (!flag('--json')) process.stdout.write(`${table}\n`);
if (flag('--write-docs')) {
  const dir = join(import.meta.dirname, '..', 'docs', 'sim');
  await mkdir(dir, { recursive: true });
  for (const scenario of scenarios) {
    await writeFile(
      join(dir, `${scenario.name}.svg`),
      svgChart(
        scenario.name,
        results.filter((r) => r.scenario === scenario.name),
      ),
    );
  }
  await writeFile(join(dir, 'results.md'), `${table}\n`);
}
