// The agent's dashboard: overview, objects with piece maps, peers, and their live events, on the shell
// that every edgepeer dashboard shares (src/dashboard/shell.ts: login, session, assets, event stream).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServedOperations } from '../admin/index.ts';
import { readJson, sendJson, summarize } from '../admin/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import type { IngestResult } from '../ingest/index.ts';
import { parsePieceList } from '../metainfo/index.ts';
import type { CatalogObject, RemovalReason, StoredObject } from '../store/index.ts';
import type { PeerInfo } from '../wire/index.ts';
import { type CounterSample, RateHistory, sampleEvery } from './history.ts';
import { LiveFeed } from './live.ts';
import { PeerRates } from './peer-rates.ts';
import { type ApiRequest, createDashboardShell, type Dashboard } from './shell.ts';
import type { SwarmView } from './swarm.ts';

/** What the overview reads of the agent's status (AgentStatus has it). */
export interface DashboardStatusView {
  objects: number;
  objectsComplete: number;
  wire: { connections: number; uploadedBytes: number } | null | undefined;
  http: { connections: number; bytesSent: number; requests: number } | null;
  cache: { hits: number; misses: number; bytes: number; maxBytes: number; corruptPieces: number };
  trackers: unknown[];
  ims: unknown;
  controller: unknown;
  addresses: unknown;
  /** Egress limits, rates per class, what was shed (src/qos's QosStatus). */
  qos?: unknown;
}

/** The store as the dashboard reads it: the catalog, lookups, and its piece events. */
export interface DashboardStore {
  list(): CatalogObject[];
  find(id: string): StoredObject;
  on(event: 'pieces-removed', listener: (infoHash: string, pieces: number[], reason: RemovalReason) => void): unknown;
  on(event: 'pieces-added', listener: (infoHash: string, pieces: number[]) => void): unknown;
  on(event: 'object-removed', listener: (infoHash: string) => void): unknown;
  on(event: 'object-added', listener: () => void): unknown;
}

export interface DashboardOptions {
  token: string;
  operations: Pick<ServedOperations, 'purge' | 'ingest' | 'show'>;
  store: DashboardStore;
  status: () => DashboardStatusView;
  peers: () => PeerInfo[];
  counters: () => CounterSample;
  /** Pieces of an object in the piece cache (memory). */
  cachedPieces?: (infoHash: string) => number[];
  /** The swarm's copies per piece from a tracker that knows them (src/dashboard/swarm.ts), or null. */
  swarm?: (infoHash: string) => Promise<SwarmView | null>;
  /** How often counters are sampled for the rate chart. */
  sampleEveryMs?: number;
  /** Open live pages at most (default 64); more poll. */
  maxLivePages?: number;
}

/** Largest page of the object list. */
export const MAX_PAGE = 500;
/** Open live pages at most, all dashboards of this agent together. */
const MAX_LIVE_PAGES = 64;

export function createDashboard(options: DashboardOptions): Dashboard {
  const history = new RateHistory();
  const corrupt = new Map<string, Set<number>>();
  const store = options.store;
  const everyMs = options.sampleEveryMs ?? 2000;
  const pages = new ObjectPages(() => store.list());
  const peerRates = new PeerRates(options.peers, everyMs / 2);
  const live = new LiveFeed({
    snapshots: {
      // Without the history: a live page adds each new point to the one it fetched.
      overview: () => {
        const { rates, ...now } = overview(options.status(), store.list(), history);
        return { ...now, rate: rates.at(-1) ?? null };
      },
      peers: () => ({ peers: peerRates.peers() }),
    },
    changes: ['objects'],
    everyMs,
    maxClients: options.maxLivePages ?? MAX_LIVE_PAGES,
  });
  // Pieces dropped for a failed hash are shown as corrupt until they are held again.
  store.on('pieces-removed', (infoHash, pieces, reason) => {
    pages.changed();
    live.notify('objects', infoHash);
    if (reason !== 'corrupt') return;
    const set = corrupt.get(infoHash) ?? new Set<number>();
    for (const piece of pieces) set.add(piece);
    corrupt.set(infoHash, set);
  });
  store.on('pieces-added', (infoHash, pieces) => {
    pages.changed();
    live.notify('objects', infoHash);
    const set = corrupt.get(infoHash);
    if (set === undefined) return;
    for (const piece of pieces) set.delete(piece);
    if (set.size === 0) corrupt.delete(infoHash);
  });
  store.on('object-added', () => {
    pages.changed();
    live.notify('objects');
  });
  store.on('object-removed', (infoHash) => {
    pages.changed();
    live.notify('objects');
    corrupt.delete(infoHash);
  });

  const stopSampling = sampleEvery(history, options.counters, everyMs);

  async function api({ req, res, method, route, query }: ApiRequest): Promise<boolean> {
    if (method === 'GET' && route === 'overview') {
      sendJson(res, 200, overview(options.status(), store.list(), history));
      return true;
    }
    if (method === 'GET' && route === 'objects') {
      sendJson(res, 200, pages.page(query));
      return true;
    }
    const pieceRoute = /^objects\/([0-9a-fA-F]{40})\/pieces$/.exec(route);
    if (method === 'GET' && pieceRoute) {
      const object = store.find(pieceRoute[1] as string);
      sendJson(res, 200, pieceMap(object, options.cachedPieces?.(object.infoHash) ?? [], corrupt.get(object.infoHash)));
      return true;
    }
    const swarmRoute = /^objects\/([0-9a-fA-F]{40})\/swarm$/.exec(route);
    if (method === 'GET' && swarmRoute) {
      const object = store.find(swarmRoute[1] as string);
      sendJson(res, 200, { swarm: (await options.swarm?.(object.infoHash)) ?? null });
      return true;
    }
    const objectRoute = /^objects\/([0-9a-fA-F]{40})$/.exec(route);
    if (method === 'GET' && objectRoute) {
      sendJson(res, 200, await options.operations.show(objectRoute[1] as string));
      return true;
    }
    if (method === 'GET' && route === 'peers') {
      sendJson(res, 200, { peers: peerRates.peers() });
      return true;
    }
    if (method === 'POST' && route === 'purge') return purgeRoute(req, res, options.operations);
    if (method === 'POST' && route === 'ingest') return ingestRoute(req, res, options.operations);
    return false;
  }

  const shell = createDashboardShell({
    token: options.token,
    kind: 'agent',
    pages: { '': 'Overview', objects: 'Objects', peers: 'Peers' },
    tokenHint:
      "Enter the agent's admin token (the file <code>admin.token</code> in the data directory, or <code>admin.tokenFile</code>).",
    live,
    api,
  });
  return {
    handle: shell.handle,
    close: () => {
      stopSampling();
      shell.close();
    },
  };
}

/** POST purge {infoHash, pieces?}: the admin API's purge of one object or some of its pieces. */
export async function purgeRoute(
  req: IncomingMessage,
  res: ServerResponse,
  operations: Pick<ServedOperations, 'purge'>,
): Promise<boolean> {
  const body = (await readJson(req, 64 * 1024)) as { infoHash?: unknown; pieces?: unknown };
  if (typeof body?.infoHash !== 'string' || !/^[0-9a-fA-F]{40}$/.test(body.infoHash)) {
    throw new InvalidArgumentError('infoHash: must be 40 hex digits', { subject: 'infoHash' });
  }
  if (body.pieces !== undefined && typeof body.pieces !== 'string') {
    throw new InvalidArgumentError('pieces: must be a piece list such as "0-9,20"', { subject: 'pieces' });
  }
  const pieces = body.pieces === undefined ? undefined : parsePieceList(body.pieces);
  const results = await operations.purge({ ids: [body.infoHash], ...(pieces ? { pieces } : {}) });
  sendJson(res, 200, { results });
  return true;
}

/** POST ingest {url}: the admin API's ingest of one http(s) URL. */
export async function ingestRoute(
  req: IncomingMessage,
  res: ServerResponse,
  operations: Pick<ServedOperations, 'ingest'>,
): Promise<boolean> {
  const body = (await readJson(req, 64 * 1024)) as { url?: unknown };
  if (typeof body?.url !== 'string' || !/^https?:\/\/\S+$/i.test(body.url)) {
    throw new InvalidArgumentError('url: must be an http(s) URL', { subject: 'url' });
  }
  const results: IngestResult[] = [];
  await operations.ingest({ sources: [body.url], options: {} }, (result) => results.push(result));
  sendJson(res, 200, { results });
  return true;
}

/**
 * Pages of the object list. The filtered, sorted list of a view (q, state, sort) is kept until the
 * catalog changes: pages open on the same view, or paging through it, cost one sort, not one each.
 */
export class ObjectPages {
  readonly #list: () => CatalogObject[];
  readonly #sorted = new Map<string, CatalogObject[]>();
  #version = 0;
  #sortedAt = -1;
  /** Sorts done (for tests). */
  sorts = 0;

  constructor(list: () => CatalogObject[]) {
    this.#list = list;
  }

  changed(): void {
    this.#version += 1;
  }

  page(query: URLSearchParams) {
    if (this.#sortedAt !== this.#version) {
      this.#sorted.clear();
      this.#sortedAt = this.#version;
    }
    const key = `${query.get('q') ?? ''}\n${query.get('state') ?? ''}\n${query.get('sort') ?? ''}`;
    return objectPage(this.#list(), query, (matching) => {
      const cached = this.#sorted.get(key);
      if (cached !== undefined) return cached;
      this.sorts += 1;
      const sorted = matching();
      // A few views at once (several admins, several filters): the oldest goes.
      if (this.#sorted.size >= 8) this.#sorted.delete(this.#sorted.keys().next().value as string);
      this.#sorted.set(key, sorted);
      return sorted;
    });
  }
}

/** Bytes of an object's held pieces (the last piece may be short). */
export function bytesHeld(object: CatalogObject): number {
  if (object.piecesHeld === 0) return 0;
  const last = object.pieceCount - 1;
  const shortfall = object.bitfield.get(last) ? object.pieceCount * object.pieceLength - object.length : 0;
  return object.piecesHeld * object.pieceLength - shortfall;
}

export function overview(status: DashboardStatusView, objects: CatalogObject[], history: RateHistory) {
  let bytes = 0;
  for (const object of objects) bytes += bytesHeld(object);
  const { hits, misses } = status.cache;
  return {
    objects: status.objects,
    objectsComplete: status.objectsComplete,
    bytesHeld: bytes,
    peers: status.wire?.connections ?? 0,
    httpConnections: status.http?.connections ?? 0,
    sentBytes: (status.wire?.uploadedBytes ?? 0) + (status.http?.bytesSent ?? 0),
    cache: { ...status.cache, hitRatio: hits + misses === 0 ? null : hits / (hits + misses) },
    trackers: status.trackers,
    ims: status.ims,
    controller: status.controller,
    addresses: status.addresses,
    qos: status.qos ?? null,
    rates: history.points(),
  };
}

// On the catalog's own fields: only the page's objects are summarized (dates formatted), not 100,000.
const SORTS: Record<string, (a: CatalogObject, b: CatalogObject) => number> = {
  name: (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  added: (a, b) => a.addedAt - b.addedAt,
  length: (a, b) => a.length - b.length,
  held: (a, b) => a.piecesHeld / a.pieceCount - b.piecesHeld / b.pieceCount,
};

/**
 * One page of the object list, filtered and sorted here so that the browser never holds 100,000 objects:
 * q (substring of name or info hash), state (complete|partial), sort (name|added|length|held, '-' first
 * for descending), offset, limit (at most MAX_PAGE).
 */
export function objectPage(
  objects: CatalogObject[],
  query: URLSearchParams,
  sorted: (matching: () => CatalogObject[]) => CatalogObject[] = (matching) => matching(),
) {
  const q = (query.get('q') ?? '').toLowerCase();
  const state = query.get('state') ?? '';
  const sortSpec = query.get('sort') ?? 'name';
  const descending = sortSpec.startsWith('-');
  const sort = SORTS[descending ? sortSpec.slice(1) : sortSpec];
  if (sort === undefined)
    throw new InvalidArgumentError(`sort: one of ${Object.keys(SORTS).join(', ')}`, { subject: 'sort' });
  if (state !== '' && state !== 'complete' && state !== 'partial') {
    throw new InvalidArgumentError('state: complete or partial', { subject: 'state' });
  }
  const offset = integer(query.get('offset'), 0, 'offset');
  const limit = Math.min(MAX_PAGE, integer(query.get('limit'), 50, 'limit'));
  const matching = sorted(() =>
    objects
      .filter(
        (o) =>
          (q === '' || o.infoHash.includes(q) || o.name.toLowerCase().includes(q)) &&
          (state === '' || (state === 'complete') === o.complete),
      )
      .sort(descending ? (a, b) => sort(b, a) : sort),
  );
  return { total: matching.length, offset, limit, items: matching.slice(offset, offset + limit).map(summarize) };
}

function integer(value: string | null, fallback: number, name: string): number {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`${name}: a whole number >= 0`, { subject: name });
  return n;
}

/** What the piece map draws: held pieces as the wire bitfield (hex), cached and corrupt ones as lists. */
export function pieceMap(object: CatalogObject, cached: number[], corrupt: Set<number> | undefined) {
  return {
    infoHash: object.infoHash,
    name: object.name,
    pieces: object.pieceCount,
    piecesHeld: object.piecesHeld,
    bitmap: object.bitfield.toBuffer().toString('hex'),
    cached: cached.filter((i) => object.bitfield.get(i)).sort((a, b) => a - b),
    corrupt: [...(corrupt ?? [])].filter((i) => !object.bitfield.get(i)).sort((a, b) => a - b),
  };
}
