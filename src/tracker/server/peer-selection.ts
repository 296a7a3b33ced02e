// Which peers an announce gets back: those most likely to hold what the asker lacks. With the asker's bitmap
// that is counted exactly (pieces the candidate has and the asker has not); without it, candidates that
// hold more come first. Seeds get leechers first and other seeds after them: a client that joins by magnet
// link announces left=0 until it has the metadata, and would otherwise never hear of anyone. Work per
// announce is bounded by sampling.
import { countMissing } from '../protocol/bitmap.ts';
import type { Holding, ListedPeer, PeerRecord, SwarmFacts } from './swarm-store.ts';

/** What choosing needs of a peer: the listed fields, its key, what it has left and what it holds. */
export type CandidatePeer = ListedPeer & Pick<PeerRecord, 'key' | 'left' | 'holding'>;

/** The peers to choose from (all of a swarm, or a sample a shared store drew) and what scoring needs. */
export interface PeerPool extends Pick<SwarmFacts, 'pieceCount' | 'size'> {
  list: readonly CandidatePeer[];
}

/**
 * Where the asker is (ALTO, docs/topology.md): the cost of reaching each candidate from the asker's PID,
 * and the share of each answer drawn at random whatever the cost, so that locality never partitions a
 * swarm (RFC 6821).
 */
export interface PeerLocality {
  /** The cost from the asker's PID to the peer's (its pidNumber when the store kept it). */
  cost(peer: CandidatePeer): number;
  randomShare: number;
  /** PID numbers a store may keep in its peer records, so that listing a peer costs no lookup. */
  pids?: PidNumbering;
}

/**
 * The network map's PID numbers (Topology.pidNumber, -1 outside every PID): the asker's, and the lookup
 * for a peer whose number the store does not hold. A number kept in a record stands while `generation`
 * (this process) or `fingerprint` (a store shared by processes loading the same map) is unchanged: a map
 * reload changes them, and the numbers are looked up again.
 */
export interface PidNumbering {
  asker: number;
  generation: number;
  fingerprint: string;
  numberOf(compact: string): number;
}

/**
 * The packed scores of one choice, reused by the next (choosing is synchronous): allocating a typed array
 * per announce cost about as much as sorting it.
 */
let scoreScratch = new Float64Array(256);

/** Candidates looked at per announce, at least; large swarms are sampled down to this. */
const MIN_SAMPLE = 128;
/** Bitmap bytes compared per announce, at most (bounds the cost of exact scoring). */
const MAX_COMPARED_BYTES = 4 * 1024 * 1024;

/** Candidates to look at for an asker wanting numWant peers, with a bitmap of askerBitmapBytes (0: none). */
export function samplingSize(numWant: number, askerBitmapBytes: number): number {
  const sampleSize = Math.max(numWant * 4, MIN_SAMPLE);
  if (askerBitmapBytes === 0) return sampleSize;
  return Math.max(numWant, Math.min(sampleSize, MAX_COMPARED_BYTES / askerBitmapBytes));
}

/** `askerKey`: the asker's compact form, to leave out of the list; '' when the pool cannot hold the asker. */
export function pickPeers(
  swarm: PeerPool,
  asker: CandidatePeer | null,
  askerHolding: Holding,
  numWant: number,
  wantFamily: 4 | 6 | undefined,
  askerKey: string,
  locality?: PeerLocality,
): ListedPeer[] {
  const askerBitmap = askerHolding.kind === 'bitmap' ? askerHolding.bitmap : null;
  const sampleSize = samplingSize(numWant, askerBitmap?.length ?? 0);
  const askerIsSeed = askerHolding.kind === 'full';
  const candidates: CandidatePeer[] = [];
  for (const record of sample(swarm.list, sampleSize)) {
    if (record === asker || (askerKey !== '' && record.key === askerKey)) continue;
    if (wantFamily !== undefined && record.family !== wantFamily) continue;
    candidates.push(record);
  }
  if (locality !== undefined) return pickNearPeers(swarm, candidates, askerHolding, numWant, locality);
  if (askerIsSeed) {
    // Leechers first, then seeds, each in random order.
    const leechers = candidates.filter((record) => record.left !== 0);
    const seeds = candidates.filter((record) => record.left === 0);
    partialShuffle(leechers, numWant);
    partialShuffle(seeds, numWant - Math.min(numWant, leechers.length));
    return [...leechers.slice(0, numWant), ...seeds.slice(0, numWant - Math.min(numWant, leechers.length))];
  }
  if (candidates.length <= numWant) return candidates;
  const count = candidates.length;
  if (scoreScratch.length < count) scoreScratch = new Float64Array(Math.max(count, scoreScratch.length * 2));
  const scores = scoreScratch.subarray(0, count);
  let highest = 0;
  for (let i = 0; i < count; i++) {
    const value = score(swarm, candidates[i]!, askerHolding) + Math.random() * 0.5;
    scores[i] = value;
    if (value > highest) highest = value;
  }
  // Highest score first. Each score and its candidate's index are packed into one number, exact in a double
  // (scores scaled to the bits the index leaves), and sorted as a typed array: V8 sorts those natively,
  // where a comparator function costs a call per comparison (~600 for 100 candidates, ~8 us an announce).
  const indexBits = Math.max(1, Math.ceil(Math.log2(count)));
  const scale = 2 ** (52 - indexBits - Math.max(0, Math.ceil(Math.log2(highest + 1))));
  const indexSlots = 2 ** indexBits;
  for (let i = 0; i < count; i++) scores[i] = Math.floor(scores[i]! * scale) * indexSlots + i;
  scores.sort();
  const picked: ListedPeer[] = new Array(numWant);
  for (let i = 0; i < numWant; i++) picked[i] = candidates[scores[count - 1 - i]! % indexSlots]!;
  return picked;
}

/**
 * Cost first, then what the candidate can give (a seed asker: leechers before seeds), then chance; all but
 * the random share are the nearest, and the random share is drawn uniformly from the others. The answer
 * lists the nearest first.
 */
function pickNearPeers(
  swarm: PeerPool,
  candidates: CandidatePeer[],
  askerHolding: Holding,
  numWant: number,
  locality: PeerLocality,
): ListedPeer[] {
  const costs = new Float64Array(candidates.length);
  const scores = new Float64Array(candidates.length);
  const order: number[] = new Array(candidates.length);
  const askerIsSeed = askerHolding.kind === 'full';
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!;
    costs[i] = locality.cost(candidate);
    scores[i] =
      (askerIsSeed ? (candidate.left !== 0 ? 1 : 0) : score(swarm, candidate, askerHolding)) + Math.random() * 0.5;
    order[i] = i;
  }
  const nearestFirst = (a: number, b: number) => costs[a]! - costs[b]! || scores[b]! - scores[a]!;
  order.sort(nearestFirst);
  if (candidates.length > numWant) {
    const randomCount = Math.min(numWant, Math.round(numWant * locality.randomShare));
    const rest = order.slice(numWant - randomCount);
    partialShuffle(rest, randomCount);
    order.length = numWant - randomCount;
    for (let i = 0; i < randomCount; i++) order.push(rest[i]!);
    order.sort(nearestFirst);
  }
  return order.map((i) => candidates[i]!);
}

/** How many pieces the asker could get from this candidate (estimated when either side's bitmap is unknown). */
function score(swarm: PeerPool, candidate: CandidatePeer, askerHolding: Holding): number {
  const pieceCount = swarm.pieceCount ?? 1000;
  const askerHeld = askerHolding.kind === 'bitmap' ? askerHolding.held : 0;
  const holding = candidate.holding;
  if (holding.kind === 'full') return pieceCount - askerHeld;
  if (holding.kind === 'bitmap') {
    return askerHolding.kind === 'bitmap' ? countMissing(holding.bitmap, askerHolding.bitmap) : holding.held;
  }
  // A plain leecher: its progress from `left`, if the object size is known, times what the asker misses.
  if (swarm.size === null || swarm.size <= 0) return 0.25;
  const progress = Math.max(0, 1 - candidate.left / swarm.size);
  return progress * (pieceCount - askerHeld);
}

/** Up to `size` distinct records, uniformly chosen (all of them when there are few). */
function sample(list: readonly CandidatePeer[], size: number): readonly CandidatePeer[] {
  if (list.length <= size) return list;
  const chosen = new Set<number>();
  while (chosen.size < size) chosen.add(Math.floor(Math.random() * list.length));
  return Array.from(chosen, (index) => list[index]!);
}

/** Moves a uniform random choice of `count` items to the front (Fisher-Yates, stopped early). */
function partialShuffle<T>(items: T[], count: number): void {
  for (let i = 0; i < count && i < items.length - 1; i++) {
    const j = i + Math.floor(Math.random() * (items.length - i));
    const item = items[i]!;
    items[i] = items[j]!;
    items[j] = item;
  }
}
