// Where the controller's storage control puts pieces it ingests (TR 23.844 6.2.2, docs/controller.md,
// "Storage control"): one edge per ingest, chosen by an EdgeChoice. The default keeps an object's pieces
// together (an edge holding the object already: HTTP ranges then redirect to one edge), then takes the
// least loaded edge with room, then the roomiest. With network maps (docs/topology.md), nearDemand() puts
// the pieces in, or nearest by cost to, the PID with the most unserved demand first, then applies the rule
// it was given among the edges at that cost.

/** A serving edge as a placement sees it. */
export interface PlacementCandidate {
  edgeId: string;
  name: string;
  /** Free bytes on the edge (its last heartbeat). */
  freeBytes: number;
  /** Open connections (its last heartbeat). */
  connections: number;
  uploadBytesPerSecond: number;
  /** Pieces of the object it holds already. */
  piecesHeld: number;
  /** Its PID (that of its HTTP base URL's address) with network maps; null or absent: none. */
  pid?: string | null;
}

/** What is to be placed. */
export interface PlacementRequest {
  infoHash: string;
  pieces: readonly number[];
  /** Bytes of those pieces. */
  bytes: number;
  /**
   * With a tracker that has network maps: the swarm's seeds and leechers that are not CDN nodes, by PID
   * (SwarmCounts.pids). Absent: demand by PID is not known.
   */
  pids?: Readonly<Record<string, { seeds: number; leechers: number }>>;
}

/** The edge to ingest on, or null when none can take the pieces. */
export type EdgeChoice = (
  request: PlacementRequest,
  candidates: readonly PlacementCandidate[],
) => PlacementCandidate | null;

/**
 * Connections counted as one step of load: edges within the same step are taken as equally loaded, so that
 * a few connections more do not scatter an object over edges.
 */
export const LOAD_STEP_CONNECTIONS = 64;

/**
 * The default choice: among edges with room for the pieces (free space at least twice their bytes: the
 * heartbeat may be a period old), an edge holding the object first (the most of it), then the least load
 * (connections in steps of LOAD_STEP_CONNECTIONS), then the most free space, then the edge id.
 */
export const chooseEdge: EdgeChoice = (request, candidates) => {
  const fitting = candidates.filter((edge) => edge.freeBytes >= 2 * request.bytes);
  if (fitting.length === 0) return null;
  const ranked = [...fitting].sort(
    (a, b) =>
      Number(b.piecesHeld > 0) - Number(a.piecesHeld > 0) ||
      b.piecesHeld - a.piecesHeld ||
      Math.floor(a.connections / LOAD_STEP_CONNECTIONS) - Math.floor(b.connections / LOAD_STEP_CONNECTIONS) ||
      b.freeBytes - a.freeBytes ||
      (a.edgeId < b.edgeId ? -1 : a.edgeId > b.edgeId ? 1 : 0),
  );
  return ranked[0]!;
};

/**
 * Leechers of a PID that no seed of the PID serves: max(0, leechers - seeds). A seed in the PID gives about
 * one leecher its full rate (a leecher's downlink is about a peer's uplink, as copiesPerLeecher assumes),
 * and the pieces placed are on no edge yet, so nothing else nearby serves them.
 */
export function unservedDemand(counts: { seeds: number; leechers: number }): number {
  return Math.max(0, counts.leechers - counts.seeds);
}

/** The PID with the most unserved demand (ties: the first by name), or null when no PID has any. */
export function mostUnservedPid(pids: PlacementRequest['pids']): string | null {
  let best: string | null = null;
  let bestDemand = 0;
  for (const pid of Object.keys(pids ?? {}).sort()) {
    const demand = unservedDemand(pids![pid]!);
    if (demand > bestDemand) {
      best = pid;
      bestDemand = demand;
    }
  }
  return best;
}

/**
 * Placement where the demand is: among edges with room, those at the lowest cost from the PID with the most
 * unserved demand (an edge in that PID costs 0, an unmapped edge comes last), and `within` (default
 * chooseEdge) among them. Without demand by PID (a tracker without maps, no leechers in any PID), `within`
 * over all the candidates: the rule without maps.
 */
export function nearDemand(
  cost: (from: string, to: string | null) => number,
  within: EdgeChoice = chooseEdge,
): EdgeChoice {
  return (request, candidates) => {
    const target = mostUnservedPid(request.pids);
    if (target === null) return within(request, candidates);
    const fitting = candidates.filter((edge) => edge.freeBytes >= 2 * request.bytes);
    if (fitting.length === 0) return null;
    const costs = fitting.map((edge) => cost(target, edge.pid ?? null));
    const lowest = Math.min(...costs);
    return within(
      request,
      fitting.filter((_, i) => costs[i] === lowest),
    );
  };
}
