// How little CDN egress any edge policy could get away with in a scenario, given its peers: the same
// arrivals, uplinks, aborts and seed times the simulator draws. It tells whether a goal such as "50 % below
// LRU at a p95 within 1.10x" is reachable at all before asking which policy reaches it, and how far a policy
// is from the best that its own download times allowed.
//
// Two floors, both a maximum flow of peers' uplinks into leechers (allocate, below):
// - deadlineFloor: every leecher has until `deadlineS` after its arrival (the p95 the goal allows) and no
//   longer; the slowest `exemptShare` may miss it, as a p95 allows.
// - timingFloor: every peer comes and goes exactly as in a simulator run, and each completed leecher needs its
//   object by the time it completed there.
// Every other assumption favours the peers, so the CDN egress found is a floor no policy goes below:
// - a peer uploads its whole uplink from the second it arrives, whatever pieces it holds (a fresh leecher
//   has nothing to give in truth), to any leecher of its swarm but itself: no choking, no request queues;
// - (deadlineFloor) a leecher completes at its deadline, so it stays as long as it could, then seeds its
//   seed time; a peer drawn to abort either aborts (needs nothing, leaves then) or completes before then and
//   seeds (a policy's speed decides which), and lowestDeadlineFloor searches for the choice that helps most;
// - the exempt need nothing from the CDN, and they are the leechers with the most left at their deadline;
//   when at least that many leechers had no other peer present at all, that choice is the best one (each
//   saves the whole object and takes no peer's uplink).
import { type Arrival, arrivalSource } from './arrivals.ts';
import type { Scenario, SimPeerRecord } from './simulate.ts';

export interface EgressFloor {
  scenario: string;
  /** Leechers that must complete (by their deadline, or when they did in the run). */
  leechers: number;
  /** Of those, how many may miss their deadline and need nothing (deadlineFloor's p95 allowance). */
  exempt: number;
  /** The object's size times the leechers that must complete, less the exempt. */
  demandBytes: number;
  /** The most the peers can give them in time. */
  peerBytesMax: number;
  /** demandBytes - peerBytesMax: no policy's CDN egress to these leechers goes below this. */
  cdnBytesMin: number;
  /** Of cdnBytesMin, what leechers that had no other peer present while they downloaded needed. */
  cdnBytesMinAlone: number;
  /** cdnBytesMin by object (catalogue rank). */
  cdnBytesMinByObject: number[];
}

export interface DeadlineOptions {
  /** Share of leechers that may miss the deadline (default 0.05, a p95). */
  exemptShare?: number;
  /** Peers drawn to abort that complete instead (by arrival index, as SimPeerRecord.id); the rest abort. */
  completing?: ReadonlySet<number>;
}

interface FlowPeer {
  up: number;
  arrivedAt: number;
  leaveAt: number;
  /** When it must hold the whole object, or null if it need not complete. */
  dueAt: number | null;
  need: number;
  /** What it still lacked at dueAt, after allocate(). */
  left: number;
  /** Some other peer of its swarm was present while it downloaded. */
  company: boolean;
}

export function deadlineFloor(scenario: Scenario, deadlineS: number, options: DeadlineOptions = {}): EgressFloor {
  const { exemptShare = 0.05, completing = new Set<number>() } = options;
  const objectBytes = scenario.piecesPerObject * scenario.pieceBytes;
  const swarms = drawnPeers(scenario).map((peers) =>
    peers.map(({ index, arrival }): FlowPeer => {
      const aborts = arrival.abortAt !== null && !completing.has(index);
      const completesBy = Math.min(arrival.abortAt ?? Number.POSITIVE_INFINITY, arrival.arrivedAt + deadlineS);
      const dueAt = !aborts && completesBy <= scenario.durationS ? completesBy : null;
      return {
        up: arrival.up,
        arrivedAt: arrival.arrivedAt,
        leaveAt: aborts ? arrival.abortAt! : completesBy + arrival.seedTime,
        dueAt,
        need: dueAt === null ? 0 : objectBytes,
        left: 0,
        company: false,
      };
    }),
  );
  const leechers = swarms.flat().filter((peer) => peer.dueAt !== null);
  const exempt = Math.floor(leechers.length * exemptShare);
  // First pass: what each leecher lacks at its deadline; the exempt are those that lack most.
  allocate(swarms, scenario.peerDownloadBytesPerS);
  const exempted = new Set([...leechers].sort((a, b) => b.left - a.left).slice(0, exempt));
  for (const peer of exempted) peer.need = 0;
  return floorOf(scenario, swarms, leechers.length, exempted.size, allocate(swarms, scenario.peerDownloadBytesPerS));
}

/**
 * deadlineFloor with the peers drawn to abort choosing, one at a time, between aborting and completing,
 * whichever lowers the floor (from all aborting and from all completing; two sweeps each): a local search,
 * so a lower mix may exist, but each sweep that finds none is a local minimum.
 */
export function lowestDeadlineFloor(scenario: Scenario, deadlineS: number): EgressFloor & { completing: number } {
  const aborters = drawnPeers(scenario)
    .flat()
    .filter(({ arrival }) => arrival.abortAt !== null)
    .map(({ index }) => index);
  let best: EgressFloor & { completing: number } = { ...deadlineFloor(scenario, deadlineS), completing: 0 };
  for (const start of [[], aborters]) {
    const completing = new Set<number>(start);
    let floor = deadlineFloor(scenario, deadlineS, { completing });
    for (let sweep = 0; sweep < 2; sweep++) {
      for (const index of aborters) {
        toggle(completing, index);
        const tried = deadlineFloor(scenario, deadlineS, { completing });
        if (tried.cdnBytesMin < floor.cdnBytesMin) floor = tried;
        else toggle(completing, index);
      }
    }
    if (floor.cdnBytesMin < best.cdnBytesMin) best = { ...floor, completing: completing.size };
  }
  return best;
}

/** The floor for a run's own timing: `records` are the completed peers of simulate(scenario, ...). */
export function timingFloor(scenario: Scenario, records: readonly SimPeerRecord[]): EgressFloor {
  const objectBytes = scenario.piecesPerObject * scenario.pieceBytes;
  const done = new Map(records.map((record) => [record.id, record]));
  const swarms = drawnPeers(scenario).map((peers) =>
    peers.map(({ index, arrival }): FlowPeer => {
      const record = done.get(index);
      const leaveAt =
        record !== undefined
          ? record.doneAt + arrival.seedTime
          : Math.min(arrival.abortAt ?? scenario.durationS, scenario.durationS);
      const dueAt = record?.doneAt ?? null;
      return {
        up: arrival.up,
        arrivedAt: arrival.arrivedAt,
        leaveAt,
        dueAt,
        need: dueAt === null ? 0 : objectBytes,
        left: 0,
        company: false,
      };
    }),
  );
  return floorOf(scenario, swarms, records.length, 0, allocate(swarms, scenario.peerDownloadBytesPerS));
}

function drawnPeers(scenario: Scenario) {
  const arrivalsAt = arrivalSource(scenario);
  const swarms: Array<Array<{ index: number; arrival: Arrival }>> = Array.from({ length: scenario.objects }, () => []);
  let index = 0;
  for (let now = 0; now < scenario.durationS; now++) {
    for (const arrival of arrivalsAt(now)) swarms[arrival.object]!.push({ index: index++, arrival });
  }
  return swarms;
}

function floorOf(
  scenario: Scenario,
  swarms: FlowPeer[][],
  leechers: number,
  exempt: number,
  peerBytesMax: number,
): EgressFloor {
  const owed = swarms.flat().filter((peer) => peer.need > 0);
  const demandBytes = owed.length * scenario.piecesPerObject * scenario.pieceBytes;
  return {
    scenario: scenario.name,
    leechers,
    exempt,
    demandBytes,
    peerBytesMax,
    cdnBytesMin: demandBytes - peerBytesMax,
    cdnBytesMinAlone: owed.filter((peer) => !peer.company).reduce((sum, peer) => sum + peer.left, 0),
    cdnBytesMinByObject: swarms.map((peers) => peers.reduce((sum, peer) => sum + peer.left, 0)),
  };
}

function toggle(set: Set<number>, value: number): void {
  if (!set.delete(value)) set.add(value);
}

/**
 * The most peers can give, as a maximum flow per swarm: the source feeds each second t with the uplinks of the
 * peers present in it (U_t); second t feeds each leecher still before its deadline up to its downlink and
 * U_t less its own uplink; each leecher drains up to what it needs. Within a second that is exact: a
 * leecher can take from every present peer but itself, so any two or more leechers together reach every
 * uplink, and those two limits are all Hall's condition asks. Returns the bytes given; each peer's `left`
 * is what it still lacked at its deadline.
 */
export function allocate(swarms: FlowPeer[][], downlink: number): number {
  let given = 0;
  for (const peers of swarms) {
    const leechers = peers.filter((peer) => peer.dueAt !== null);
    for (const peer of peers) {
      peer.left = peer.need;
      peer.company = false;
    }
    if (leechers.length === 0) continue;
    const end = Math.max(...peers.map((peer) => Math.ceil(peer.leaveAt)));
    // Nodes: 0 source, 1 sink, 2 + i leecher i, then one per second that feeds anyone.
    const flow = new MaxFlow(2 + leechers.length);
    const drains = leechers.map((leecher, i) => flow.edge(2 + i, 1, leecher.need));
    for (let now = 0; now < end; now++) {
      const present = peers.filter((peer) => peer.arrivedAt <= now && now < peer.leaveAt);
      const uplinks = present.reduce((sum, peer) => sum + peer.up, 0);
      let second = -1;
      leechers.forEach((leecher, i) => {
        if (leecher.arrivedAt > now || now >= leecher.dueAt!) return;
        if (present.length > 1) leecher.company = true;
        const room = Math.min(downlink, uplinks - (present.includes(leecher) ? leecher.up : 0));
        if (room <= 0 || leecher.need <= 0) return;
        if (second < 0) {
          second = flow.node();
          flow.edge(0, second, uplinks);
        }
        flow.edge(second, 2 + i, room);
      });
    }
    given += flow.run(0, 1);
    leechers.forEach((leecher, i) => {
      leecher.left = leecher.need - flow.carried(drains[i]!);
    });
  }
  return given;
}

/** Dinic's maximum flow on real-valued capacities (bytes). */
export class MaxFlow {
  private readonly to: number[] = [];
  private readonly residual: number[] = [];
  private readonly capacity: number[] = [];
  private readonly out: number[][] = [];

  constructor(nodes: number) {
    for (let i = 0; i < nodes; i++) this.out.push([]);
  }

  node(): number {
    this.out.push([]);
    return this.out.length - 1;
  }

  /** Adds an edge and returns its id (for carried()). */
  edge(from: number, to: number, capacity: number): number {
    const id = this.to.length;
    for (const [a, b, c] of [
      [from, to, capacity],
      [to, from, 0],
    ] as const) {
      this.out[a]!.push(this.to.length);
      this.to.push(b);
      this.residual.push(c);
      this.capacity.push(c);
    }
    return id;
  }

  carried(edge: number): number {
    return this.capacity[edge]! - this.residual[edge]!;
  }

  run(source: number, sink: number): number {
    // Bytes: anything below a thousandth of one is rounding.
    const epsilon = 1e-3;
    let total = 0;
    for (;;) {
      const level = new Int32Array(this.out.length).fill(-1);
      level[source] = 0;
      const queue = [source];
      for (let head = 0; head < queue.length; head++) {
        const at = queue[head]!;
        for (const e of this.out[at]!) {
          if (this.residual[e]! > epsilon && level[this.to[e]!] === -1) {
            level[this.to[e]!] = level[at]! + 1;
            queue.push(this.to[e]!);
          }
        }
      }
      if (level[sink] === -1) return total;
      const next = new Int32Array(this.out.length);
      const push = (at: number, limit: number): number => {
        if (at === sink) return limit;
        for (; next[at]! < this.out[at]!.length; next[at]!++) {
          const e = this.out[at]![next[at]!]!;
          const to = this.to[e]!;
          if (this.residual[e]! <= epsilon || level[to] !== level[at]! + 1) continue;
          const pushed = push(to, Math.min(limit, this.residual[e]!));
          if (pushed > 0) {
            this.residual[e]! -= pushed;
            this.residual[e ^ 1]! += pushed;
            return pushed;
          }
        }
        return 0;
      };
      for (let pushed = push(source, Number.POSITIVE_INFINITY); pushed > 0; ) {
        total += pushed;
        pushed = push(source, Number.POSITIVE_INFINITY);
      }
    }
  }
}
