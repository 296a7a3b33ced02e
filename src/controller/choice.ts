// Which edge gets a request: weighted rendezvous hashing (highest random weight). Every request for the
// same key (an object's piece or span) goes to the same edge while it serves, which keeps the edges'
// caches apart and warm; an edge that leaves moves only its own keys; a busier edge weighs less, so load
// tips the choice without a global reshuffle.
import type { FleetEdge } from './fleet-catalog.ts';

/** FNV-1a, 32 bits, of the edge id and the key: cheap, and spread well enough for a choice among a few. */
function score(edgeId: string, key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < edgeId.length; i += 1) hash = Math.imul(hash ^ edgeId.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ 0x2f, 0x01000193);
  for (let i = 0; i < key.length; i += 1) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  // Finalise (murmur3's fmix32): FNV alone leaves the high bits of similar keys alike.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return ((hash >>> 0) + 0.5) / 2 ** 32;
}

/** Connections at which an edge's weight halves. */
const LOAD_HALF_WEIGHT_CONNECTIONS = 256;

/** An edge's weight: 1 when idle, lower as its open connections grow. */
export function loadWeight(edge: FleetEdge): number {
  return 1 / (1 + (edge.liveness?.connections ?? 0) / LOAD_HALF_WEIGHT_CONNECTIONS);
}

/**
 * The cost of reaching an edge (src/topology: routing cost between PIDs), lower first. With one, the
 * nearest edges are chosen among and rendezvous with load decides between edges at the same cost.
 */
export type EdgeCost = (edge: FleetEdge) => number;

/** The candidates ordered best first for `key`: cost, then weighted rendezvous (score -w / ln(h)). */
export function rankEdges(candidates: FleetEdge[], key: string, cost?: EdgeCost): FleetEdge[] {
  if (candidates.length < 2) return candidates;
  return candidates
    .map((edge) => ({
      edge,
      cost: cost?.(edge) ?? 0,
      rank: -loadWeight(edge) / Math.log(score(edge.record.id, key)),
    }))
    .sort((a, b) => a.cost - b.cost || b.rank - a.rank)
    .map(({ edge }) => edge);
}

/** The best of the candidates for `key` (the nearest, then by rendezvous), without sorting them all. */
export function bestEdge(candidates: FleetEdge[], key: string, cost?: EdgeCost): FleetEdge | undefined {
  let best: FleetEdge | undefined;
  let bestCost = Number.POSITIVE_INFINITY;
  let bestRank = -1;
  for (const edge of candidates) {
    const edgeCost = cost?.(edge) ?? 0;
    if (edgeCost > bestCost) continue;
    const rank = -loadWeight(edge) / Math.log(score(edge.record.id, key));
    if (edgeCost < bestCost || rank > bestRank) {
      best = edge;
      bestCost = edgeCost;
      bestRank = rank;
    }
  }
  return best;
}
