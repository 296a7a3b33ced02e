// The best point of `npm run sim -- --curve --json` runs within the issue 16 goal's p95 (<= 1.10x LRU's,
// no missing-piece seconds, origin <= 1.1x per swarm): per scenario and variant (a "variant" field the
// caller adds to each line, e.g. with sed; docs/benchmarks.md "Which swarms top-up paces").
// usage: node scripts/sim-best.mjs FILE.jsonl ...
import { readFileSync } from 'node:fs';

const rows = process.argv.slice(2).flatMap((file) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line)),
);
const best = new Map();
for (const r of rows) {
  const key = `${r.scenario}\t${r.variant ?? 'as is'}`;
  if (!best.has(key)) best.set(key, null);
  if (r.p95Ratio > 1.1 || r.missingPieceSeconds !== 0 || r.originPerSwarmMax > 1.1) continue;
  const b = best.get(key);
  if (b === null || r.egressSaving > b.egressSaving) best.set(key, r);
}
for (const [key, r] of [...best].sort()) {
  const eff = r?.largeSwarmPeerEfficiency == null ? '-' : `${(r.largeSwarmPeerEfficiency * 100).toFixed(1)} %`;
  process.stdout.write(
    `${key}\t${r === null ? 'none within 1.10x' : `${(r.egressSaving * 100).toFixed(1)} % at ${r.p95Ratio.toFixed(3)}x (top-up ${r.topUpMiBPerS === 0 ? 'off' : r.topUpMiBPerS}, copiesPerLeecher ${r.copiesPerLeecher}, peer efficiency 50+ ${eff})`}\n`,
  );
}
