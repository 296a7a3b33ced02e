// What an edgepeer tracker knows of an object's swarm: copies of each piece among the peers whose pieces
// it knows (docs/tracker.md, "Swarm statistics"). Its statistics sit beside its announce URL
// (http://host:port/announce -> http://host:port/stats/<info hash>); other trackers have none (404), and
// the piece map then shows no heat map.
import { request } from 'undici';

export interface SwarmView {
  /** The announce URL whose statistics these are. */
  tracker: string;
  seeds: number;
  leechers: number;
  /** Copies of each piece in the swarm, or null when the tracker knows no peer's pieces. */
  pieceCopies: number[] | null;
}

/** The statistics URL beside an HTTP(S) announce URL ending in /announce, else null. */
export function statsUrlOf(announceUrl: string, infoHash: string): string | null {
  const match = /^(https?:\/\/[^?#]+)\/announce$/i.exec(announceUrl);
  return match ? `${match[1]}/stats/${infoHash.toLowerCase()}` : null;
}

/** The first of `trackers` that answers with statistics of the object, or null. */
export async function trackerSwarm(trackers: string[], infoHash: string, timeoutMs = 2000): Promise<SwarmView | null> {
  for (const tracker of trackers) {
    const url = statsUrlOf(tracker, infoHash);
    if (url === null) continue;
    try {
      const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      if (res.statusCode !== 200) {
        await res.body.dump();
        continue;
      }
      const stats = (await res.body.json()) as {
        version?: number;
        seeds?: number;
        leechers?: number;
        pieceCopies?: unknown;
      };
      // version 0: the tracker has never seen the swarm.
      if (!stats.version) continue;
      const copies = Array.isArray(stats.pieceCopies) ? stats.pieceCopies.map((n) => Number(n) || 0) : null;
      return { tracker, seeds: Number(stats.seeds) || 0, leechers: Number(stats.leechers) || 0, pieceCopies: copies };
    } catch {
      // Unreachable, slow or not JSON: try the next one. The overview shows each tracker's state.
    }
  }
  return null;
}
