// Reading the reference tracker's swarm statistics (GET /stats/<info hash>, docs/tracker.md) into the
// counts decide() uses: copies of each piece in the swarm, the CDN nodes' share of them, and demand. An
// answer that does not have the documented shape is refused whole (StatsFormatError), never half used.
import { BitmapError, decodeBitmap } from '../tracker/index.ts';
import type { SwarmCounts } from './types.ts';

export class StatsFormatError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(record: Record<string, unknown>, key: string): number {
  const value = record[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new StatsFormatError(`"${key}" must be a whole number >= 0, got ${JSON.stringify(value)?.slice(0, 40)}`);
  }
  return value;
}

/**
 * The counts of one swarm from a /stats/<info hash> answer, for an object of `pieceCount` pieces.
 * - swarmCopies: the tracker's pieceCopies, or `seeds` for every piece when it does not know the pieces
 *   (no network peer told it pieceCount): seeds hold every piece, plain leechers' pieces are unknown.
 * - cdnCopies: per piece, the network peers holding it (complete ones hold all; a bitmap says which).
 * - demand: leechers that are not network peers.
 */
export function countsFromStats(
  answer: unknown,
  infoHash: string,
  pieceCount: number,
  receivedAt: number,
): SwarmCounts {
  if (!isRecord(answer)) throw new StatsFormatError('the answer is not a JSON object');
  if (answer.infoHash !== infoHash) {
    throw new StatsFormatError(`the answer is for ${String(answer.infoHash).slice(0, 40)}, not ${infoHash}`);
  }
  const version = count(answer, 'version');
  const seeds = count(answer, 'seeds');
  const leechers = count(answer, 'leechers');
  const copies = answer.pieceCopies;
  let swarmCopies: number[];
  if (copies === null) {
    swarmCopies = new Array(pieceCount).fill(seeds);
  } else if (Array.isArray(copies)) {
    if (copies.length !== pieceCount) {
      throw new StatsFormatError(`pieceCopies has ${copies.length} entries, the object has ${pieceCount} pieces`);
    }
    swarmCopies = copies.map((value, i) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new StatsFormatError(`pieceCopies[${i}] must be a whole number >= 0`);
      }
      return value;
    });
  } else {
    throw new StatsFormatError('"pieceCopies" must be an array or null');
  }
  const networkPeers = answer.networkPeers;
  if (!Array.isArray(networkPeers)) throw new StatsFormatError('"networkPeers" must be an array');
  const cdnCopies = new Array<number>(pieceCount).fill(0);
  let cdnLeechers = 0;
  for (const peer of networkPeers) {
    if (!isRecord(peer) || typeof peer.complete !== 'boolean') {
      throw new StatsFormatError('a network peer lacks "complete"');
    }
    if (peer.complete) {
      for (let i = 0; i < pieceCount; i++) cdnCopies[i]! += 1;
      continue;
    }
    cdnLeechers += 1;
    if (peer.bitmap === null || peer.bitmap === undefined) continue;
    if (typeof peer.bitmap !== 'string') throw new StatsFormatError('a network peer\'s "bitmap" must be a string');
    let bitfield: Uint8Array;
    try {
      bitfield = decodeBitmap(peer.bitmap, pieceCount);
    } catch (err) {
      if (err instanceof BitmapError) throw new StatsFormatError(`a network peer's bitmap: ${err.message}`);
      throw err;
    }
    for (let i = 0; i < pieceCount; i++) if ((bitfield[i >> 3]! & (0x80 >> (i & 7))) !== 0) cdnCopies[i]! += 1;
  }
  const pids = pidsOf(answer);
  // A network peer's pieces count in pieceCopies only when the tracker has its bitmap: never more than that.
  for (let i = 0; i < pieceCount; i++) cdnCopies[i] = Math.min(cdnCopies[i]!, swarmCopies[i]!);
  return {
    version,
    receivedAt,
    swarmCopies,
    cdnCopies,
    demand: Math.max(0, leechers - cdnLeechers),
    seeds,
    leechers,
    ...(pids === null ? {} : { pids }),
  };
}

/** The answer's `pids` (a tracker with network maps: peers that are not network peers, by PID), or null. */
function pidsOf(answer: Record<string, unknown>): Record<string, { seeds: number; leechers: number }> | null {
  const pids = answer.pids;
  if (pids === undefined) return null;
  if (!isRecord(pids)) throw new StatsFormatError('"pids" must be an object');
  // No prototype: a PID may be named "__proto__".
  const counts: Record<string, { seeds: number; leechers: number }> = Object.create(null);
  for (const [pid, entry] of Object.entries(pids)) {
    if (!isRecord(entry)) throw new StatsFormatError(`"pids".${JSON.stringify(pid).slice(0, 70)} must be an object`);
    try {
      counts[pid] = { seeds: count(entry, 'seeds'), leechers: count(entry, 'leechers') };
    } catch (err) {
      if (err instanceof StatsFormatError) {
        throw new StatsFormatError(`"pids".${JSON.stringify(pid).slice(0, 70)}: ${err.message}`);
      }
      throw err;
    }
  }
  return counts;
}
