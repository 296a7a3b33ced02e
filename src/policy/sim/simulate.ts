// The swarm simulator: a deterministic, seeded, one-second-step model of BitTorrent swarms around one CDN
// edge and an origin, run under each delivery policy. The 'function' policy calls the same decide() the
// agent runs (src/policy/decide.ts), fed what the reference tracker would report: copies of each piece
// among seeds and the CDN (plain leechers' pieces are unknown to a tracker), and the number of leechers.
// docs/policy.md ("The simulator") describes the model and its simplifications.
import { decide, initialState } from '../decide.ts';
import type { PolicyState, StorageControlSettings, SwarmInput } from '../types.ts';
import { arrivalSource } from './arrivals.ts';
import { seededRandom } from './random.ts';

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
  /** Leechers the edge serves at once (the agent's unchoke slots); default: any number (HTTP). */
  cdnUploadSlots?: number;
  /** Least time a leecher keeps an edge slot before it goes to the longest waiting (agent: 30 s). */
  cdnSlotHoldS?: number;
  /**
   * How often the edge's choker looks at its slots (the agent's peer.limits.rechokeIntervalMs, 10 s): a slot
   * past its hold, or held by a leecher top-up finds satisfied, goes to a waiting leecher only then, and only
   * while one waits (src/wire/choker.ts tick). Under top-up a leecher whose peers gave it at least half the
   * top-up rate in the last second yields its slot at the tick (the agent's PeerConnection.topUpSatisfied),
   * in a paced swarm. Absent: slots past their hold rotate every second and none yields (an HTTP edge).
   */
  cdnRechokeS?: number;
  /** Leechers a peer unchokes at once (libtorrent's unchoke_slots_limit: 8). */
  peerUploadSlots?: number;
  /** How long a peer keeps a leecher unchoked before choosing again (libtorrent's unchoke_interval: 15 s). */
  peerSlotHoldS?: number;
  /**
   * The function's edge tops leechers up (the agent's `storageControl.topUpRate`): it sends a leecher at most
   * this rate less what the leecher got from peers in the last second, so the edge gives only the rate the
   * swarm lacks. 0 or absent: it serves a leecher as fast as it takes.
   */
  cdnTopUpBytesPerS?: number;
  /**
   * How top-up measures what a leecher gets from others. 'haves': as the agent does (src/wire/top-up.ts), from
   * the pieces it completes (HAVE) over 2 s less the edge's bytes; a piece counts whole when it completes, so
   * late in a download, when pieces started at slow peers complete, the edge is held back more. 'peer-bytes'
   * (default): the bytes it got from peers in the last second.
   */
  topUpMeter?: 'haves' | 'peer-bytes';
  /** Pieces the CDN edge holds of object 0 at the start (an operator's partial ingest). */
  cdnStartPieces?: number[];
  /**
   * How a leecher's downlink is shared among the sources sending to it when their offers exceed it.
   * 'proportional' (default): in proportion to what each offers, so a fast edge takes most of it. 'fair':
   * max-min fair, each source an equal share unless it offers less (TCP flows through one bottleneck, and
   * libtorrent's download rate limiter, which gives each connection an equal quota). Real leechers lie
   * between the two (docs/benchmarks.md, "How a leecher's downlink is shared").
   */
  downlinkShare?: 'proportional' | 'fair';
  /**
   * Block requests (libtorrent's request queues and end-game), measured in the real-process run
   * (docs/policy.md, "The simulator"). Every source serving a leecher holds queueBytes of the leecher's
   * missing bytes requested (pinned: no other source may send them until end-game). A source can therefore
   * send at most the leecher's missing bytes less what the other sources have pinned, plus, once nothing is
   * left unrequested (end-game), endgameBytesPerS: one already-requested block at a time, a block per
   * request round trip. Absent: fluid pieces, any source may send any missing byte (before issue 16's run).
   */
  requests?: SimRequests;
  /**
   * Network topology (issue 18, docs/topology.md): peers are spread over PIDs (peer id modulo pids) and
   * each knows only the peers a tracker listed to it (numWant at arrival, again every reannounceS while it
   * knows fewer), and those that were given it. With `local`, the list is the reference tracker's: nearest
   * PIDs first (cost: distance on a ring of PIDs), randomShare of it drawn at random; without, all random.
   * Without this, every peer of a swarm knows every other.
   */
  topology?: SimTopology;
}

export interface SimRequests {
  /** Bytes each source keeps requested from a leecher (libtorrent: 4 blocks of 16 KiB seen from slow peers). */
  queueBytes: number;
  /** What a source gets in end-game: one busy block per request round trip. */
  endgameBytesPerS: number;
}

/**
 * libtorrent's block requests as the real-process run measured them (issue 16, docs/policy.md "The simulator"):
 * an unchoking peer held a median of 4 blocks of 16 KiB requested, and the agent, once every missing block
 * was requested elsewhere (end-game, one busy block at a time), sent 110 KiB/s: a block per 0.145 s round
 * trip, on loopback with 40 clients sharing two cores.
 */
export const LIBTORRENT_REQUESTS: SimRequests = { queueBytes: 4 * 16 * 1024, endgameBytesPerS: 110 * 1024 };

export interface SimTopology {
  pids: number;
  numWant: number;
  randomShare: number;
  local: boolean;
  reannounceS: number;
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
  /** Peer efficiency over the swarms that had 50 or more peers in the run (null: none had). */
  largeSwarmPeerEfficiency: number | null;
  /**
   * Origin bytes over the object's size per swarm lifetime (from a first peer into an empty swarm until the
   * last one leaves): the largest and the mean over lifetimes. A swarm that empties and starts again later
   * needs what the CDN no longer holds fetched again; the whole-run originBytes / contentBytes counts that.
   */
  originPerSwarmMax: number;
  originPerSwarmMean: number;
  /** With a topology: the share of peer-to-peer bytes whose uploader was in the leecher's PID; else null. */
  intraPidPeerShare: number | null;
  /**
   * With a topology: the share of peer-to-peer bytes received while a peer in the leecher's PID held the
   * piece (a local source existed), and the intra-PID share of those bytes: the goal is stated
   * "where local sources exist". Null without a topology.
   */
  localSourcePeerShare: number | null;
  intraPidShareWhereLocal: number | null;
}

interface Peer {
  id: number;
  object: number;
  have: Uint8Array;
  /** Bytes received of each piece not yet complete (from any source: a piece may be continued elsewhere). */
  progress: Float64Array;
  count: number;
  up: number;
  arrivedAt: number;
  firstPieceAt: number | null;
  doneAt: number | null;
  leaveAt: number;
  abortAt: number | null;
  /** How long it seeds once complete (drawn at arrival). */
  seedTime: number;
  /** As an uploader: the leechers it has unchoked, and since when. */
  served: Map<Peer, number>;
  /** As a leecher: the piece it is getting from each uploader that serves it (by uploader id). */
  fetching: Map<number, number>;
  /** As a leecher: bytes received from peers in the last second. */
  fromPeers: number;
  /**
   * What the agent's top-up meter sees (src/wire/top-up.ts TopUpMeter, Scenario.topUpMeter 'haves'): bytes of
   * the pieces the leecher completed (its HAVEs) and bytes the edge sent it, in the last second and the one before.
   */
  haves: [number, number];
  edgeSent: [number, number];
  /** With a topology: its PID, the peers it knows (connections go both ways), when it last asked the tracker. */
  pid: number;
  neighbours: Set<Peer>;
  announcedAt: number;
  /** For observe.peerDone: when it held half the pieces, when the edge first unchoked it, bytes by source. */
  halfAt: number | null;
  edgeSlotAt: number | null;
  gotCdn: number;
  gotPeers: number;
}

interface Swarm {
  peers: Peer[];
  /** Copies of each piece among peers. */
  copies: Int32Array;
  /** With a topology: copies of each piece among the peers of each PID (pid * pieces + piece). */
  pidCopies: Int32Array;
  seeds: number;
  /** Peers that ever joined, and origin bytes in the current lifetime (first arrival into an empty swarm). */
  joined: number;
  lifetimeOrigin: number;
  lifetimes: number[];
}

/** The CDN edge (or, for origin-only, the origin) as an uploader: slots held like the agent's choker. */
interface Server {
  id: number;
  served: Map<Peer, number>;
}

/** What a completed peer did, for comparing a run phase by phase with a real one (scripts/bench/policy-trace.ts). */
export interface SimPeerRecord {
  id: number;
  /** The object it downloaded (0: the flash crowd's). */
  object: number;
  arrivedAt: number;
  firstPieceAt: number | null;
  /** When it held half the pieces. */
  halfAt: number | null;
  doneAt: number;
  /** When the edge first unchoked it (null: never). */
  edgeSlotAt: number | null;
  cdnBytes: number;
  peerBytes: number;
}

export function simulate(
  scenario: Scenario,
  policy: SimPolicy,
  observe?: { peerDone?(record: SimPeerRecord): void },
): SimResult {
  // Two streams: the peers (arrivals, uplinks, aborts, seed times) are the same under every policy; the
  // other draws (slot and piece choices) depend on what happens.
  const arrivalsAt = arrivalSource(scenario);
  const random = seededRandom((scenario.seed ^ 0x9e3779b9) >>> 0);
  const P = scenario.piecesPerObject;
  const pieceBytes = scenario.pieceBytes;
  const objectBytes = P * pieceBytes;
  const swarms: Swarm[] = Array.from({ length: scenario.objects }, () => ({
    peers: [],
    copies: new Int32Array(P),
    pidCopies: new Int32Array((scenario.topology?.pids ?? 0) * P),
    seeds: 0,
    joined: 0,
    lifetimeOrigin: 0,
    lifetimes: [],
  }));
  // The CDN edge: pieces held per object, and what LRU and LFU rank them by.
  const cdnHeld = Array.from({ length: scenario.objects }, () => new Uint8Array(P));
  // The function's pieces set aside on the edge (kept, not served: settings.setAside).
  const cdnReserved = Array.from({ length: scenario.objects }, () => new Uint8Array(P));
  // Per object: top-up does not pace it (decide()'s paced is false: the edge is the only source of a wanted
  // piece, or the swarm is thin).
  const unpaced = new Uint8Array(scenario.objects);
  const lastUse = Array.from({ length: scenario.objects }, () => new Float64Array(P));
  const uses = Array.from({ length: scenario.objects }, () => new Float64Array(P));
  let cdnHeldBytes = 0;
  let useClock = 0;
  const demanded = new Set<number>();
  for (const piece of scenario.cdnStartPieces ?? []) {
    cdnHeld[0]![piece] = 1;
    cdnHeldBytes += pieceBytes;
  }
  const totals = {
    origin: 0,
    cdn: 0,
    peer: 0,
    churn: 0,
    missing: 0,
    peers: 0,
    aborted: 0,
    intraPid: 0,
    localSource: 0,
  };
  const topology = scenario.topology;
  /** What the tracker lists to `asker` (numWant of the others), and the connections that makes. */
  const announce = (asker: Peer, swarm: Swarm, now: number): void => {
    if (topology === undefined) return;
    asker.announcedAt = now;
    const others = swarm.peers.filter((peer) => peer !== asker && !asker.neighbours.has(peer));
    let listed: Peer[];
    if (!topology.local || others.length <= topology.numWant) {
      listed = shuffled(others, random).slice(0, topology.numWant);
    } else {
      const ring = (a: number, b: number) => Math.min(Math.abs(a - b), topology.pids - Math.abs(a - b));
      const ranked = others
        .map((peer) => [ring(asker.pid, peer.pid) + random() * 0.5, peer] as const)
        .sort((a, b) => a[0] - b[0])
        .map(([, peer]) => peer);
      const randomCount = Math.round(topology.numWant * topology.randomShare);
      const nearest = ranked.slice(0, topology.numWant - randomCount);
      listed = [...nearest, ...shuffled(ranked.slice(nearest.length), random).slice(0, randomCount)];
    }
    for (const peer of listed) {
      asker.neighbours.add(peer);
      peer.neighbours.add(asker);
    }
  };
  const objectPeerBytes = new Float64Array(scenario.objects);
  const objectAllBytes = new Float64Array(scenario.objects);
  const downloads: number[] = [];
  const firstPieces: number[] = [];
  const startS = scenario.peerStartS ?? 0;
  const peerSlots = scenario.peerUploadSlots ?? 8;
  const peerHoldS = scenario.peerSlotHoldS ?? 15;
  const cdnSlots = scenario.cdnUploadSlots ?? Number.POSITIVE_INFINITY;
  const cdnHoldS = scenario.cdnSlotHoldS ?? 30;
  const cdnRechokeS = scenario.cdnRechokeS;
  const topUpRate = policy === 'function' ? (scenario.cdnTopUpBytesPerS ?? 0) : 0;
  /**
   * What the edge may send a leecher this second under top-up. 'peer-bytes': the rate less the leecher's bytes
   * from peers in the last second. 'haves': the agent's TopUpMeter over its 2 s window (the last two steps):
   * others = (HAVE bytes - edge bytes) / 2 s, the allowance = rate - others, and the edge's bytes in the
   * window (the last step's and this one's) stay within 2 s of the allowance. A HAVE counts the whole piece
   * when it completes, bytes received before the window included.
   */
  const topUpRoom = (leecher: Peer, rate: number): number => {
    if (scenario.topUpMeter !== 'haves') return Math.max(0, rate - leecher.fromPeers);
    return Math.max(0, 2 * topUpAllowance(leecher, rate) - leecher.edgeSent[0]);
  };
  /** The leecher's top-up rate less what it gets from others, as the meter sees it (TopUpMeter.allowance). */
  const topUpAllowance = (leecher: Peer, rate: number): number => {
    if (scenario.topUpMeter !== 'haves') return Math.max(0, rate - leecher.fromPeers);
    const completed = leecher.haves[0] + leecher.haves[1];
    const sent = leecher.edgeSent[0] + leecher.edgeSent[1];
    return Math.max(0, rate - Math.max(0, completed - sent) / 2);
  };
  /** The agent's choker at `now` (Scenario.cdnRechokeS), or none: an HTTP edge's slots. */
  const serverChoker = (now: number) =>
    cdnRechokeS === undefined
      ? undefined
      : {
          tick: now % cdnRechokeS === 0,
          // PeerConnection.topUpSatisfied: paced, and others give the leecher at least half the rate.
          yields: (leecher: Peer) =>
            topUpRate > 0 && !unpaced[leecher.object] && topUpAllowance(leecher, topUpRate) <= topUpRate / 2,
        };
  // The edge (lru, lfu, cdn-only, function) or the origin (origin-only): one server for every swarm.
  const server: Server = { id: -1, served: new Map() };
  const serverRate = policy === 'origin-only' ? scenario.originBytesPerS : scenario.cdnEgressBytesPerS;
  let originLeft = 0;
  let nextId = 0;
  let state: PolicyState = initialState();
  const settings: StorageControlSettings = { ...scenario.policy, budgetBytes: scenario.cdnBudgetBytes };

  const chargeOrigin = (object: number, bytes: number): void => {
    totals.origin += bytes;
    swarms[object]!.lifetimeOrigin += bytes;
  };

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

  const pullThrough = policy === 'lru' || policy === 'lfu' || policy === 'cdn-only';
  /** Whether the server can give `piece` of `object` now (pull-through caches can fetch it from the origin). */
  const serverHas = (object: number, piece: number): boolean => {
    if (policy === 'origin-only') return true;
    if (cdnHeld[object]![piece]) return true;
    return pullThrough && originLeft >= pieceBytes;
  };
  const serverTake = (object: number, piece: number): void => {
    if (policy === 'origin-only' || cdnHeld[object]![piece]) return;
    // Pull-through: the edge fetches the piece from the origin and keeps it, evicting to fit.
    if (!evictFor(pieceBytes)) return;
    originLeft -= pieceBytes;
    chargeOrigin(object, pieceBytes);
    cdnHeld[object]![piece] = 1;
    cdnHeldBytes += pieceBytes;
    totals.churn++;
  };

  const uploaderHas = (uploader: Peer | Server, object: number, piece: number): boolean =>
    uploader === server ? serverHas(object, piece) : (uploader as Peer).have[piece] === 1;
  /** Whether `uploader` has a piece `leecher` lacks. */
  const interesting = (uploader: Peer | Server, leecher: Peer): boolean => {
    if (uploader !== server && (uploader as Peer).doneAt !== null) return true;
    for (let i = 0; i < P; i++) if (!leecher.have[i] && uploaderHas(uploader, leecher.object, i)) return true;
    return false;
  };

  const complete = (peer: Peer, piece: number, at: number): void => {
    peer.have[piece] = 1;
    peer.haves[0] += pieceBytes;
    peer.progress[piece] = 0;
    peer.count++;
    swarms[peer.object]!.copies[piece]!++;
    if (topology !== undefined) swarms[peer.object]!.pidCopies[peer.pid * P + piece]!++;
    if (peer.firstPieceAt === null) {
      peer.firstPieceAt = at;
      firstPieces.push(at - peer.arrivedAt);
    }
    if (peer.count === Math.ceil(P / 2)) peer.halfAt = at;
    if (peer.count === P) {
      peer.doneAt = at;
      peer.leaveAt = at + peer.seedTime;
      swarms[peer.object]!.seeds++;
      downloads.push(at - peer.arrivedAt);
      observe?.peerDone?.({
        id: peer.id,
        object: peer.object,
        arrivedAt: peer.arrivedAt,
        firstPieceAt: peer.firstPieceAt,
        halfAt: peer.halfAt,
        doneAt: at,
        edgeSlotAt: peer.edgeSlotAt,
        cdnBytes: peer.gotCdn,
        peerBytes: peer.gotPeers,
      });
    }
  };

  /** The next piece `leecher` gets from `uploader`: rarest first, one it is not getting from another source. */
  const pick = (leecher: Peer, uploader: Peer | Server, order: number[]): number | null => {
    let fallback: number | null = null;
    const busy = new Set(leecher.fetching.values());
    for (const piece of order) {
      if (leecher.have[piece] || !uploaderHas(uploader, leecher.object, piece)) continue;
      if (!busy.has(piece)) return piece;
      fallback ??= piece;
    }
    return fallback;
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
        reserved: Array.from(cdnReserved[o]!, (r) => r === 1),
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
      unpaced[o] = decision.paced ? 0 : 1;
      for (const { piece, setAside } of decision.purge) {
        cdnHeld[o]![piece] = 0;
        if (setAside) cdnReserved[o]![piece] = 1;
        else cdnHeldBytes -= pieceBytes;
        totals.churn++;
      }
      for (const { piece } of decision.drop) {
        cdnReserved[o]![piece] = 0;
        cdnHeldBytes -= pieceBytes;
      }
      for (const { piece, from } of decision.ingest) {
        cdnHeld[o]![piece] = 1;
        if (from === 'reserve') cdnReserved[o]![piece] = 0;
        else {
          cdnHeldBytes += pieceBytes;
          chargeOrigin(o, pieceBytes);
        }
        totals.churn++;
      }
    });
  };

  /** Keeps slots that are still useful and not past their hold; fills free ones from `candidates`. */
  const rechoke = (
    uploader: Peer | Server,
    candidates: Peer[],
    slots: number,
    holdS: number,
    now: number,
    started: (peer: Peer) => boolean,
    choker?: { tick: boolean; yields: (leecher: Peer) => boolean },
  ): void => {
    const rotated: Peer[] = [];
    for (const leecher of uploader.served.keys()) {
      const gone = leecher.doneAt !== null || leecher.leaveAt <= now || !started(leecher);
      if (gone || !interesting(uploader, leecher)) {
        uploader.served.delete(leecher);
        leecher.fetching.delete(uploader.id);
      }
    }
    // The agent's choker (choker.tick): at a tick, slots past their hold or whose leecher yields go to
    // those waiting, oldest slot first, no more than wait; between ticks, only freed slots are filled.
    let waiting = Number.POSITIVE_INFINITY;
    if (choker !== undefined) {
      waiting = 0;
      if (choker.tick) {
        for (const leecher of candidates) {
          if (uploader.served.has(leecher) || !started(leecher) || leecher.doneAt !== null) continue;
          if (interesting(uploader, leecher)) waiting++;
        }
      }
    }
    for (const [leecher, since] of uploader.served) {
      if (waiting === 0) break;
      if (now - since < holdS && !(choker?.tick === true && choker.yields(leecher))) continue;
      uploader.served.delete(leecher);
      leecher.fetching.delete(uploader.id);
      rotated.push(leecher);
      waiting--;
    }
    // Those rotated out go to the back of the queue: others get the slots first. Without the choker a
    // rotated leecher keeps its place among the candidates too (so a server's earlier arrival gets its slot
    // straight back); the agent's choker queues it behind every waiting leecher (choker.ts chokeIntoQueue).
    const behind = choker === undefined ? null : new Set(rotated);
    for (const leecher of [...candidates, ...rotated]) {
      if (uploader.served.size >= slots) break;
      if (leecher === uploader || uploader.served.has(leecher) || !started(leecher)) continue;
      if (behind?.has(leecher) === true && candidates.includes(leecher)) {
        behind.delete(leecher); // its turn comes after the candidates
        continue;
      }
      if (leecher.doneAt !== null || !interesting(uploader, leecher)) continue;
      uploader.served.set(leecher, now);
      if (uploader === server) leecher.edgeSlotAt ??= now;
    }
  };

  for (let now = 0; now < scenario.durationS; now++) {
    // Arrivals.
    for (const { object, arrivedAt, up, abortAt, seedTime } of arrivalsAt(now)) {
      const swarm = swarms[object]!;
      if (swarm.peers.length === 0) swarm.lifetimeOrigin = 0;
      swarm.peers.push({
        id: nextId++,
        object,
        have: new Uint8Array(P),
        progress: new Float64Array(P),
        count: 0,
        up,
        arrivedAt,
        firstPieceAt: null,
        doneAt: null,
        leaveAt: Number.POSITIVE_INFINITY,
        abortAt,
        seedTime,
        served: new Map(),
        fetching: new Map(),
        fromPeers: 0,
        haves: [0, 0],
        edgeSent: [0, 0],
        pid: topology === undefined ? 0 : nextId % topology.pids,
        neighbours: new Set(),
        announcedAt: now,
        halfAt: null,
        edgeSlotAt: null,
        gotCdn: 0,
        gotPeers: 0,
      });
      announce(swarm.peers[swarm.peers.length - 1]!, swarm, now);
      swarm.joined++;
      demanded.add(object);
      totals.peers++;
    }
    // Departures: seeds whose time is up, leechers that abort.
    for (const swarm of swarms) {
      const before = swarm.peers.length;
      swarm.peers = swarm.peers.filter((peer) => {
        const leaving = peer.doneAt !== null ? now >= peer.leaveAt : peer.abortAt !== null && now >= peer.abortAt;
        if (!leaving) return true;
        peer.leaveAt = Math.min(peer.leaveAt, now);
        for (const leecher of peer.served.keys()) leecher.fetching.delete(peer.id);
        server.served.delete(peer);
        for (const neighbour of peer.neighbours) neighbour.neighbours.delete(peer);
        if (peer.doneAt === null) totals.aborted++;
        else swarm.seeds--;
        for (let i = 0; i < P; i++) if (peer.have[i]) swarm.copies[i]!--;
        if (topology !== undefined) for (let i = 0; i < P; i++) if (peer.have[i]) swarm.pidCopies[peer.pid * P + i]!--;
        return false;
      });
      if (before > 0 && swarm.peers.length === 0) swarm.lifetimes.push(swarm.lifetimeOrigin / objectBytes);
    }
    // Leechers that know few peers ask the tracker again (libtorrent re-announces when it needs peers).
    if (topology !== undefined) {
      for (const swarm of swarms) {
        for (const peer of swarm.peers) {
          const due = now - peer.announcedAt >= topology.reannounceS;
          if (due && peer.doneAt === null && peer.neighbours.size < topology.numWant) announce(peer, swarm, now);
        }
      }
    }
    // The function's round: the agent runs one soon after the tracker's statistics change (within 100 ms).
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
    originLeft = scenario.originBytesPerS;
    transfer(now);
  }
  for (const swarm of swarms) if (swarm.peers.length > 0) swarm.lifetimes.push(swarm.lifetimeOrigin / objectBytes);

  /**
   * What each source may send each leecher this second under block requests (Scenario.requests): the
   * leecher's missing bytes less what its other sources hold requested, plus a busy block per round trip
   * once nothing is left unrequested. A source pins at most the missing bytes it has itself.
   */
  function requestCaps(requests: SimRequests, leechers: Peer[]): Map<Peer | Server, Map<Peer, number>> {
    const sourcesOf = new Map<Peer, Array<Peer | Server>>();
    const uploadersNow: Array<Peer | Server> = [server];
    for (const swarm of swarms) for (const peer of swarm.peers) if (peer.served.size > 0) uploadersNow.push(peer);
    for (const uploader of uploadersNow) {
      for (const leecher of uploader.served.keys()) {
        const list = sourcesOf.get(leecher) ?? [];
        list.push(uploader);
        sourcesOf.set(leecher, list);
      }
    }
    const caps = new Map<Peer | Server, Map<Peer, number>>();
    for (const leecher of leechers) {
      const sources = sourcesOf.get(leecher);
      if (sources === undefined) continue;
      let missing = 0;
      for (let i = 0; i < P; i++) if (!leecher.have[i]) missing += pieceBytes - leecher.progress[i]!;
      const pinned = sources.map((source) => {
        let has = 0;
        for (let i = 0; i < P; i++) {
          if (!leecher.have[i] && uploaderHas(source, leecher.object, i)) has += pieceBytes - leecher.progress[i]!;
        }
        return Math.min(requests.queueBytes, has);
      });
      const total = pinned.reduce((a, b) => a + b, 0);
      sources.forEach((source, k) => {
        const others = total - pinned[k]!;
        const cap = others <= 0 ? Number.POSITIVE_INFINITY : Math.max(0, missing - others) + requests.endgameBytesPerS;
        const map = caps.get(source) ?? new Map<Peer, number>();
        map.set(leecher, cap);
        caps.set(source, map);
      });
    }
    return caps;
  }

  /**
   * One second of transfers. Every uploader (peer, and the edge or origin) serves the leechers in its slots
   * at once, its uplink shared among them; a leecher takes from all its sources in parallel up to its
   * downlink (request pipelining to every unchoking peer, as BitTorrent clients do). Uplink a capped
   * leecher cannot take goes to the uploader's other leechers (TCP shares a link that way).
   */
  function transfer(now: number): void {
    const started = (peer: Peer) => now >= peer.arrivedAt + startS;
    const leechers: Peer[] = [];
    for (const swarm of swarms)
      for (const peer of swarm.peers) if (peer.doneAt === null && started(peer)) leechers.push(peer);
    if (leechers.length === 0) return;
    // Peers' slots: shuffled candidates (rotation among those interested).
    if (policy !== 'cdn-only') {
      for (const swarm of swarms) {
        const wanting = swarm.peers.filter((peer) => peer.doneAt === null && started(peer));
        if (wanting.length === 0) {
          for (const peer of swarm.peers) peer.served.clear();
          continue;
        }
        for (const peer of swarm.peers) {
          if (peer.count === 0) continue;
          const known = topology === undefined ? wanting : wanting.filter((leecher) => peer.neighbours.has(leecher));
          const candidates = shuffled(known, random);
          rechoke(peer, candidates, peerSlots, peerHoldS, now, started);
        }
      }
    }
    // The server's slots: longest waiting first (the agent's choker), i.e. by arrival.
    if (policy !== 'function' || cdnHeldBytes > 0 || server.served.size > 0) {
      const queue = [...leechers].sort((a, b) => a.arrivedAt - b.arrivedAt || a.id - b.id);
      rechoke(server, queue, cdnSlots, cdnHoldS, now, started, serverChoker(now));
    }
    // Water-filling: uploaders offer what is left of their uplink equally to leechers with room left.
    const room = new Map<Peer, number>(leechers.map((peer) => [peer, scenario.peerDownloadBytesPerS]));
    // What the edge may still send each leecher this second: its top-up rate less the leecher's rate from
    // peers; unlimited in a swarm where the edge is the only source of a wanted piece (no seed yet).
    const topUp = policy === 'function' ? (scenario.cdnTopUpBytesPerS ?? 0) : 0;
    const edgeRoom = new Map<Peer, number>(
      topUp > 0
        ? leechers.map((peer) => [peer, unpaced[peer.object] ? Number.POSITIVE_INFINITY : topUpRoom(peer, topUp)])
        : [],
    );
    const requestRoom = scenario.requests === undefined ? null : requestCaps(scenario.requests, leechers);
    const roomFor = (uploader: Peer | Server, leecher: Peer): number => {
      let left = room.get(leecher) ?? 0;
      if (requestRoom !== null) left = Math.min(left, requestRoom.get(uploader)?.get(leecher) ?? left);
      return uploader === server && topUp > 0 ? Math.min(left, edgeRoom.get(leecher)!) : left;
    };
    const fair = scenario.downlinkShare === 'fair';
    const flows = new Map<Peer | Server, Map<Peer, number>>();
    const uploaders: Array<[Peer | Server, number]> = [[server, serverRate]];
    for (const swarm of swarms)
      for (const peer of swarm.peers) if (peer.served.size > 0) uploaders.push([peer, peer.up]);
    const left = new Map<Peer | Server, number>(uploaders);
    for (let pass = 0; pass < 4; pass++) {
      const offers = new Map<Peer, Array<[Peer | Server, number]>>();
      for (const [uploader] of uploaders) {
        const capacity = left.get(uploader)!;
        if (capacity <= 0) continue;
        const open = [...uploader.served.keys()].filter((leecher) => roomFor(uploader, leecher) > 0);
        for (const leecher of open) {
          const list = offers.get(leecher) ?? [];
          // An edge paced by top-up offers no more than its allowance: a paused connection sends nothing,
          // so it takes no share of the leecher's downlink from the peers (the agent's wire pauses alike).
          // A source short of requests (Scenario.requests) offers no more than it may send either.
          let share = capacity / open.length;
          if (uploader === server && topUp > 0) share = Math.min(share, edgeRoom.get(leecher)!);
          const requested = requestRoom?.get(uploader)?.get(leecher);
          if (requested !== undefined) share = Math.min(share, requested);
          list.push([uploader, share]);
          offers.set(leecher, list);
        }
      }
      if (offers.size === 0) break;
      for (const [leecher, list] of offers) {
        const shares = fair ? fairShares(list, room.get(leecher)!) : proportionalShares(list, room.get(leecher)!);
        for (const [uploader] of list) {
          const capped = uploader === server && topUp > 0;
          const share = shares.get(uploader)!;
          const taken = capped ? Math.min(share, edgeRoom.get(leecher)!) : share;
          if (capped) edgeRoom.set(leecher, edgeRoom.get(leecher)! - taken);
          const requested = requestRoom?.get(uploader);
          if (requested?.has(leecher)) requested.set(leecher, requested.get(leecher)! - taken);
          left.set(uploader, left.get(uploader)! - taken);
          room.set(leecher, room.get(leecher)! - taken);
          const flow = flows.get(uploader) ?? new Map<Peer, number>();
          flow.set(leecher, (flow.get(leecher) ?? 0) + taken);
          flows.set(uploader, flow);
        }
      }
    }
    // Bytes become pieces: each source continues its piece, then takes the rarest it has (not from another).
    const orders = new Map<Peer, number[]>();
    const orderFor = (leecher: Peer): number[] => {
      let order = orders.get(leecher);
      if (order === undefined) {
        const copies = swarms[leecher.object]!.copies;
        order = Array.from({ length: P }, (_, i) => i)
          .filter((i) => !leecher.have[i])
          .map((i) => [copies[i]! + random() * 0.5, i] as const)
          .sort((a, b) => a[0] - b[0])
          .map(([, i]) => i);
        orders.set(leecher, order);
      }
      return order;
    };
    for (const leecher of leechers) {
      leecher.fromPeers = 0;
      leecher.haves = [0, leecher.haves[0]];
      leecher.edgeSent = [0, leecher.edgeSent[0]];
    }
    const received = new Map<Peer, number>();
    const inbound = new Map<Peer, number>();
    for (const flow of flows.values())
      for (const [leecher, bytes] of flow) inbound.set(leecher, (inbound.get(leecher) ?? 0) + bytes);
    for (const [uploader, flow] of shuffled([...flows], random)) {
      for (const [leecher, bytes] of flow) {
        let budget = bytes;
        while (budget > 1e-6 && leecher.doneAt === null) {
          let piece = leecher.fetching.get(uploader.id);
          if (piece === undefined || leecher.have[piece] || !uploaderHas(uploader, leecher.object, piece)) {
            const next = pick(leecher, uploader, orderFor(leecher));
            if (next === null) {
              leecher.fetching.delete(uploader.id);
              break;
            }
            piece = next;
            leecher.fetching.set(uploader.id, piece);
            if (uploader === server) serverTake(leecher.object, piece);
            if (uploader === server && !uploaderHas(server, leecher.object, piece)) break;
          }
          const amount = Math.min(budget, pieceBytes - leecher.progress[piece]!);
          budget -= amount;
          leecher.progress[piece]! += amount;
          const got = (received.get(leecher) ?? 0) + amount;
          received.set(leecher, got);
          objectAllBytes[leecher.object]! += amount;
          if (uploader === server) {
            leecher.gotCdn += amount;
            leecher.edgeSent[0] += amount;
            if (policy === 'origin-only') chargeOrigin(leecher.object, amount);
            else {
              totals.cdn += amount;
              lastUse[leecher.object]![piece] = ++useClock;
              uses[leecher.object]![piece]! += amount / pieceBytes;
            }
          } else {
            totals.peer += amount;
            leecher.gotPeers += amount;
            objectPeerBytes[leecher.object]! += amount;
            leecher.fromPeers += amount;
            if ((uploader as Peer).pid === leecher.pid) totals.intraPid += amount;
            if (topology !== undefined && swarms[leecher.object]!.pidCopies[leecher.pid * P + piece]! > 0) {
              totals.localSource += amount;
            }
          }
          if (leecher.progress[piece]! >= pieceBytes - 1e-6) {
            leecher.fetching.delete(uploader.id);
            complete(leecher, piece, now + got / inbound.get(leecher)!);
          }
        }
      }
    }
  }

  const receivedAll = totals.peer + totals.cdn + (policy === 'origin-only' ? totals.origin : 0);
  const sorted = [...downloads].sort((a, b) => a - b);
  const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
  const lifetimes = swarms.flatMap((swarm) => swarm.lifetimes);
  const large = { peer: 0, all: 0 };
  swarms.forEach((swarm, o) => {
    if (swarm.joined < 50) return;
    large.peer += objectPeerBytes[o]!;
    large.all += objectAllBytes[o]!;
  });
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
    peerEfficiency: receivedAll === 0 ? 0 : totals.peer / receivedAll,
    meanDownloadS: mean(downloads),
    p95DownloadS: sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!,
    meanFirstPieceS: mean(firstPieces),
    missingPieceSeconds: totals.missing,
    cdnChurnPieces: totals.churn,
    largeSwarmPeerEfficiency: large.all === 0 ? null : large.peer / large.all,
    originPerSwarmMax: lifetimes.length === 0 ? 0 : Math.max(...lifetimes),
    originPerSwarmMean: mean(lifetimes),
    intraPidPeerShare: topology === undefined || totals.peer === 0 ? null : totals.intraPid / totals.peer,
    localSourcePeerShare: topology === undefined || totals.peer === 0 ? null : totals.localSource / totals.peer,
    intraPidShareWhereLocal:
      topology === undefined || totals.localSource === 0 ? null : totals.intraPid / totals.localSource,
  };
}

/** A downlink of `room` shared in proportion to the offers (all of each offer when they fit). */
function proportionalShares<K>(offers: Array<[K, number]>, room: number): Map<K, number> {
  const total = offers.reduce((sum, [, bytes]) => sum + bytes, 0);
  const scale = Math.min(1, room / total);
  return new Map(offers.map(([source, bytes]) => [source, bytes * scale]));
}

/** A downlink of `room` shared max-min fairly: smallest offers first, each at most an equal part of what is left. */
export function fairShares<K>(offers: Array<[K, number]>, room: number): Map<K, number> {
  const ascending = [...offers].sort((a, b) => a[1] - b[1]);
  const shares = new Map<K, number>();
  let left = room;
  ascending.forEach(([source, bytes], i) => {
    const share = Math.min(bytes, left / (ascending.length - i));
    shares.set(source, share);
    left -= share;
  });
  return shares;
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
