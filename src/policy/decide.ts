// The decision core of the Network Storage Control Function: one round turns each swarm's statistics, what
// this node holds and what the function remembers into per-piece decisions, within a storage budget and
// rate limits. A pure function of its arguments (no clock, no I/O): the agent and the simulator call it
// with their own time. docs/policy.md states the rules this file implements.
import type {
  DecisionReason,
  PieceAction,
  PieceDecision,
  PolicyState,
  Round,
  StatsState,
  StorageControlSettings,
  SwarmCounts,
  SwarmDecision,
  SwarmInput,
  SwarmMemory,
} from './types.ts';

/** The bandwidth bucket holds this many seconds of ingestBytesPerSecond (at least the largest piece). */
export const BANDWIDTH_BURST_S = 10;

export const DEFAULT_SETTINGS: StorageControlSettings = {
  lowCopies: 2,
  highCopies: 4,
  demandPerCopy: 0,
  copiesPerLeecher: 0,
  paceSeedsPerLeecher: 0,
  holdMs: 60_000,
  ttlMs: 0,
  budgetBytes: 10 * 1024 ** 3,
  ingestBytesPerSecond: 0,
  opsPerMinute: 60,
  staleMs: 120_000,
  setAside: true,
};

/** What is wrong with settings, one sentence each (empty when they can be used). */
export function settingsProblems(s: StorageControlSettings): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(s.lowCopies) || s.lowCopies < 1) problems.push('lowCopies must be a whole number >= 1');
  if (!Number.isInteger(s.highCopies) || s.highCopies <= s.lowCopies) {
    problems.push(`highCopies (${s.highCopies}) must be a whole number above lowCopies (${s.lowCopies})`);
  }
  if (!(s.demandPerCopy >= 0)) problems.push('demandPerCopy must be >= 0');
  if (!(s.copiesPerLeecher >= 0)) problems.push('copiesPerLeecher must be >= 0');
  if (!(s.paceSeedsPerLeecher >= 0)) problems.push('paceSeedsPerLeecher must be >= 0');
  if (!(s.opsPerMinute >= 1)) problems.push('opsPerMinute must be >= 1');
  for (const key of ['holdMs', 'ttlMs', 'budgetBytes', 'ingestBytesPerSecond', 'staleMs'] as const) {
    if (!(s[key] >= 0)) problems.push(`${key} must be >= 0`);
  }
  return problems;
}

export function initialState(): PolicyState {
  return { swarms: {}, opsTokens: 0, bytesTokens: 0, tokensAt: null };
}

function pieceBytes(swarm: SwarmInput, piece: number): number {
  return Math.max(0, Math.min(swarm.pieceLength, swarm.length - piece * swarm.pieceLength));
}

/** The swarm's statistics state at `now`, and the counts if they can be used. */
function statsState(
  swarm: SwarmInput,
  settings: StorageControlSettings,
  now: number,
): { state: StatsState; detail: string | null; counts: SwarmCounts | null } {
  const { counts, problem } = swarm.stats;
  if (problem !== null) {
    const since = new Date(problem.since).toISOString();
    return { state: problem.kind, detail: `${problem.detail} (since ${since})`, counts: null };
  }
  if (counts === null) return { state: 'none', detail: 'no statistics received yet', counts: null };
  if (counts.swarmCopies.length !== swarm.pieceCount || counts.cdnCopies.length !== swarm.pieceCount) {
    return {
      state: 'malformed',
      detail: `statistics give ${counts.swarmCopies.length} pieces, the object has ${swarm.pieceCount}`,
      counts: null,
    };
  }
  const age = now - counts.receivedAt;
  if (age > settings.staleMs) {
    return {
      state: 'stale',
      detail: `statistics are ${Math.round(age / 1000)} s old (staleMs ${settings.staleMs})`,
      counts: null,
    };
  }
  return { state: 'ok', detail: null, counts };
}

const HOLD_REASON: Record<Exclude<StatsState, 'ok'>, DecisionReason> = {
  stale: 'stats-stale',
  malformed: 'stats-malformed',
  unreachable: 'stats-unreachable',
  none: 'no-stats',
};

function memoryFor(state: PolicyState, swarm: SwarmInput): SwarmMemory {
  const old = state.swarms[swarm.infoHash];
  const n = swarm.pieceCount;
  if (old === undefined || old.plentifulSince.length !== n) {
    return { plentifulSince: new Array(n).fill(null), ingestedAt: new Array(n).fill(null), last: null };
  }
  return { plentifulSince: [...old.plentifulSince], ingestedAt: [...old.ingestedAt], last: old.last };
}

interface Wanted {
  swarm: SwarmInput;
  decision: SwarmDecision;
  piece: PieceDecision;
  outside: number;
  demand: number;
  bytes: number;
  /** Set aside here: putting it back costs no origin bytes, no bandwidth and no room. */
  reserved: boolean;
}

/**
 * One round over every controlled swarm. Rules, per piece of a swarm whose statistics are usable:
 * - held, copies outside the CDN >= highCopies for holdMs: purge ('plentiful');
 * - held, ingested by the function ttlMs ago: purge ('ttl') if copies outside >= lowCopies, else keep;
 * - not held, leechers want pieces, copies outside < lowCopies ('rare') or leechers per copy outside >=
 *   demandPerCopy below highCopies ('demand'): ingest, rarest first, within budget and rate limits;
 * - held beyond budgetBytes: purge the most plentiful pieces that have another copy ('over-budget').
 * A piece is never purged unless another copy is known (outside the CDN, or on another CDN node). With
 * statistics stale, malformed, unreachable or not yet received, the swarm's pieces are held: nothing is
 * ingested or purged, and hold timers start again once statistics are usable.
 */
export function decide(
  settings: StorageControlSettings,
  swarms: readonly SwarmInput[],
  previous: PolicyState,
  now: number,
): Round {
  const state: PolicyState = { ...previous, swarms: {} };
  // Token buckets: opsPerMinute operations a minute (a minute's worth at most), bytes at the ingest rate.
  const largestPiece = swarms.reduce((max, s) => Math.max(max, s.pieceLength), 0);
  const opsCap = settings.opsPerMinute;
  const bytesCap = Math.max(settings.ingestBytesPerSecond * BANDWIDTH_BURST_S, largestPiece);
  if (state.tokensAt === null) {
    state.opsTokens = opsCap;
    state.bytesTokens = bytesCap;
  } else {
    const elapsed = Math.max(0, now - state.tokensAt);
    state.opsTokens = Math.min(opsCap, state.opsTokens + (elapsed * settings.opsPerMinute) / 60_000);
    state.bytesTokens = Math.min(bytesCap, state.bytesTokens + (elapsed * settings.ingestBytesPerSecond) / 1000);
  }
  state.tokensAt = now;

  const decisions: SwarmDecision[] = [];
  const memories = new Map<string, SwarmMemory>();
  const wantIngest: Wanted[] = [];
  const wantPurge = new Map<SwarmDecision, Array<{ piece: PieceDecision; bytes: number }>>();
  const purgeable: Array<{ decision: SwarmDecision; piece: PieceDecision; outside: number; bytes: number }> = [];
  // Held pieces that may make room for a wanted one: those of swarms nobody wants, and those with another copy.
  const roomable: Array<{
    decision: SwarmDecision;
    piece: PieceDecision;
    outside: number;
    bytes: number;
    idle: boolean;
    elsewhere: number;
  }> = [];
  // Set-aside pieces nobody is getting back this round: the first to go when room is needed.
  const droppable: Array<{
    decision: SwarmDecision;
    piece: PieceDecision;
    outside: number;
    bytes: number;
    idle: boolean;
  }> = [];
  let heldBytes = 0;

  for (const swarm of swarms) {
    const memory = memoryFor(previous, swarm);
    memories.set(swarm.infoHash, memory);
    const stats = statsState(swarm, settings, now);
    const decision: SwarmDecision = {
      infoHash: swarm.infoHash,
      at: now,
      stats: stats.state,
      statsDetail: stats.detail,
      statsVersion: swarm.stats.counts?.version ?? null,
      statsReceivedAt: swarm.stats.counts?.receivedAt ?? null,
      pieces: [],
      ingest: [],
      purge: [],
      drop: [],
      soleSource: false,
      paced: true,
    };
    decisions.push(decision);
    for (let i = 0; i < swarm.pieceCount; i++) {
      const held = swarm.held[i] === true;
      const bytes = pieceBytes(swarm, i);
      if (held || swarm.reserved?.[i] === true) heldBytes += bytes;
      // A piece the function ingested that is gone (purged by hand, failed ingest) is no longer its own.
      if (!held && memory.ingestedAt[i] !== null && memory.ingestedAt[i]! < now) memory.ingestedAt[i] = null;
    }
    if (stats.counts === null) {
      const reason = HOLD_REASON[stats.state as Exclude<StatsState, 'ok'>];
      memory.plentifulSince.fill(null);
      for (let i = 0; i < swarm.pieceCount; i++) {
        const last = memory.last?.[i];
        const lastText = last ? `; last decision: ${last.action} (${last.reason})` : '';
        decision.pieces.push({
          piece: i,
          held: swarm.held[i] === true,
          swarmCopies: null,
          outsideCopies: null,
          demand: null,
          action: 'hold',
          reason,
          detail: `holding: ${stats.detail}; nothing is ingested or purged${lastText}`,
        });
      }
      continue;
    }
    const counts = stats.counts;
    const purges: Array<{ piece: PieceDecision; bytes: number }> = [];
    for (let i = 0; i < swarm.pieceCount; i++) {
      const held = swarm.held[i] === true;
      const reserved = !held && swarm.reserved?.[i] === true;
      const bytes = pieceBytes(swarm, i);
      const swarmCopies = counts.swarmCopies[i]!;
      const cdn = counts.cdnCopies[i]!;
      const outside = Math.max(0, swarmCopies - cdn);
      // Other CDN nodes' copies; this node's own may or may not be in the tracker's count yet.
      const elsewhere = outside + Math.max(0, cdn - (held ? 1 : 0));
      const demand = counts.demand;
      // Plentiful: at the high mark, and (with demandPerCopy) not so wanted that leechers per copy reach it.
      const perCopy = demand / Math.max(outside, 1);
      // Too few copies for the leechers to get it at full rate from peers (copiesPerLeecher). A leecher takes
      // from the CDN and peers in parallel, so the CDN holds all of a short swarm's pieces: holding only a
      // share leaves leechers waiting on peers for the rest (tried in the simulator: p95 up to 1.5x).
      const short = settings.copiesPerLeecher > 0 && outside < demand * settings.copiesPerLeecher;
      const busy = (settings.demandPerCopy > 0 && perCopy >= settings.demandPerCopy) || short;
      if (outside >= settings.highCopies && !busy) memory.plentifulSince[i] ??= now;
      else memory.plentifulSince[i] = null;
      const since = memory.plentifulSince[i] ?? null;
      const figures = `${outside} copies outside the CDN, ${swarmCopies} in the swarm, ${demand} leechers`;
      const piece = (action: PieceAction, reason: DecisionReason, why: string): PieceDecision => ({
        piece: i,
        held,
        swarmCopies,
        outsideCopies: outside,
        demand,
        action,
        reason,
        detail: `${figures}: ${why}`,
      });
      if (held) {
        const ingestedAt = memory.ingestedAt[i];
        let made: PieceDecision;
        if (since !== null && now - since >= settings.holdMs && elsewhere >= 1) {
          made = piece(
            'purge',
            'plentiful',
            `at or above the high mark ${settings.highCopies} for ${Math.round((now - since) / 1000)} s (hold ${Math.round(settings.holdMs / 1000)} s)`,
          );
        } else if (settings.ttlMs > 0 && ingestedAt != null && now - ingestedAt >= settings.ttlMs) {
          made =
            outside >= settings.lowCopies && elsewhere >= 1
              ? piece(
                  'purge',
                  'ttl',
                  `ingested ${Math.round((now - ingestedAt) / 1000)} s ago (TTL ${Math.round(settings.ttlMs / 1000)} s)`,
                )
              : piece('keep', 'ttl-still-rare', `TTL ran out but below the low mark ${settings.lowCopies}`);
        } else if (since !== null) {
          made = piece(
            'keep',
            'plentiful-waiting',
            `at or above the high mark ${settings.highCopies}; purge at ${new Date(since + settings.holdMs).toISOString()} if it stays`,
          );
        } else if (elsewhere === 0) {
          made = piece('keep', 'only-copy', 'no other copy is known');
        } else if (busy && outside >= settings.highCopies) {
          made = piece(
            'keep',
            'needed',
            `${perCopy.toFixed(1)} leechers per copy (demandPerCopy ${settings.demandPerCopy})`,
          );
        } else {
          made = piece('keep', 'needed', `below the high mark ${settings.highCopies}`);
        }
        decision.pieces.push(made);
        if (made.action === 'purge') purges.push({ piece: made, bytes });
        else {
          if (elsewhere >= 1) purgeable.push({ decision, piece: made, outside, bytes });
          roomable.push({ decision, piece: made, outside, bytes, idle: demand === 0, elsewhere });
        }
        continue;
      }
      const aside = reserved ? '; set aside here' : '';
      if (demand === 0) {
        const made = piece('skip', 'no-demand', `no leecher wants pieces${aside}`);
        decision.pieces.push(made);
        if (reserved) droppable.push({ decision, piece: made, outside, bytes, idle: true });
        continue;
      }
      let wanted: PieceDecision | null = null;
      if (outside < settings.lowCopies) {
        wanted = piece('ingest', 'rare', `below the low mark ${settings.lowCopies}`);
      } else if (short) {
        wanted = piece(
          'ingest',
          'demand',
          `${demand} leechers need ${demand * settings.copiesPerLeecher} copies for full rate (copiesPerLeecher ${settings.copiesPerLeecher})`,
        );
      } else if (settings.demandPerCopy > 0 && demand / Math.max(outside, 1) >= settings.demandPerCopy) {
        wanted = piece(
          'ingest',
          'demand',
          `${(demand / Math.max(outside, 1)).toFixed(1)} leechers per copy (threshold ${settings.demandPerCopy})`,
        );
      }
      if (wanted === null) {
        const made = piece('skip', 'enough-copies', `at or above the low mark ${settings.lowCopies}${aside}`);
        decision.pieces.push(made);
        if (reserved) droppable.push({ decision, piece: made, outside, bytes, idle: false });
        continue;
      }
      if (reserved) wanted.detail += '; put back from the pieces set aside here';
      decision.pieces.push(wanted);
      wantIngest.push({ swarm, decision, piece: wanted, outside, demand, bytes, reserved });
    }
    if (purges.length > 0) wantPurge.set(decision, purges);
  }

  // Purges first: they cost an operation per swarm and free room for ingests.
  const operated = new Set<string>();
  const takeOp = (decision: SwarmDecision, kind: 'ingest' | 'purge'): boolean => {
    const key = `${kind} ${decision.infoHash}`;
    if (operated.has(key)) return true;
    if (state.opsTokens < 1) return false;
    state.opsTokens -= 1;
    operated.add(key);
    return true;
  };
  const defer = (piece: PieceDecision, reason: DecisionReason, why: string): void => {
    piece.action = 'defer';
    piece.detail = `${piece.detail}; wanted ${piece.reason} but ${why}`;
    piece.reason = reason;
  };
  for (const [decision, purges] of wantPurge) {
    if (!takeOp(decision, 'purge')) {
      for (const { piece } of purges)
        defer(piece, 'ops-limit', `no operation left (opsPerMinute ${settings.opsPerMinute})`);
      continue;
    }
    for (const { piece, bytes } of purges) {
      // A TTL removes; a piece purged for being plentiful is kept aside (if setAside) in case it turns rare.
      const setAside = settings.setAside && piece.reason === 'plentiful';
      decision.purge.push({ piece: piece.piece, reason: piece.reason, setAside });
      if (setAside) piece.detail += '; set aside here (not served), put back without the origin if rare again';
      else heldBytes -= bytes;
    }
  }
  // Set-aside pieces go first when room is needed: those of swarms nobody wants, then the most plentiful.
  droppable.sort((a, b) => Number(b.idle) - Number(a.idle) || b.outside - a.outside || a.piece.piece - b.piece.piece);
  const drop = (candidate: (typeof droppable)[number], reason: DecisionReason, why: string): void => {
    const { piece } = candidate;
    piece.action = 'drop';
    piece.reason = reason;
    piece.detail = `${piece.detail}; discarded: ${why}`;
    candidate.decision.drop.push({ piece: piece.piece, reason });
    heldBytes -= candidate.bytes;
  };
  for (const candidate of droppable) {
    if (heldBytes <= settings.budgetBytes) break;
    drop(candidate, 'over-budget', `${heldBytes} bytes held or set aside, budget ${settings.budgetBytes}`);
  }
  if (heldBytes > settings.budgetBytes) {
    purgeable.sort((a, b) => b.outside - a.outside || a.piece.piece - b.piece.piece);
    for (const candidate of purgeable) {
      if (heldBytes <= settings.budgetBytes) break;
      if (!takeOp(candidate.decision, 'purge')) break;
      const { piece } = candidate;
      piece.action = 'purge';
      piece.reason = 'over-budget';
      piece.detail = `${piece.detail}; purged: ${heldBytes} bytes held, budget ${settings.budgetBytes}`;
      candidate.decision.purge.push({ piece: piece.piece, reason: 'over-budget', setAside: false });
      heldBytes -= candidate.bytes;
    }
  }

  // Ingests, rarest first, then most wanted.
  wantIngest.sort(
    (a, b) =>
      a.outside - b.outside ||
      b.demand - a.demand ||
      (a.swarm.infoHash < b.swarm.infoHash ? -1 : a.swarm.infoHash > b.swarm.infoHash ? 1 : 0) ||
      a.piece.piece - b.piece.piece,
  );
  // Idle swarms' pieces first (most plentiful first within them), then the most plentiful pieces.
  roomable.sort((a, b) => Number(b.idle) - Number(a.idle) || b.outside - a.outside || a.piece.piece - b.piece.piece);
  const opFree = (decision: SwarmDecision, kind: 'ingest' | 'purge') => operated.has(`${kind} ${decision.infoHash}`);
  /** Victims that make room for `want`, if enough of them (and operations for them) exist; else null. */
  const roomFor = (want: Wanted): typeof roomable | null => {
    const victims: typeof roomable = [];
    let free = settings.budgetBytes - heldBytes;
    const swarmsNeedingOp = new Set<string>();
    for (const candidate of roomable) {
      if (free >= want.bytes) break;
      if (candidate.piece.action !== 'keep') continue;
      const eligible =
        candidate.idle ||
        (candidate.elsewhere >= 1 && candidate.outside >= settings.lowCopies && candidate.outside > want.outside);
      if (!eligible) continue;
      victims.push(candidate);
      free += candidate.bytes;
      if (!opFree(candidate.decision, 'purge')) swarmsNeedingOp.add(candidate.decision.infoHash);
    }
    const opsNeeded = swarmsNeedingOp.size + (opFree(want.decision, 'ingest') ? 0 : 1);
    return free >= want.bytes && state.opsTokens >= opsNeeded ? victims : null;
  };
  for (const want of wantIngest) {
    const { piece, decision } = want;
    if (want.swarm.ingestBlocked !== null) {
      defer(piece, 'ingest-blocked', want.swarm.ingestBlocked);
      continue;
    }
    if (want.reserved) {
      if (takeOp(decision, 'ingest'))
        decision.ingest.push({ piece: piece.piece, reason: piece.reason, from: 'reserve' });
      else defer(piece, 'ops-limit', `no operation left (opsPerMinute ${settings.opsPerMinute})`);
      continue;
    }
    if (settings.ingestBytesPerSecond > 0 && state.bytesTokens < want.bytes) {
      defer(piece, 'bandwidth-limit', `ingest bandwidth used up for now (${settings.ingestBytesPerSecond} bytes/s)`);
      continue;
    }
    if (!opFree(decision, 'ingest') && state.opsTokens < 1) {
      defer(piece, 'ops-limit', `no operation left (opsPerMinute ${settings.opsPerMinute})`);
      continue;
    }
    for (const candidate of droppable) {
      if (heldBytes + want.bytes <= settings.budgetBytes) break;
      if (candidate.piece.action !== 'skip') continue;
      drop(
        candidate,
        'make-room',
        `room for piece ${piece.piece} of ${decision.infoHash} (${want.outside} copies outside the CDN)`,
      );
    }
    if (heldBytes + want.bytes > settings.budgetBytes) {
      const victims = roomFor(want);
      if (victims === null) {
        defer(
          piece,
          'no-room',
          `${want.bytes} more bytes would pass the budget (${heldBytes} of ${settings.budgetBytes} held) and nothing less needed can make room`,
        );
        continue;
      }
      for (const victim of victims) {
        takeOp(victim.decision, 'purge');
        victim.piece.action = 'purge';
        victim.piece.reason = 'make-room';
        victim.piece.detail = `${victim.piece.detail}; purged to make room for piece ${piece.piece} of ${decision.infoHash} (${want.outside} copies outside the CDN${victim.idle ? '; no leecher wants this object' : ''})`;
        victim.decision.purge.push({ piece: victim.piece.piece, reason: 'make-room', setAside: false });
        heldBytes -= victim.bytes;
      }
    }
    if (!takeOp(decision, 'ingest')) {
      defer(piece, 'ops-limit', `no operation left (opsPerMinute ${settings.opsPerMinute})`);
    } else {
      if (settings.ingestBytesPerSecond > 0) state.bytesTokens -= want.bytes;
      heldBytes += want.bytes;
      decision.ingest.push({ piece: piece.piece, reason: piece.reason, from: 'origin' });
    }
  }

  for (const decision of decisions) {
    const memory = memories.get(decision.infoHash)!;
    decision.ingest.sort((a, b) => a.piece - b.piece);
    decision.purge.sort((a, b) => a.piece - b.piece);
    decision.drop.sort((a, b) => a.piece - b.piece);
    for (const { piece } of decision.ingest) memory.ingestedAt[piece] = now;
    // The only source of a wanted piece: held after this round (ingested, or held and not purged) and no
    // copy outside the CDN. Top-up leaves such a swarm unpaced (SwarmDecision.soleSource).
    const purged = new Set(decision.purge.map(({ piece }) => piece));
    const ingested = new Set(decision.ingest.map(({ piece }) => piece));
    decision.soleSource =
      decision.stats === 'ok' &&
      decision.pieces.some(
        (p) =>
          (p.demand ?? 0) > 0 && p.outsideCopies === 0 && ((p.held && !purged.has(p.piece)) || ingested.has(p.piece)),
      );
    // A thin swarm (seeds per leecher below paceSeedsPerLeecher) is not paced either: its peers cannot make
    // up what pacing holds back. Without usable statistics the seeds are unknown: paced, as before.
    // Seeds outside the CDN: the fewest copies outside of any piece (a seed holds every piece; leechers'
    // pieces are unknown to the tracker).
    const seedsOutside = decision.pieces.reduce((min, p) => Math.min(min, p.outsideCopies ?? 0), Infinity);
    const demand = decision.pieces[0]?.demand ?? 0;
    const thin =
      settings.paceSeedsPerLeecher > 0 &&
      decision.stats === 'ok' &&
      demand > 0 &&
      seedsOutside < settings.paceSeedsPerLeecher * demand;
    decision.paced = !decision.soleSource && !thin;
    for (const { piece } of decision.purge) {
      memory.ingestedAt[piece] = null;
      memory.plentifulSince[piece] = null;
    }
    if (decision.stats === 'ok') {
      memory.last = decision.pieces.map(({ action, reason }) => ({ action, reason }));
    }
    state.swarms[decision.infoHash] = memory;
  }
  return { at: now, swarms: decisions, state };
}
