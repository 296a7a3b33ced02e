import { describe, expect, it } from 'vitest';
import { RateHistory } from '../../src/dashboard/index.ts';

describe('the rate history', () => {
  it('turns counter samples into per-second rates, keeping the last `capacity` points', () => {
    const history = new RateHistory(2);
    history.add(0, { sentBytes: 0, pulledBytes: 0, connections: 0 });
    expect(history.points()).toEqual([]);
    history.add(2000, { sentBytes: 4000, pulledBytes: 1000, connections: 3 });
    history.add(4000, { sentBytes: 4000, pulledBytes: 3000, connections: 1 });
    history.add(5000, { sentBytes: 5000, pulledBytes: 3000, connections: 1 });
    expect(history.points()).toEqual([
      { at: 4000, sentPerSecond: 0, pulledPerSecond: 1000, connections: 1 },
      { at: 5000, sentPerSecond: 1000, pulledPerSecond: 0, connections: 1 },
    ]);
  });

  it('shows no negative rate when counters start again (a server restarted by a reload)', () => {
    const history = new RateHistory();
    history.add(0, { sentBytes: 10_000, pulledBytes: 0, connections: 0 });
    history.add(1000, { sentBytes: 500, pulledBytes: 0, connections: 0 });
    expect(history.points()[0]?.sentPerSecond).toBe(0);
  });
});
