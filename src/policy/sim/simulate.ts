// The swarm simulator: a deterministic, seeded, one-second-step model of BitTorrent swarms around one CDN
// edge and an origin, run under each delivery policy. The 'function' policy calls the same decide() the
// agent runs (src/policy/decide.ts), fed what the reference tracker would report: copies of each piece
// among seeds and the CDN (plain leechers' pieces are unknown to a tracker), and the number of leechers.
// docs/policy.md ("The simulator") describes the model and its simplifications.
import { decide, initialState } from '../decide.ts';
import type { PolicyState, StorageControlSettings, SwarmInput } from '../types.ts';
import { exponential, poisson, seededRandom, zipfSampler } from './random.ts';

export const SIM_POLICIES = ['origin-only', 'cdn-only', 'lru', 'lfu', 'function'] as const;
export type SimPolicy = (typeof SIM_POLICIES)[number];

export interface Scenario {
  name: string;
  seed: number;
  durationS: number;
  objects: number;
  piecesPerObject: number;
  pieceBytes: number;
  /** Zipf exponent of the catalogue's popularity. */
  zipfS: number;
  /** Arrivals per second over the whole catalogue, objects drawn by Zipf. */
  baseArrivalsPerS: number;
  /** Extra arrivals per second for the most popular object, decaying as exp(-t / flashDecayS). */
  flashArrivalsPerS: number;
  flashDecayS: number;
  /** Upload rates of peers, drawn uniformly from this list (heterogeneous uplinks). */
  peerUploadBytesPerS: number[];
  peerDownloadBytesPerS: number;
  /** Mean time a peer seeds after completing (exponential), then leaves. */
  seedTimeMeanS: number;
  /** Share of peers that abort their download at a uniformly drawn time before it would end. */
  abortShare: number;
  cdnEgressBytesPerS: number;
  cdnBudgetBytes: number;
  originBytesPerS: number;
  /** The function's settings (its budget is cdnBudgetBytes) and its round interval. */
  policy: Omit<StorageControlSettings, 'budgetBytes'>;
  roundIntervalS: number;
  /** Arrival times (s) of every peer, on object 0, instead of the Poisson arrivals (a real run's schedule). */
  arrivalTimesS?: number[];
  /** Every peer seeds exactly this long after completing, instead of an exponential time. */
  seedTimeFixedS?: number;
  /** Seconds from a peer's arrival to its first request (client start, tracker announce, connecting). */
  peerStartS?: number;
  /** Peers the edge serves at once each second (the agent's unchoke slots); default: any number. */
  cdnUploadSlots?: number;
  /** Pieces the CDN edge holds of object 0 at the start (an operator's partial ingest). */
  cdnStartPieces?: number[];
}

/** One line of `npm run sim -- --json`. Field names are a stable interface for scripts. */
export interface SimResult {
  scenario: string;
  policy: SimPolicy;
  seed: number;
  peers: number;
  completed: number;
  aborted: number;
  /** Bytes the origin sent (to the CDN and, origin-only, to peers). */
  originBytes: number;
  /** Sizes of the objects that had at least one downloader: what one copy of the demanded content weighs. */
  contentBytes: number;
  /** Bytes the CDN edge sent to peers. */
  cdnBytes: number;
  peerBytes: number;
  /** Bytes from peers over all bytes peers received. */
  peerEfficiency: number;
  meanDownloadS: number;
  p95DownloadS: number;
  meanFirstPieceS: number;
  /** Seconds, summed over swarms, during which a leecher wanted a piece that no peer and not the CDN held. */
  missingPieceSeconds: number;
  /** Pieces put into and taken out of the CDN (ingest and purge; cache inserts and evictions). */
  cdnChurnPieces: number;
}

interface Peer {
  object: number;
  have: Uint8Array;
  count: number;
  up: number;
  upLeft: number;
  arrivedAt: number;
  firstPieceAt: number | null;
  doneAt: number | null;
  leaveAt: number;
  abortAt: number | null;
  current: { piece: number; done: number } | null;
}

interface Swarm {
  peers: Peer[];
  /** Copies of each piece among peers. */
  copies: Int32Array;
  seeds: number;
}

export function simulate(scenario: Scenario, policy: SimPolicy): SimResult {
  const random = seededRandom(scenario.seed);
  const zipf = zipfSampler(scenario.objects, scenario.zipfS);
  const P = scenario.piecesPerObject;
  const pieceBytes = scenario.pieceBytes;
  const objectBytes = P * pieceBytes;
  const swarms: Swarm[] = Array.from({ length: scenario.objects }, () => ({
    peers: [],
    copies: new Int32Array(P),
    seeds: 0,
  }));
  // The CDN edge: pieces held per object, and what LRU and LFU rank them by.
  const cdnHeld = Array.from({ length: scenario.objects }, () => new Uint8Array(P));
  const lastUse = Array.from({ length: scenario.objects }, () => new Float64Array(P));
  const uses = Array.from({ length: scenario.objects }, () => new Float64Array(P));
  let cdnHeldBytes = 0;
  let useClock = 0;
  const demanded = new Set<number>();
  for (const piece of scenario.cdnStartPieces ?? []) {
    cdnHeld[0]![piece] = 1;
    cdnHeldBytes += pieceBytes;
  }
  const totals = { origin: 0, cdn: 0, peer: 0, churn: 0, missing: 0, peers: 0, aborted: 0 };
  const downloads: number[] = [];
  const firstPieces: number[] = [];
  let cdnLeft = 0;
  const cdnServed = new Set<Peer>();
  const cdnSlots = scenario.cdnUploadSlots ?? Number.POSITIVE_INFINITY;
  const startS = scenario.peerStartS ?? 0;
  let originLeft = 0;
  let state: PolicyState = initialState();
  const settings: StorageControlSettings = { ...scenario.policy, budgetBytes: scenario.cdnBudgetBytes };

  const evictFor = (bytes: number): boolean => {
    while (cdnHeldBytes + bytes > scenario.cdnBudgetBytes) {
      let victim: [number, number] | null = null;
      let best = Number.POSITIVE_INFINITY;
      for (let o = 0; o < scenario.objects; o++) {
        for (let i = 0; i < P; i++) {
          if (!cdnHeld[o]![i]) continue;
          const rank = policy === 'lfu' ? uses[o]![i]! * 1e9 + lastUse[o]![i]! : lastUse[o]![i]!;
          if (rank < best) {
            best = rank;
            victim = [o, i];
          }
        }
      }
      if (victim === null) return false;
      cdnHeld[victim[0]]![victim[1]] = 0;
      cdnHeldBytes -= pieceBytes;
      totals.churn++;
    }
    return true;
  };

  /** Where `peer` can get `piece` now, or null. */
  const sourceFor = (peer: Peer, piece: number): Peer | 'cdn' | 'origin' | null => {
    const swarm = swarms[peer.object]!;
    if (policy !== 'cdn-only' && swarm.copies[piece]! > 0) {
      const n = swarm.peers.length;
      const start = Math.floor(random() * n);
      for (let k = 0; k < n; k++) {
        const other = swarm.peers[(start + k) % n]!;
        if (other !== peer && other.upLeft > 0 && other.have[piece]) return other;
      }
    }
    if (cdnLeft <= 0 && policy !== 'origin-only') return null;
    if (policy !== 'origin-only' && cdnServed.size >= cdnSlots && !cdnServed.has(peer)) return null;
    switch (policy) {
      case 'origin-only':
        return originLeft > 0 ? 'origin' : null;
      case 'function':
        return cdnHeld[peer.object]![piece] ? 'cdn' : null;
      default: {
        if (cdnHeld[peer.object]![piece]) return 'cdn';
        // Pull-through: the edge fetches the piece from the origin and keeps it.
        if (originLeft < pieceBytes || !evictFor(pieceBytes)) return null;
        originLeft -= pieceBytes;
        totals.origin += pieceBytes;
        cdnHeld[peer.object]![piece] = 1;
        cdnHeldBytes += pieceBytes;
        totals.churn++;
        return 'cdn';
      }
    }
  };

  /** Missing pieces of `peer`, rarest among peers first (ties broken at random). */
  const candidates = (peer: Peer): number[] => {
    const swarm = swarms[peer.object]!;
    const missing: Array<[number, number]> = [];
    for (let i = 0; i < P; i++) if (!peer.have[i]) missing.push([swarm.copies[i]! + random() * 0.5, i]);
    missing.sort((a, b) => a[0] - b[0]);
    return missing.map(([, i]) => i);
  };

  const download = (peer: Peer, now: number): void => {
    let budget = scenario.peerDownloadBytesPerS;
    let tries = 0;
    let order: number[] | null = null;
    let next = 0;
    while (budget > 0 && tries < 8 && peer.count < P) {
      if (peer.current === null) {
        order ??= candidates(peer);
        const piece = order[next++];
        if (piece === undefined) return;
        peer.current = { piece, done: 0 };
      }
      const { piece } = peer.current;
      const source = sourceFor(peer, piece);
      if (source === null) {
        tries++;
        // This piece has no source now; another might (its partial bytes are kept only while current).
        if (peer.current.done === 0) peer.current = null;
        else return;
        continue;
      }
      const left = source === 'cdn' ? cdnLeft : source === 'origin' ? originLeft : source.upLeft;
      const amount = Math.min(budget, left, pieceBytes - peer.current.done);
      budget -= amount;
      peer.current.done += amount;
      if (source === 'cdn') {
        cdnServed.add(peer);
        cdnLeft -= amount;
        totals.cdn += amount;
        lastUse[peer.object]![piece] = ++useClock;
        uses[peer.object]![piece]! += amount / pieceBytes;
      } else if (source === 'origin') {
        originLeft -= amount;
        totals.origin += amount;
      } else {
        source.upLeft -= amount;
        totals.peer += amount;
      }
      if (peer.current.done >= pieceBytes) {
        peer.have[piece] = 1;
        peer.count++;
        swarms[peer.object]!.copies[piece]!++;
        peer.current = null;
        if (peer.firstPieceAt === null) {
          peer.firstPieceAt = now;
          firstPieces.push(now - peer.arrivedAt);
        }
        if (peer.count === P) {
          peer.doneAt = now;
          peer.leaveAt = now + (scenario.seedTimeFixedS ?? exponential(random, scenario.seedTimeMeanS));
          swarms[peer.object]!.seeds++;
          downloads.push(now - peer.arrivedAt);
        }
      }
    }
  };

  const round = (now: number): void => {
    const inputs: SwarmInput[] = swarms.map((swarm, o) => {
      const held = Array.from(cdnHeld[o]!, (h) => h === 1);
      const cdnCopies = held.map((h) => (h ? 1 : 0));
      const leechers = swarm.peers.length - swarm.seeds;
      return {
        infoHash: `object-${o}`,
        pieceCount: P,
        pieceLength: pieceBytes,
        length: objectBytes,
        held,
        ingestBlocked: null,
        stats: {
          counts: {
            version: now,
            receivedAt: now * 1000,
            swarmCopies: cdnCopies.map((c) => c + swarm.seeds),
            cdnCopies,
            demand: leechers,
            seeds: swarm.seeds,
            leechers,
          },
          problem: null,
        },
      };
    });
    const result = decide(settings, inputs, state, now * 1000);
    state = result.state;
    result.swarms.forEach((decision, o) => {
      for (const { piece } of decision.purge) {
        cdnHeld[o]![piece] = 0;
        cdnHeldBytes -= pieceBytes;
        totals.churn++;
      }
      for (const { piece } of decision.ingest) {
        cdnHeld[o]![piece] = 1;
        cdnHeldBytes += pieceBytes;
        totals.origin += pieceBytes;
        totals.churn++;
      }
    });
  };

  for (let now = 0; now < scenario.durationS; now++) {
    // Arrivals.
    const flash = scenario.flashArrivalsPerS * Math.exp(-now / scenario.flashDecayS);
    const arriving =
      scenario.arrivalTimesS === undefined
        ? [
            ...Array.from({ length: poisson(random, scenario.baseArrivalsPerS) }, () => zipf(random)),
            ...Array.from({ length: poisson(random, flash) }, () => 0),
          ]
        : scenario.arrivalTimesS.filter((at) => at >= now && at < now + 1).map(() => 0);
    for (const object of arriving) {
      const up = scenario.peerUploadBytesPerS[Math.floor(random() * scenario.peerUploadBytesPerS.length)]!;
      const fastest = objectBytes / scenario.peerDownloadBytesPerS;
      const abortAt = random() < scenario.abortShare ? now + 1 + random() * fastest * 3 : null;
      swarms[object]!.peers.push({
        object,
        have: new Uint8Array(P),
        count: 0,
        up,
        upLeft: 0,
        arrivedAt: now,
        firstPieceAt: null,
        doneAt: null,
        leaveAt: Number.POSITIVE_INFINITY,
        abortAt,
        current: null,
      });
      demanded.add(object);
      totals.peers++;
    }
    // Departures: seeds whose time is up, leechers that abort.
    for (const swarm of swarms) {
      swarm.peers = swarm.peers.filter((peer) => {
        const leaving = peer.doneAt !== null ? now >= peer.leaveAt : peer.abortAt !== null && now >= peer.abortAt;
        if (!leaving) return true;
        if (peer.doneAt === null) totals.aborted++;
        else swarm.seeds--;
        for (let i = 0; i < P; i++) if (peer.have[i]) swarm.copies[i]!--;
        return false;
      });
    }
    if (policy === 'function' && now % scenario.roundIntervalS === 0) round(now);
    // Missing-piece seconds: a swarm with leechers and a piece neither a peer nor the CDN holds.
    swarms.forEach((swarm, o) => {
      if (swarm.peers.length === swarm.seeds) return;
      for (let i = 0; i < P; i++) {
        if (swarm.copies[i] === 0 && !cdnHeld[o]![i]) {
          totals.missing++;
          return;
        }
      }
    });
    cdnLeft = policy === 'origin-only' ? 0 : scenario.cdnEgressBytesPerS;
    cdnServed.clear();
    originLeft = scenario.originBytesPerS;
    const leechers: Peer[] = [];
    for (const swarm of swarms) {
      for (const peer of swarm.peers) {
        peer.upLeft = peer.up;
        if (peer.doneAt === null && now >= peer.arrivedAt + startS) leechers.push(peer);
      }
    }
    // A fair order: shuffled every second.
    for (let i = leechers.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [leechers[i], leechers[j]] = [leechers[j]!, leechers[i]!];
    }
    for (const peer of leechers) download(peer, now + 1);
  }

  const received = totals.peer + totals.cdn + (policy === 'origin-only' ? totals.origin : 0);
  const sorted = [...downloads].sort((a, b) => a - b);
  const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
  return {
    scenario: scenario.name,
    policy,
    seed: scenario.seed,
    peers: totals.peers,
    completed: downloads.length,
    aborted: totals.aborted,
    originBytes: totals.origin,
    contentBytes: demanded.size * objectBytes,
    cdnBytes: totals.cdn,
    peerBytes: totals.peer,
    peerEfficiency: received === 0 ? 0 : totals.peer / received,
    meanDownloadS: mean(downloads),
    p95DownloadS: sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!,
    meanFirstPieceS: mean(firstPieces),
    missingPieceSeconds: totals.missing,
    cdnChurnPieces: totals.churn,
  };
}
