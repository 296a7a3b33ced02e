// A finer top-up grid than `npm run sim -- --curve` near a scenario's limit (docs/benchmarks.md, "Issue 16:
// which swarms top-up paces"): usage: node scripts/sim-fine.ts SCENARIO TOPUP,TOPUP,... [KEY=VALUE ...]
// prints one JSON line per point (the curve's TradeoffPoint and a "variant" naming the settings).
import { SCENARIOS, tradeoffCurve } from '../src/policy/index.ts';

const [name, grid, ...sets] = process.argv.slice(2);
const scenario = SCENARIOS.find((s) => s.name === name);
if (scenario === undefined || grid === undefined) {
  process.stderr.write(
    `usage: node scripts/sim-fine.ts ${SCENARIOS.map((s) => s.name).join('|')} 1,0.95 [KEY=VALUE ...]\n`,
  );
  process.exit(2);
}
const overrides = Object.fromEntries(sets.map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
const points = tradeoffCurve(
  { ...scenario, policy: { ...scenario.policy, ...overrides } },
  grid.split(',').map(Number),
  [0, 4],
);
for (const point of points)
  process.stdout.write(`${JSON.stringify({ variant: sets.join(' ') || 'as is', ...point })}\n`);
