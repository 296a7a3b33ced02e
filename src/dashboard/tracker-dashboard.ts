// The reference tracker's dashboard, on its HTTP port under /dashboard, behind its admin token: the
// tracker at a glance (swarms, peers, bitmap memory, evictions) and its swarms, each with the copies of
// every piece among the peers whose pieces it knows (the tracker's swarm statistics) as a heat map. The
// tracker hands in its swarm store; nothing here reaches into it.
import { sendJson } from '../admin/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { LiveFeed } from './live.ts';
import { type ApiRequest, createDashboardShell, type Dashboard } from './shell.ts';

/** A swarm in the tracker's list (SwarmSummary). */
export interface SwarmListItem {
  infoHash: string;
  version: number;
  seeds: number;
  leechers: number;
  networkPeers: number;
  pieceCount: number | null;
}

/** What the dashboard reads of the tracker's swarm store (SwarmStore has it). */
export interface SwarmsView {
  list(limit: number): Promise<SwarmListItem[]>;
  stats(infoHash: string, maxPeers: number): Promise<unknown>;
  counts(): Promise<{ swarms: number; peers: number; bitmapBytes: number; evictedSwarms: number }>;
  onChange(listener: (infoHash: string, version: number) => void): () => void;
}

export interface TrackerDashboardOptions {
  token: string;
  swarms: SwarmsView;
  /** The tracker's own figures beside its store's (internal errors, state failures, followers). */
  health?: () => Record<string, unknown>;
  everyMs?: number;
  maxLivePages?: number;
}

/** Swarms the list pages through at most: beyond it the page says so (`truncated`). */
export const MAX_LISTED_SWARMS = 100_000;
const PAGE = 50;
const SWARM_SORTS: Record<string, (a: SwarmListItem, b: SwarmListItem) => number> = {
  peers: (a, b) => a.seeds + a.leechers - (b.seeds + b.leechers),
  seeds: (a, b) => a.seeds - b.seeds,
  leechers: (a, b) => a.leechers - b.leechers,
  hash: (a, b) => (a.infoHash < b.infoHash ? -1 : a.infoHash > b.infoHash ? 1 : 0),
};

export function createTrackerDashboard(options: TrackerDashboardOptions): Dashboard {
  const overview = async () => ({ ...(await options.swarms.counts()), ...(options.health?.() ?? {}) });
  const everyMs = options.everyMs ?? 2000;
  const live = new LiveFeed({
    snapshots: { overview },
    changes: ['swarms'],
    everyMs,
    maxClients: options.maxLivePages ?? 64,
  });
  // The list of up to 100,000 swarms (from Redis, perhaps) is read once for all pages until a swarm changes.
  let listed: Promise<SwarmListItem[]> | null = null;
  const unsubscribe = options.swarms.onChange((infoHash) => {
    listed = null;
    live.notify('swarms', infoHash);
  });
  const swarmList = () => {
    if (listed === null) {
      const reading = options.swarms.list(MAX_LISTED_SWARMS);
      listed = reading;
      reading.catch(() => {
        if (listed === reading) listed = null; // a failed read is not kept
      });
    }
    return listed;
  };

  async function api({ res, method, route, query }: ApiRequest): Promise<boolean> {
    if (method === 'GET' && route === 'overview') {
      sendJson(res, 200, await overview());
      return true;
    }
    if (method === 'GET' && route === 'swarms') {
      sendJson(res, 200, swarmPage(await swarmList(), query));
      return true;
    }
    const swarm = /^swarms\/([0-9a-fA-F]{40})$/.exec(route);
    if (method === 'GET' && swarm) {
      sendJson(res, 200, await options.swarms.stats((swarm[1] as string).toLowerCase(), 100));
      return true;
    }
    return false;
  }

  const shell = createDashboardShell({
    token: options.token,
    kind: 'tracker',
    pages: { '': 'Overview', swarms: 'Swarms' },
    tokenHint: "Enter the tracker's admin token (the file given to <code>--admin-token-file</code>).",
    live,
    api,
  });
  return {
    handle: shell.handle,
    close: () => {
      unsubscribe();
      shell.close();
    },
  };
}

/** One page of swarms: q (info hash prefix or substring), sort (peers|seeds|leechers|hash, '-' first: descending). */
export function swarmPage(swarms: SwarmListItem[], query: URLSearchParams) {
  const q = (query.get('q') ?? '').toLowerCase();
  const sortSpec = query.get('sort') ?? '-peers';
  const descending = sortSpec.startsWith('-');
  const sort = SWARM_SORTS[descending ? sortSpec.slice(1) : sortSpec];
  if (sort === undefined)
    throw new InvalidArgumentError(`sort: one of ${Object.keys(SWARM_SORTS).join(', ')}`, { subject: 'sort' });
  const offset = Number(query.get('offset') ?? 0);
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new InvalidArgumentError('offset: a whole number >= 0', { subject: 'offset' });
  const matching = swarms.filter((s) => q === '' || s.infoHash.includes(q)); // a copy: the list is shared
  matching.sort(descending ? (a, b) => sort(b, a) : sort);
  return {
    total: matching.length,
    truncated: swarms.length >= MAX_LISTED_SWARMS,
    offset,
    limit: PAGE,
    items: matching.slice(offset, offset + PAGE),
  };
}
