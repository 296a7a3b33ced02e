import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SETTINGS,
  decide,
  initialState,
  type PolicyState,
  type StorageControlSettings,
  type SwarmInput,
  settingsProblems,
} from '../../src/policy/index.ts';

const PIECE = 1000;
const T0 = 1_700_000_000_000;

const settings = (overrides: Partial<StorageControlSettings> = {}): StorageControlSettings => ({
  ...DEFAULT_SETTINGS,
  lowCopies: 2,
  highCopies: 4,
  holdMs: 10_000,
  budgetBytes: 1_000_000,
  opsPerMinute: 600,
  staleMs: 60_000,
  ...overrides,
});

/** A swarm of pieces with these copies outside the CDN (cdn: copies on CDN nodes, this one included). */
function swarm(
  outside: number[],
  options: {
    held?: boolean[];
    reserved?: boolean[];
    cdn?: number[];
    demand?: number;
    receivedAt?: number;
    infoHash?: string;
  } = {},
): SwarmInput {
  const n = outside.length;
  const held = options.held ?? new Array(n).fill(false);
  const cdn = options.cdn ?? held.map((h) => (h ? 1 : 0));
  return {
    infoHash: options.infoHash ?? 'a'.repeat(40),
    pieceCount: n,
    pieceLength: PIECE,
    length: n * PIECE,
    held,
    ...(options.reserved ? { reserved: options.reserved } : {}),
    ingestBlocked: null,
    stats: {
      counts: {
        version: 1,
        receivedAt: options.receivedAt ?? T0,
        swarmCopies: outside.map((o, i) => o + cdn[i]!),
        cdnCopies: cdn,
        demand: options.demand ?? 3,
        seeds: 0,
        leechers: options.demand ?? 3,
      },
      problem: null,
    },
  };
}

const actions = (round: ReturnType<typeof decide>, s = 0) =>
  round.swarms[s]!.pieces.map((p) => `${p.action}:${p.reason}`);

describe('decide: ingest', () => {
  it('ingests a piece below the low mark that leechers want, and leaves pieces with enough copies', () => {
    const round = decide(settings(), [swarm([0, 1, 2, 5])], initialState(), T0);
    expect(actions(round)).toEqual(['ingest:rare', 'ingest:rare', 'skip:enough-copies', 'skip:enough-copies']);
    expect(round.swarms[0]!.ingest).toEqual([
      { piece: 0, reason: 'rare', from: 'origin' },
      { piece: 1, reason: 'rare', from: 'origin' },
    ]);
    expect(round.swarms[0]!.pieces[0]!.detail).toContain('0 copies outside the CDN');
  });

  it('ingests nothing while no leecher wants the object', () => {
    const round = decide(settings(), [swarm([0, 0], { demand: 0 })], initialState(), T0);
    expect(actions(round)).toEqual(['skip:no-demand', 'skip:no-demand']);
    expect(round.swarms[0]!.ingest).toEqual([]);
  });

  it('ingests on demand per copy, also at the high mark (a piece so wanted is not plentiful: no purge back)', () => {
    const round = decide(settings({ demandPerCopy: 5 }), [swarm([2, 3, 4, 3], { demand: 20 })], initialState(), T0);
    // 20/2, 20/3 and 20/4 >= 5; 4 copies is the high mark, but 5 leechers a copy keep it from being plentiful.
    expect(actions(round)).toEqual(['ingest:demand', 'ingest:demand', 'ingest:demand', 'ingest:demand']);
    const calm = decide(settings({ demandPerCopy: 6 }), [swarm([3], { demand: 15 })], initialState(), T0);
    expect(actions(calm)).toEqual(['skip:enough-copies']);
  });

  it('with copiesPerLeecher, ingests and keeps pieces while copies outside are fewer than leechers x it', () => {
    const s = settings({ copiesPerLeecher: 4, highCopies: 6 });
    // 2 leechers need 8 copies: 5 and 7 are short (ingest, keep although at the high mark); 8 is enough.
    const round = decide(
      s,
      [swarm([5, 7, 8, 7], { demand: 2, held: [false, false, false, true] })],
      initialState(),
      T0,
    );
    expect(actions(round)).toEqual(['ingest:demand', 'ingest:demand', 'skip:enough-copies', 'keep:needed']);
    expect(round.swarms[0]!.pieces[0]!.detail).toContain('2 leechers need 8 copies');
    const later = decide(
      s,
      [swarm([5, 7, 8, 7], { demand: 2, held: [true, true, false, true], receivedAt: T0 + 600_000 })],
      round.state,
      T0 + 600_000,
    );
    expect(actions(later)).toEqual(['keep:needed', 'keep:needed', 'skip:enough-copies', 'keep:needed']);
  });

  it('ingests the rarest pieces first when the budget is short, and defers the rest with no-room', () => {
    const round = decide(settings({ budgetBytes: 2 * PIECE }), [swarm([1, 0, 1, 0])], initialState(), T0);
    expect(actions(round)).toEqual(['defer:no-room', 'ingest:rare', 'defer:no-room', 'ingest:rare']);
    expect(round.swarms[0]!.pieces[0]!.detail).toContain('wanted rare');
  });

  it('ingests nothing with a budget smaller than one piece', () => {
    const round = decide(settings({ budgetBytes: PIECE - 1 }), [swarm([0, 0])], initialState(), T0);
    expect(round.swarms[0]!.ingest).toEqual([]);
    expect(actions(round)).toEqual(['defer:no-room', 'defer:no-room']);
  });

  it('counts held pieces against the budget', () => {
    const round = decide(
      settings({ budgetBytes: 2 * PIECE }),
      [swarm([1, 1, 0], { held: [true, true, false] })],
      initialState(),
      T0,
    );
    expect(actions(round)[2]).toBe('defer:no-room');
  });

  it('defers ingest of an object that cannot be ingested now', () => {
    const input = { ...swarm([0]), ingestBlocked: 'no origin recorded' };
    const round = decide(settings(), [input], initialState(), T0);
    expect(actions(round)).toEqual(['defer:ingest-blocked']);
    expect(round.swarms[0]!.pieces[0]!.detail).toContain('no origin recorded');
  });

  it('keeps within the ingest bandwidth: a burst of 10 s, then the rate', () => {
    const s = settings({ ingestBytesPerSecond: 200 });
    const first = decide(s, [swarm(new Array(4).fill(0))], initialState(), T0);
    // 10 s x 200 B/s = 2000 bytes: two pieces.
    expect(first.swarms[0]!.ingest.map((x) => x.piece)).toEqual([0, 1]);
    expect(actions(first).slice(2)).toEqual(['defer:bandwidth-limit', 'defer:bandwidth-limit']);
    const soon = decide(s, [swarm([0, 0, 0, 0], { held: [true, true, false, false] })], first.state, T0 + 1000);
    expect(soon.swarms[0]!.ingest).toEqual([]);
    const later = decide(s, [swarm([0, 0, 0, 0], { held: [true, true, false, false] })], first.state, T0 + 5000);
    expect(later.swarms[0]!.ingest.map((x) => x.piece)).toEqual([2]);
  });

  it('spends one operation per swarm and round, and waits for the bucket to refill', () => {
    const s = settings({ opsPerMinute: 1 });
    const a = swarm([0, 0], { infoHash: 'a'.repeat(40) });
    const b = swarm([0, 0], { infoHash: 'b'.repeat(40) });
    const first = decide(s, [a, b], initialState(), T0);
    expect(first.swarms[0]!.ingest.map((x) => x.piece)).toEqual([0, 1]);
    expect(actions(first, 1)).toEqual(['defer:ops-limit', 'defer:ops-limit']);
    const soon = decide(s, [b], first.state, T0 + 30_000);
    expect(soon.swarms[0]!.ingest).toEqual([]);
    const later = decide(s, [b], first.state, T0 + 60_000);
    expect(later.swarms[0]!.ingest.map((x) => x.piece)).toEqual([0, 1]);
  });
});

describe('decide: purge', () => {
  const held = [true];

  it('purges a piece only after its copies stayed at the high mark for the hold time', () => {
    const s = settings();
    let state: PolicyState = initialState();
    const at = (ms: number, outside: number) => {
      const round = decide(s, [swarm([outside], { held })], state, T0 + ms);
      state = round.state;
      return actions(round)[0];
    };
    expect(at(0, 4)).toBe('keep:plentiful-waiting');
    expect(at(9_999, 5)).toBe('keep:plentiful-waiting');
    expect(at(10_000, 4)).toBe('purge:plentiful');
  });

  it('starts the hold again when copies drop below the high mark in between (hysteresis)', () => {
    const s = settings();
    let state: PolicyState = initialState();
    const at = (ms: number, outside: number) => {
      const round = decide(s, [swarm([outside], { held })], state, T0 + ms);
      state = round.state;
      return actions(round)[0];
    };
    expect(at(0, 4)).toBe('keep:plentiful-waiting');
    expect(at(5_000, 3)).toBe('keep:needed');
    expect(at(12_000, 4)).toBe('keep:plentiful-waiting');
    expect(at(21_999, 4)).toBe('keep:plentiful-waiting');
    expect(at(22_000, 4)).toBe('purge:plentiful');
  });

  it('with demandPerCopy, keeps a piece at the high mark while leechers per copy reach it', () => {
    const s = settings({ demandPerCopy: 3, holdMs: 0 });
    expect(actions(decide(s, [swarm([4], { held: [true], demand: 12 })], initialState(), T0))).toEqual(['keep:needed']);
    expect(actions(decide(s, [swarm([4], { held: [true], demand: 11 })], initialState(), T0))).toEqual([
      'purge:plentiful',
    ]);
  });

  it('keeps a piece between the marks, and never ingests it back at once after a purge', () => {
    const round = decide(settings(), [swarm([2, 3], { held: [true, false] })], initialState(), T0);
    expect(actions(round)).toEqual(['keep:needed', 'skip:enough-copies']);
  });

  it('never purges the only copy, even over budget', () => {
    const round = decide(settings({ budgetBytes: 0 }), [swarm([0, 0], { held: [true, true] })], initialState(), T0);
    expect(actions(round)).toEqual(['keep:only-copy', 'keep:only-copy']);
    expect(round.swarms[0]!.purge).toEqual([]);
  });

  it('purges over budget the most plentiful pieces that have another copy', () => {
    const round = decide(
      settings({ budgetBytes: 2 * PIECE }),
      [swarm([1, 3, 0, 2], { held: [true, true, true, true] })],
      initialState(),
      T0,
    );
    expect(round.swarms[0]!.purge).toEqual([
      { piece: 1, reason: 'over-budget', setAside: false },
      { piece: 3, reason: 'over-budget', setAside: false },
    ]);
    expect(actions(round)[2]).toBe('keep:only-copy');
  });

  it('purges what it ingested once the TTL ran out, unless the piece is still rare', () => {
    const s = settings({ ttlMs: 30_000 });
    const first = decide(s, [swarm([0, 0])], initialState(), T0);
    expect(first.swarms[0]!.ingest.map((x) => x.piece)).toEqual([0, 1]);
    const after = decide(s, [swarm([2, 1], { held: [true, true] })], first.state, T0 + 30_000);
    expect(actions(after)).toEqual(['purge:ttl', 'keep:ttl-still-rare']);
  });

  it('applies no TTL to pieces it did not ingest', () => {
    const s = settings({ ttlMs: 1 });
    const round = decide(s, [swarm([3], { held: [true], receivedAt: T0 + 100_000 })], initialState(), T0 + 100_000);
    expect(actions(round)).toEqual(['keep:needed']);
  });

  it('does not count a CDN node as a copy outside the CDN', () => {
    // 5 copies in the swarm, 2 of them on CDN nodes (this one and another): 3 outside, below the high mark.
    const round = decide(settings(), [swarm([3], { held: [true], cdn: [2] })], initialState(), T0);
    expect(round.swarms[0]!.pieces[0]).toMatchObject({ swarmCopies: 5, outsideCopies: 3, action: 'keep' });
  });
});

describe('decide: making room when the budget is full', () => {
  const budget = settings({ budgetBytes: 2 * PIECE });

  it('purges pieces of a swarm no leecher wants, even its only copy, for a rare piece leechers want', () => {
    const idle = swarm([0, 0], { held: [true, true], demand: 0, infoHash: 'b'.repeat(40) });
    const busy = swarm([0], { infoHash: 'a'.repeat(40) });
    const round = decide(budget, [busy, idle], initialState(), T0);
    expect(round.swarms[0]!.ingest).toEqual([{ piece: 0, reason: 'rare', from: 'origin' }]);
    expect(round.swarms[1]!.purge).toEqual([{ piece: 0, reason: 'make-room', setAside: false }]);
    expect(round.swarms[1]!.pieces[0]!.detail).toContain('no leecher wants this object');
  });

  it('purges a piece with more copies outside the CDN (at least the low mark), never a rare one leechers want', () => {
    const round = decide(budget, [swarm([3, 1, 0], { held: [true, true, false] })], initialState(), T0);
    expect(round.swarms[0]!.purge).toEqual([{ piece: 0, reason: 'make-room', setAside: false }]);
    expect(round.swarms[0]!.ingest).toEqual([{ piece: 2, reason: 'rare', from: 'origin' }]);
    const stuck = decide(budget, [swarm([1, 1, 0], { held: [true, true, false] })], initialState(), T0);
    expect(stuck.swarms[0]!.purge).toEqual([]);
    expect(actions(stuck)[2]).toBe('defer:no-room');
  });
});

describe('decide: statistics that cannot be used', () => {
  const plentiful = (receivedAt: number) => swarm([9, 0], { held: [true, false], receivedAt });

  it('holds stale statistics: no purge of a plentiful piece, no ingest of a rare one', () => {
    const s = settings({ holdMs: 0, staleMs: 60_000 });
    const round = decide(s, [plentiful(T0)], initialState(), T0 + 60_001);
    expect(round.swarms[0]).toMatchObject({ stats: 'stale', ingest: [], purge: [] });
    expect(actions(round)).toEqual(['hold:stats-stale', 'hold:stats-stale']);
  });

  it('never purges on stale statistics, not over budget nor to make room for another swarm', () => {
    // Swarm a: stale, its held pieces looking plentiful (9 copies) in counts that may be long wrong. Swarm b:
    // fresh, a rare piece leechers want, and no room for it unless a's pieces go.
    const s = settings({ holdMs: 0, staleMs: 60_000, budgetBytes: 2 * PIECE });
    const stale = swarm([9, 9], { held: [true, true], receivedAt: T0, infoHash: 'a'.repeat(40) });
    const fresh = swarm([0], { receivedAt: T0 + 60_000, infoHash: 'b'.repeat(40) });
    const round = decide(s, [stale, fresh], initialState(), T0 + 60_001);
    expect(round.swarms[0]).toMatchObject({ stats: 'stale', purge: [], drop: [] });
    expect(actions(round, 0)).toEqual(['hold:stats-stale', 'hold:stats-stale']);
    expect(round.swarms[1]).toMatchObject({ stats: 'ok', ingest: [] });
    expect(round.swarms[1]!.pieces[0]).toMatchObject({ action: 'defer', reason: 'no-room' });
    // Over budget (lowered to one piece) with stale counts: nothing is purged either.
    const lowered = decide({ ...s, budgetBytes: PIECE }, [stale], initialState(), T0 + 60_001);
    expect(lowered.swarms[0]).toMatchObject({ purge: [], drop: [] });
  });

  it('holds on unreachable and malformed statistics, says so, and shows the last decision', () => {
    const s = settings();
    const first = decide(s, [plentiful(T0)], initialState(), T0);
    expect(actions(first)).toEqual(['keep:plentiful-waiting', 'ingest:rare']);
    for (const kind of ['unreachable', 'malformed'] as const) {
      const input = plentiful(T0);
      input.stats = { ...input.stats, problem: { kind, detail: `statistics ${kind}`, since: T0 + 1 } };
      const round = decide(s, [input], first.state, T0 + 20_000);
      expect(round.swarms[0]).toMatchObject({ stats: kind, ingest: [], purge: [] });
      expect(actions(round)).toEqual([`hold:stats-${kind}`, `hold:stats-${kind}`]);
      expect(round.swarms[0]!.pieces[0]!.detail).toContain('last decision: keep (plentiful-waiting)');
    }
  });

  it('starts the hold time again after a gap in usable statistics', () => {
    const s = settings();
    const first = decide(s, [plentiful(T0)], initialState(), T0);
    const gap = plentiful(T0);
    gap.stats = { ...gap.stats, problem: { kind: 'unreachable', detail: 'down', since: T0 + 1 } };
    const during = decide(s, [gap], first.state, T0 + 5_000);
    const back = decide(s, [plentiful(T0 + 11_000)], during.state, T0 + 11_000);
    expect(actions(back)[0]).toBe('keep:plentiful-waiting');
  });

  it('holds before the first statistics, and on counts for another number of pieces', () => {
    const none = { ...swarm([0]), stats: { counts: null, problem: null } };
    expect(actions(decide(settings(), [none], initialState(), T0))).toEqual(['hold:no-stats']);
    const wrong = swarm([0, 0]);
    wrong.pieceCount = 3;
    wrong.length = 3 * PIECE;
    wrong.held = [false, false, false];
    expect(decide(settings(), [wrong], initialState(), T0).swarms[0]!.stats).toBe('malformed');
  });
});

describe('settingsProblems', () => {
  it('accepts the defaults and refuses marks without hysteresis', () => {
    expect(settingsProblems(DEFAULT_SETTINGS)).toEqual([]);
    expect(settingsProblems({ ...DEFAULT_SETTINGS, lowCopies: 3, highCopies: 3 })).toHaveLength(1);
    expect(settingsProblems({ ...DEFAULT_SETTINGS, lowCopies: 0 })).toHaveLength(1);
  });
});

describe('decide: pieces set aside (setAside)', () => {
  it('sets a plentiful piece aside and puts it back from there, not the origin, when it turns rare', () => {
    const s = settings({ holdMs: 0 });
    const purged = decide(s, [swarm([5], { held: [true] })], initialState(), T0);
    expect(purged.swarms[0]!.purge).toEqual([{ piece: 0, reason: 'plentiful', setAside: true }]);
    expect(purged.swarms[0]!.pieces[0]!.detail).toContain('set aside here');
    const rare = decide(s, [swarm([0], { reserved: [true] })], purged.state, T0 + 1000);
    expect(rare.swarms[0]!.ingest).toEqual([{ piece: 0, reason: 'rare', from: 'reserve' }]);
    expect(rare.swarms[0]!.pieces[0]!.detail).toContain('put back from the pieces set aside');
    // Off: a plentiful piece is removed; a TTL always removes.
    const off = decide(settings({ holdMs: 0, setAside: false }), [swarm([5], { held: [true] })], initialState(), T0);
    expect(off.swarms[0]!.purge).toEqual([{ piece: 0, reason: 'plentiful', setAside: false }]);
    const ttl = settings({ ttlMs: 1000, highCopies: 9 });
    const ingested = decide(ttl, [swarm([0])], initialState(), T0);
    const expired = decide(ttl, [swarm([3], { held: [true], receivedAt: T0 + 2000 })], ingested.state, T0 + 2000);
    expect(expired.swarms[0]!.purge).toEqual([{ piece: 0, reason: 'ttl', setAside: false }]);
  });

  it('counts pieces set aside against the budget and discards them first when room is needed', () => {
    const aside = swarm([5, 6], { reserved: [true, true], infoHash: 'a'.repeat(40) });
    const wanting = swarm([0], { infoHash: 'b'.repeat(40) });
    const round = decide(settings({ budgetBytes: 2 * PIECE }), [aside, wanting], initialState(), T0);
    // The most plentiful piece set aside goes; nothing held is purged.
    expect(round.swarms[0]!.drop).toEqual([{ piece: 1, reason: 'make-room' }]);
    expect(round.swarms[0]!.purge).toEqual([]);
    expect(round.swarms[1]!.ingest).toEqual([{ piece: 0, reason: 'rare', from: 'origin' }]);
    expect(actions(round)).toEqual(['skip:enough-copies', 'drop:make-room']);
    const over = decide(settings({ budgetBytes: PIECE }), [aside], initialState(), T0);
    expect(over.swarms[0]!.drop).toEqual([{ piece: 1, reason: 'over-budget' }]);
  });
});

describe('decide: the only source of a wanted piece (soleSource: top-up does not pace the swarm)', () => {
  it('is the only source when it holds a piece no peer outside the CDN has, while leechers want pieces', () => {
    // No seed yet: every held piece has 0 copies outside the CDN.
    const round = decide(settings(), [swarm([0, 0], { held: [true, true] })], initialState(), T0);
    expect(round.swarms[0]!.soleSource).toBe(true);
  });

  it('is the only source of a piece it ingests this round', () => {
    const round = decide(settings(), [swarm([0, 5])], initialState(), T0);
    expect(round.swarms[0]!.ingest.map((i) => i.piece)).toEqual([0]);
    expect(round.swarms[0]!.soleSource).toBe(true);
  });

  it('is not when every piece it holds has a copy outside the CDN, nobody wants pieces, or statistics are unusable', () => {
    const seeded = decide(settings(), [swarm([1, 3], { held: [true, true] })], initialState(), T0);
    expect(seeded.swarms[0]!.soleSource).toBe(false);
    // A piece nobody outside has, but not held here and not ingested (the budget has no room): not a source.
    const full = decide(settings({ budgetBytes: 0 }), [swarm([0, 3], { held: [false, true] })], initialState(), T0);
    expect(full.swarms[0]!.ingest).toEqual([]);
    expect(full.swarms[0]!.soleSource).toBe(false);
    const idle = decide(settings(), [swarm([0, 0], { held: [true, true], demand: 0 })], initialState(), T0);
    expect(idle.swarms[0]!.soleSource).toBe(false);
    const stale = decide(
      settings(),
      [swarm([0, 0], { held: [true, true], receivedAt: T0 - 120_000 })],
      initialState(),
      T0,
    );
    expect(stale.swarms[0]!.stats).toBe('stale');
    expect(stale.swarms[0]!.soleSource).toBe(false);
  });
});

describe('decide: which swarms top-up paces (paced, settings.paceSeedsPerLeecher)', () => {
  it('paces every swarm the edge is not the only source of while paceSeedsPerLeecher is 0', () => {
    const thin = decide(settings(), [swarm([1, 1], { held: [true, true], demand: 10 })], initialState(), T0);
    expect(thin.swarms[0]!.paced).toBe(true);
    const sole = decide(settings(), [swarm([0, 0], { held: [true, true] })], initialState(), T0);
    expect(sole.swarms[0]!.paced).toBe(false);
  });

  it('leaves a thin swarm unpaced: seeds outside the CDN (the fewest copies of any piece) below the mark per leecher', () => {
    const s = settings({ paceSeedsPerLeecher: 1 });
    // 10 leechers, at most 3 seeds (the rarest piece has 3 copies outside): 0.3 seeds per leecher.
    const thin = decide(s, [swarm([3, 7], { held: [true, true], demand: 10 })], initialState(), T0);
    expect(thin.swarms[0]!.soleSource).toBe(false);
    expect(thin.swarms[0]!.paced).toBe(false);
    // 4 leechers, 5 seeds: paced.
    const rich = decide(s, [swarm([5, 9], { held: [true, true], demand: 4 })], initialState(), T0);
    expect(rich.swarms[0]!.paced).toBe(true);
    // Exactly at the mark: paced.
    const even = decide(settings({ paceSeedsPerLeecher: 2 }), [swarm([8, 8], { demand: 4 })], initialState(), T0);
    expect(even.swarms[0]!.paced).toBe(true);
  });

  it('paces as before when statistics are unusable or nobody wants pieces (nothing to measure the swarm by)', () => {
    const s = settings({ paceSeedsPerLeecher: 4 });
    const idle = decide(s, [swarm([1, 1], { held: [true, true], demand: 0 })], initialState(), T0);
    expect(idle.swarms[0]!.paced).toBe(true);
    const stale = decide(s, [swarm([1, 1], { held: [true, true], receivedAt: T0 - 120_000 })], initialState(), T0);
    expect(stale.swarms[0]!.paced).toBe(true);
  });

  it('rejects a negative paceSeedsPerLeecher', () => {
    expect(settingsProblems(settings({ paceSeedsPerLeecher: -1 }))).toContain('paceSeedsPerLeecher must be >= 0');
  });
});
