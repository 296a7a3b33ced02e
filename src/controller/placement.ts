// Where the controller's storage control puts pieces it ingests (TR 23.844 6.2.2, docs/controller.md,
// "Storage control"): one edge per ingest, chosen by an EdgeChoice. The default keeps an object's pieces
// together (an edge holding the object already: HTTP ranges then redirect to one edge), then takes the
// least loaded edge with room, then the roomiest. Another rule (e.g. the PIDs where demand is, from ALTO)
// is another EdgeChoice given to the controller's storage control.

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
}

/** What is to be placed. */
export interface PlacementRequest {
  infoHash: string;
  pieces: readonly number[];
  /** Bytes of those pieces. */
  bytes: number;
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
