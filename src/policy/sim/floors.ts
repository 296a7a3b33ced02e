// `npm run sim -- --floors`: per scenario, the least CDN egress any policy could reach at a p95 within
// 1.10x (and looser) of LRU's, against the goal (half of LRU's egress) and against what the function reaches,
// with the floor its own download times allowed (src/policy/sim/bound.ts).
import { lowestDeadlineFloor, timingFloor } from './bound.ts';
import { type Scenario, type SimPeerRecord, simulate } from './simulate.ts';
import { tradeoffCurve } from './tradeoff.ts';

const MiB = 1024 * 1024;

/** The p95 allowances (over LRU's p95) the floor is computed at; the goal's is the first. */
export const FLOOR_P95_ALLOWANCES = [1.1, 1.25, 1.5, 2];

export interface FloorRow {
  scenario: string;
  lruCdnBytes: number;
  lruP95S: number;
  /** Half of LRU's egress: the goal. */
  goalCdnBytes: number;
  /** The lowest floor found at each allowance (FLOOR_P95_ALLOWANCES), CDN bytes. */
  floorCdnBytes: number[];
  /** The function at the curve's best point within 1.10x: its settings, egress, p95 over LRU's. */
  best: { topUpMiBPerS: number; copiesPerLeecher: number; cdnBytes: number; p95Ratio: number };
  /** The floor for that run's own timing (its completed leechers' arrivals and completions), and its egress to them. */
  bestTimingFloorCdnBytes: number;
  bestCdnBytesToCompleted: number;
}

export function floorRow(scenario: Scenario): FloorRow {
  const lru = simulate(scenario, 'lru');
  const floorCdnBytes = FLOOR_P95_ALLOWANCES.map(
    (allowance) => lowestDeadlineFloor(scenario, lru.p95DownloadS * allowance).cdnBytesMin,
  );
  const within = tradeoffCurve(scenario).filter((point) => point.p95Ratio <= 1.1);
  const top = within.reduce((a, b) => (b.egressSaving > a.egressSaving ? b : a));
  const records: SimPeerRecord[] = [];
  const run = simulate(
    {
      ...scenario,
      cdnTopUpBytesPerS: top.topUpMiBPerS * MiB,
      policy: { ...scenario.policy, copiesPerLeecher: top.copiesPerLeecher },
    },
    'function',
    { peerDone: (record) => records.push(record) },
  );
  return {
    scenario: scenario.name,
    lruCdnBytes: lru.cdnBytes,
    lruP95S: lru.p95DownloadS,
    goalCdnBytes: lru.cdnBytes / 2,
    floorCdnBytes,
    best: {
      topUpMiBPerS: top.topUpMiBPerS,
      copiesPerLeecher: top.copiesPerLeecher,
      cdnBytes: run.cdnBytes,
      p95Ratio: top.p95Ratio,
    },
    bestTimingFloorCdnBytes: timingFloor(scenario, records).cdnBytesMin,
    bestCdnBytesToCompleted: records.reduce((sum, record) => sum + record.cdnBytes, 0),
  };
}

export function floorTable(rows: FloorRow[]): string {
  const cell = (bytes: number, lru: number) =>
    `${(bytes / MiB).toFixed(0)} (${((1 - bytes / lru) * 100).toFixed(0)} %)`;
  const lines = [
    `| scenario | LRU egress MiB | goal MiB (50 %) | ${FLOOR_P95_ALLOWANCES.map((a) => `floor at p95 ${a.toFixed(2)}x, MiB (saving)`).join(' | ')} | function's best within 1.10x: MiB (saving), p95, settings | floor for its own timing, MiB, against its egress to those leechers |`,
    `| --- | ---: | ---: | ${FLOOR_P95_ALLOWANCES.map(() => '---:').join(' | ')} | --- | --- |`,
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.scenario} | ${(row.lruCdnBytes / MiB).toFixed(0)} | ${(row.goalCdnBytes / MiB).toFixed(0)} | ${row.floorCdnBytes.map((bytes) => cell(bytes, row.lruCdnBytes)).join(' | ')} | ${cell(row.best.cdnBytes, row.lruCdnBytes)}, ${row.best.p95Ratio.toFixed(3)}x, top-up ${row.best.topUpMiBPerS} MiB/s, copiesPerLeecher ${row.best.copiesPerLeecher} | ${(row.bestTimingFloorCdnBytes / MiB).toFixed(0)} against ${(row.bestCdnBytesToCompleted / MiB).toFixed(0)} (${(row.bestCdnBytesToCompleted / row.bestTimingFloorCdnBytes).toFixed(2)}x) |`,
    );
  }
  return lines.join('\n');
}
