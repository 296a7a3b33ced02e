import { describe, expect, it } from 'vitest';
import { SCENARIOS, type Scenario, SIM_POLICIES, simulate } from '../../src/policy/index.ts';
import { fairShares } from '../../src/policy/sim/simulate.ts';

const small: Scenario = { ...SCENARIOS[0]!, name: 'small', durationS: 200, objects: 4, piecesPerObject: 8 };

describe('the swarm simulator', () => {
  it('is deterministic for a seed, and another seed gives another run', () => {
    expect(simulate(small, 'function')).toEqual(simulate(small, 'function'));
    expect(simulate({ ...small, seed: 2 }, 'lru')).not.toEqual(simulate(small, 'lru'));
  });

  it('keeps the baselines apart: no CDN bytes for origin-only, no peer bytes for CDN-only', () => {
    const results = Object.fromEntries(SIM_POLICIES.map((policy) => [policy, simulate(small, policy)]));
    expect(results['origin-only']).toMatchObject({ cdnBytes: 0, cdnChurnPieces: 0 });
    expect(results['cdn-only']).toMatchObject({ peerBytes: 0, peerEfficiency: 0 });
    for (const result of Object.values(results)) {
      expect(result.completed).toBeGreaterThan(0);
      expect(result.originBytes).toBeGreaterThan(0);
    }
  });

  it('runs the function within its budget: the origin sends at most what the CDN ingests', () => {
    const result = simulate({ ...small, cdnBudgetBytes: small.pieceBytes }, 'function');
    // One piece of room: no more than one piece ingested at a time, so every ingest is a counted origin piece.
    expect(result.originBytes % small.pieceBytes).toBe(0);
    expect(result.cdnChurnPieces).toBeGreaterThan(0);
  });

  it('puts pieces set aside back without the origin: a swarm that empties and comes back costs one copy', () => {
    const comeback: Scenario = {
      ...small,
      durationS: 300,
      objects: 1,
      piecesPerObject: 8,
      // Eight leechers at once, seeding 60 s (the pieces turn plentiful and are purged), one more at 200 s.
      arrivalTimesS: [0, 0, 0, 0, 0, 0, 0, 0, 200],
      seedTimeFixedS: 60,
      abortShare: 0,
      policy: { ...small.policy, lowCopies: 1, highCopies: 4, copiesPerLeecher: 0, holdMs: 5_000 },
    };
    const aside = simulate(comeback, 'function');
    const removed = simulate({ ...comeback, policy: { ...comeback.policy, setAside: false } }, 'function');
    const object = comeback.piecesPerObject * comeback.pieceBytes;
    expect(aside.completed).toBe(9);
    expect(aside.originBytes).toBe(object);
    expect(removed.originBytes).toBe(2 * object);
    expect(removed.originPerSwarmMax).toBe(1);
  });

  it('reports peer efficiency for swarms of 50+ peers, and origin bytes per swarm lifetime', () => {
    const result = simulate({ ...SCENARIOS[0]!, durationS: 300 }, 'function');
    expect(result.largeSwarmPeerEfficiency).toBeGreaterThan(result.peerEfficiency);
    expect(result.originPerSwarmMean).toBeGreaterThan(0);
    expect(result.originPerSwarmMax).toBeGreaterThanOrEqual(result.originPerSwarmMean);
  });

  it('tops a leecher up: with a slow seed it gets the top-up rate, alone it is not paced, with seeds the edge sends less', () => {
    const MiB = 1024 * 1024;
    const lone: Scenario = {
      ...small,
      durationS: 60,
      objects: 1,
      piecesPerObject: 8, // 2 MiB
      arrivalTimesS: [0],
      seedTimeFixedS: 0,
      abortShare: 0,
      cdnStartPieces: [0, 1, 2, 3, 4, 5, 6, 7],
      cdnTopUpBytesPerS: 0.5 * MiB,
    };
    // Alone, the edge is the only source of every piece (no seed: decide()'s soleSource): top-up does not
    // pace it, and 2 MiB take 1 s at the 2 MiB/s downlink, as with top-up off.
    expect(simulate(lone, 'function').meanDownloadS).toBeCloseTo(1, 0);
    expect(simulate({ ...lone, cdnTopUpBytesPerS: 0 }, 'function').meanDownloadS).toBeCloseTo(1, 0);
    // The first leecher stays as a seed at 64 KiB/s: the second gets 0.5 MiB/s in all, the edge making up
    // what the seed does not give, 2 MiB in 4 s (the downlink notwithstanding).
    const withSeed = simulate(
      { ...lone, arrivalTimesS: [0, 20], seedTimeFixedS: 100, peerUploadBytesPerS: [64 * 1024] },
      'function',
    );
    expect(withSeed.completed).toBe(2);
    expect(withSeed.meanDownloadS).toBeCloseTo((1 + 4) / 2, 0);
    // The same swarm is thin with paceSeedsPerLeecher 2 (1 seed for 1 leecher): decide()'s paced is false,
    // the edge is not paced, and the second leecher takes 1 s too.
    const thin = simulate(
      {
        ...lone,
        arrivalTimesS: [0, 20],
        seedTimeFixedS: 100,
        peerUploadBytesPerS: [64 * 1024],
        policy: { ...lone.policy, paceSeedsPerLeecher: 2 },
      },
      'function',
    );
    expect(thin.completed).toBe(2);
    expect(thin.meanDownloadS).toBeCloseTo(1, 0);
    // A crowd that seeds: with top-up the edge leaves to the seeds what they give.
    // (10 MiB downloads: top-up acts on the last second's rates, a download must last a few.)
    const crowd: Scenario = {
      ...lone,
      piecesPerObject: 40,
      cdnStartPieces: [...Array(40).keys()],
      durationS: 200,
      arrivalTimesS: [...Array(30).keys()].map((i) => i * 2),
      seedTimeFixedS: 60,
      policy: { ...small.policy, lowCopies: 1, highCopies: 1000, copiesPerLeecher: 0 },
      cdnTopUpBytesPerS: 1.8 * MiB,
    };
    const toppedUp = simulate(crowd, 'function');
    const full = simulate({ ...crowd, cdnTopUpBytesPerS: 0 }, 'function');
    expect(toppedUp.completed).toBe(30);
    expect(toppedUp.cdnBytes).toBeLessThan(full.cdnBytes * 0.8);
    expect(toppedUp.peerEfficiency).toBeGreaterThan(full.peerEfficiency);
  });

  it('a paced edge offers a leecher no more than its top-up allowance, so it does not crowd out the peers', () => {
    const MiB = 1024 * 1024;
    // A seed (the first leecher, done at ~6.7 s) at 1 MiB/s up; the second leecher arrives at 20 s with a 2
    // MiB/s downlink. In its first second the edge may send 1.5 MiB (top-up, nothing from peers yet): the
    // seed's 1 MiB and the edge's 1.5 share the 2 MiB in proportion, 0.8 to the seed. When the edge offered
    // its whole uplink (16 MiB/s) and was cut to its allowance only after, the seed got 0.5 MiB.
    const run: Scenario = {
      ...small,
      durationS: 21,
      objects: 1,
      piecesPerObject: 40,
      arrivalTimesS: [0, 20],
      seedTimeFixedS: 100,
      abortShare: 0,
      peerUploadBytesPerS: [1 * MiB],
      cdnStartPieces: [...Array(40).keys()],
      cdnTopUpBytesPerS: 1.5 * MiB,
      policy: { ...small.policy, lowCopies: 1, highCopies: 1000, copiesPerLeecher: 0 },
    };
    expect(simulate(run, 'function').peerBytes / MiB).toBeCloseTo(0.8, 3);
    // The next second the edge sends 1.5 - 0.8 and the seed all it has: 1 MiB.
    expect(simulate({ ...run, durationS: 22 }, 'function').peerBytes / MiB).toBeCloseTo(1.8, 3);
  });

  it('shares a downlink max-min fairly with downlinkShare fair: a slow source gets all it offers beside a fast one', () => {
    const shares = fairShares(
      [
        ['edge', 16],
        ['seed', 1],
        ['leecher', 0.25],
      ],
      2,
    );
    expect(Object.fromEntries(shares)).toEqual({ leecher: 0.25, seed: 0.875, edge: 0.875 });
    const MiB = 1024 * 1024;
    // The seed of the test above (1 MiB/s up) and an edge without top-up (16 MiB/s): in the second
    // leecher's first second the seed gets 2/17 of the 2 MiB/s downlink in proportion, 1 MiB shared fairly.
    const run: Scenario = {
      ...small,
      durationS: 21,
      objects: 1,
      piecesPerObject: 40,
      arrivalTimesS: [0, 20],
      seedTimeFixedS: 100,
      abortShare: 0,
      peerUploadBytesPerS: [1 * MiB],
      cdnStartPieces: [...Array(40).keys()],
      cdnTopUpBytesPerS: 0,
      policy: { ...small.policy, lowCopies: 1, highCopies: 1000, copiesPerLeecher: 0 },
      // The sharing rule alone: with block requests the edge could offer no more than the 10 MiB missing.
      requests: undefined,
    };
    expect(simulate(run, 'function').peerBytes / MiB).toBeCloseTo(2 / 17, 3);
    expect(simulate({ ...run, downlinkShare: 'fair' }, 'function').peerBytes / MiB).toBeCloseTo(1, 3);
  });

  it('holds a fast source to the blocks slow sources have not requested, and one busy block per round trip in end-game', () => {
    const KiB = 1024;
    // 4 pieces of 64 KiB; the edge holds all of them and four seeds at 1 KiB/s each hold 64 KiB of requests,
    // so every missing byte is requested from a seed: the edge sends only in end-game, 110 KiB/s, and the
    // fifth leecher takes 2.25 s for 256 KiB (0.5 s without requests: the edge fills the 512 KiB/s downlink).
    const run: Scenario = {
      ...small,
      durationS: 30,
      objects: 1,
      piecesPerObject: 4,
      pieceBytes: 64 * KiB,
      arrivalTimesS: [0, 0, 0, 0, 10],
      seedTimeFixedS: 100,
      abortShare: 0,
      peerUploadBytesPerS: [1 * KiB],
      peerDownloadBytesPerS: 512 * KiB,
      cdnStartPieces: [0, 1, 2, 3],
      cdnTopUpBytesPerS: 0,
      policy: { ...small.policy, lowCopies: 1, highCopies: 1000, copiesPerLeecher: 0 },
      requests: { queueBytes: 64 * KiB, endgameBytesPerS: 110 * KiB },
    };
    const times: number[] = [];
    simulate(run, 'function', { peerDone: (record) => times.push(record.doneAt - record.arrivedAt) });
    // The first four have only the edge (no seed yet): 0.5 s each, downlink-bound.
    expect(times.slice(0, 4).every((t) => t <= 0.5)).toBe(true);
    expect(times[4]).toBeGreaterThan(2);
    expect(times[4]).toBeLessThan(3);
    const fluid: number[] = [];
    simulate({ ...run, requests: undefined }, 'function', {
      peerDone: (record) => fluid.push(record.doneAt - record.arrivedAt),
    });
    expect(fluid[4]).toBeLessThanOrEqual(0.5);
  });

  it("measures top-up by HAVEs as the agent's meter does: a whole piece counts when it completes, the edge's bytes in bursts of the 2 s window", () => {
    const MiB = 1024 * 1024;
    // A seed that uploads nothing makes the swarm paced (not the only source) while giving nothing: the
    // second leecher gets only the edge. The meter sees no other source (HAVEs = the edge's bytes), the
    // allowance is the whole rate, and the window lets the edge send 2 s of it at once: 1 MiB in one second,
    // nothing the next (its bytes in the window are at the allowance), 1 MiB again: 4 MiB in 7 s.
    const run: Scenario = {
      ...small,
      durationS: 60,
      objects: 1,
      piecesPerObject: 16, // 4 MiB
      arrivalTimesS: [0, 20],
      seedTimeFixedS: 100,
      abortShare: 0,
      peerUploadBytesPerS: [0],
      cdnStartPieces: [...Array(16).keys()],
      cdnTopUpBytesPerS: 0.5 * MiB,
      policy: { ...small.policy, lowCopies: 1, highCopies: 1000, copiesPerLeecher: 0 },
      topUpMeter: 'haves',
    };
    const times: number[] = [];
    simulate(run, 'function', { peerDone: (record) => times.push(record.doneAt - record.arrivedAt) });
    expect(times[1]).toBeCloseTo(7, 5);
    // Measured by the last second's peer bytes (none), the edge sends 0.5 MiB every second: 8 s.
    const byPeerBytes: number[] = [];
    simulate({ ...run, topUpMeter: 'peer-bytes' }, 'function', {
      peerDone: (record) => byPeerBytes.push(record.doneAt - record.arrivedAt),
    });
    expect(byPeerBytes[1]).toBeCloseTo(8, 5);
  });

  it("gives the edge's slot up at the choker's tick when top-up finds the leecher served by peers (cdnRechokeS)", () => {
    const MiB = 1024 * 1024;
    // One edge slot. The first leecher, alone, becomes a seed at 1 MiB/s; two more arrive at 11 s and get
    // 0.5 MiB/s each from it, over half the 0.8 MiB/s top-up rate: at the tick at 20 s the first of them
    // yields the edge's slot to the second, as the agent's choker does (topUpSatisfied). Without the
    // choker the second never gets it: the first keeps it until done (a rotated earlier arrival gets it back).
    const run: Scenario = {
      ...small,
      durationS: 120,
      objects: 1,
      piecesPerObject: 80, // 20 MiB
      arrivalTimesS: [0, 11, 11],
      seedTimeFixedS: 100,
      abortShare: 0,
      peerUploadBytesPerS: [1 * MiB],
      cdnStartPieces: [...Array(80).keys()],
      cdnTopUpBytesPerS: 0.8 * MiB,
      cdnUploadSlots: 1,
      cdnSlotHoldS: 30,
      policy: { ...small.policy, lowCopies: 1, highCopies: 1000, copiesPerLeecher: 0 },
    };
    const slotAt = (scenario: Scenario) => {
      const at = new Map<number, number | null>();
      simulate(scenario, 'function', { peerDone: (record) => at.set(record.id, record.edgeSlotAt) });
      return at;
    };
    expect(slotAt({ ...run, cdnRechokeS: 10 }).get(2)).toBe(20);
    expect(slotAt(run).get(2)).toBeNull();
  });
});
