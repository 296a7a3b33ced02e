import { describe, expect, it } from 'vitest';
import { markFrontier, SCENARIOS, type TradeoffPoint, tradeoffCurve } from '../../src/policy/index.ts';

const point = (scenario: string, egressSaving: number, p95Ratio: number): TradeoffPoint => ({
  scenario,
  topUpMiBPerS: 1,
  copiesPerLeecher: 0,
  egressSaving,
  p95Ratio,
  meanRatio: 1,
  largeSwarmPeerEfficiency: null,
  missingPieceSeconds: 0,
  originOverContent: 1,
  originPerSwarmMax: 1,
  frontier: false,
  meetsGoals: false,
});

describe('the egress / p95 trade-off', () => {
  it('keeps on the frontier only the points no other point of the scenario beats on both measures', () => {
    const points = markFrontier([
      point('a', 0.3, 1.0),
      point('a', 0.4, 1.2),
      point('a', 0.35, 1.3), // beaten by 0.4 at 1.2
      point('a', 0.3, 1.1), // beaten by 0.3 at 1.0
      point('b', 0.1, 2.0), // another scenario: alone on its frontier
    ]);
    expect(points.map((p) => p.frontier)).toEqual([true, true, false, false, true]);
  });

  it('runs the grid against LRU in the same scenario and says which points meet every goal', () => {
    const small = { ...SCENARIOS[0]!, durationS: 120, objects: 3 };
    const points = tradeoffCurve(small, [0, 1], [0, 8]);
    expect(points).toHaveLength(4);
    for (const p of points) {
      expect(p.meetsGoals).toBe(
        p.egressSaving >= 0.5 &&
          p.p95Ratio <= 1.1 &&
          p.missingPieceSeconds === 0 &&
          p.originPerSwarmMax <= 1.1 &&
          (p.largeSwarmPeerEfficiency ?? 1) >= 0.7,
      );
    }
    // Top-up off serves as fast as leechers take: more egress than at 1 MiB/s.
    const off = points.find((p) => p.topUpMiBPerS === 0 && p.copiesPerLeecher === 8)!;
    const paced = points.find((p) => p.topUpMiBPerS === 1 && p.copiesPerLeecher === 8)!;
    expect(paced.egressSaving).toBeGreaterThan(off.egressSaving);
    expect(points.some((p) => p.frontier)).toBe(true);
  });
});
