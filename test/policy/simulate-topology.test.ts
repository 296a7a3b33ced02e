import { describe, expect, it } from 'vitest';
import { SCENARIOS, simulate } from '../../src/policy/index.ts';
import { TOPOLOGY_SCENARIOS } from '../../src/policy/sim/scenarios.ts';

describe('the simulator with a topology (issue 18)', () => {
  const scenario = { ...TOPOLOGY_SCENARIOS[0]!, durationS: 300 };

  it('keeps more peer bytes within PIDs when the tracker lists the nearest peers first, at no cost in time', () => {
    const off = simulate({ ...scenario, topology: { ...scenario.topology!, local: false } }, 'origin-only');
    const on = simulate(scenario, 'origin-only');
    expect(on.peers).toBe(off.peers);
    // Four PIDs: about a quarter of the bytes by chance.
    expect(off.intraPidPeerShare!).toBeLessThan(0.35);
    expect(on.intraPidPeerShare!).toBeGreaterThan(0.5);
    expect(on.meanDownloadS).toBeLessThan(off.meanDownloadS * 1.05);
    expect(on.completed).toBe(off.completed);
    // Nearly every peer byte had a source in the leecher's PID somewhere; with locality, most came from one.
    expect(on.localSourcePeerShare!).toBeGreaterThan(0.9);
    expect(on.intraPidShareWhereLocal!).toBeGreaterThanOrEqual(on.intraPidPeerShare!);
    expect(on.intraPidShareWhereLocal!).toBeLessThanOrEqual(1);
  });

  it('reports no intra-PID share without a topology', () => {
    const plain = simulate({ ...SCENARIOS[0]!, durationS: 60 }, 'lru');
    expect([plain.intraPidPeerShare, plain.localSourcePeerShare, plain.intraPidShareWhereLocal]).toEqual([
      null,
      null,
      null,
    ]);
  });
});
