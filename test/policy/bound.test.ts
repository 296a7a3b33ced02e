import { describe, expect, it } from 'vitest';
import {
  deadlineFloor,
  lowestDeadlineFloor,
  MaxFlow,
  SCENARIOS,
  type Scenario,
  type SimPeerRecord,
  simulate,
  timingFloor,
} from '../../src/policy/index.ts';

const KiB = 1024;
const objectBytes = 40 * 256 * KiB;

/** Peers on object 0 at the given times, one uplink, seeding `seedS`, none aborting. */
const schedule = (arrivalTimesS: number[], seedS = 100, up = 64 * KiB): Scenario => ({
  ...SCENARIOS[0]!,
  name: 'schedule',
  durationS: 1000,
  arrivalTimesS,
  seedTimeFixedS: seedS,
  abortShare: 0,
  peerUploadBytesPerS: [up],
});

describe('maximum flow', () => {
  it('finds the textbook maximum (CLRS figure 26.1: 23)', () => {
    const flow = new MaxFlow(6);
    const edges: Array<[number, number, number]> = [
      [0, 1, 16],
      [0, 2, 13],
      [2, 1, 4],
      [1, 3, 12],
      [3, 2, 9],
      [2, 4, 14],
      [4, 3, 7],
      [3, 5, 20],
      [4, 5, 4],
    ];
    const ids = edges.map(([from, to, capacity]) => flow.edge(from, to, capacity));
    expect(flow.run(0, 5)).toBeCloseTo(23, 6);
    expect(flow.carried(ids[7]!) + flow.carried(ids[8]!)).toBeCloseTo(23, 6);
  });
});

describe('the egress floor for a deadline', () => {
  it('charges the CDN the whole object for a leecher with no one else in its swarm', () => {
    const floor = deadlineFloor(schedule([0]), 10);
    expect(floor.leechers).toBe(1);
    expect(floor.exempt).toBe(0);
    expect(floor.cdnBytesMin).toBe(objectBytes);
    expect(floor.cdnBytesMinAlone).toBe(objectBytes);
  });

  it('lets two leechers give each other their uplinks until the deadline, never their own', () => {
    const floor = deadlineFloor(schedule([0, 0]), 10);
    expect(floor.peerBytesMax).toBeCloseTo(2 * 10 * 64 * KiB, 3);
    expect(floor.cdnBytesMin).toBeCloseTo(2 * objectBytes - 2 * 10 * 64 * KiB, 3);
    expect(floor.cdnBytesMinAlone).toBe(0);
  });

  it('lets a later leecher take from an earlier one that stays to seed', () => {
    // The first is alone until second 5, then seeds after its deadline (10) for 100 s: the second takes
    // 64 KiB/s for its 10 s, the first 64 KiB/s for its last 5.
    const floor = deadlineFloor(schedule([0, 5]), 10);
    expect(floor.peerBytesMax).toBeCloseTo(15 * 64 * KiB, 3);
  });

  it('exempts the p95 allowance: of 20 lone leechers, one needs nothing', () => {
    const floor = deadlineFloor(
      schedule(
        Array.from({ length: 20 }, (_, i) => i * 40),
        10,
      ),
      10,
    );
    expect(floor.leechers).toBe(20);
    expect(floor.exempt).toBe(1);
    expect(floor.cdnBytesMin).toBe(19 * objectBytes);
  });

  it('searches which aborting peers should complete, never ending above everyone aborting', () => {
    const small = { ...SCENARIOS[1]!, durationS: 200, objects: 4 };
    const allAbort = deadlineFloor(small, 5.5);
    const lowest = lowestDeadlineFloor(small, 5.5);
    expect(lowest.cdnBytesMin).toBeLessThanOrEqual(allAbort.cdnBytesMin);
  });
});

describe("the egress floor for a run's own timing", () => {
  // The simulator and the floor share nothing but the drawn peers: a policy below the floor means one is wrong.
  for (const scenario of SCENARIOS.slice(0, 2)) {
    for (const policy of ['lru', 'function', 'cdn-only'] as const) {
      it(`${scenario.name}, ${policy}: the run's egress to its completed leechers is at least the floor`, () => {
        const small = { ...scenario, durationS: 240, objects: 5 };
        const records: SimPeerRecord[] = [];
        simulate(small, policy, { peerDone: (record) => records.push(record) });
        const floor = timingFloor(small, records);
        const cdnBytes = records.reduce((sum, record) => sum + record.cdnBytes, 0);
        expect(records.length).toBeGreaterThan(20);
        expect(floor.leechers).toBe(records.length);
        expect(cdnBytes).toBeGreaterThanOrEqual(floor.cdnBytesMin - 1);
        if (policy === 'cdn-only') expect(cdnBytes).toBeCloseTo(records.length * objectBytes, -3);
      });
    }
  }
});
