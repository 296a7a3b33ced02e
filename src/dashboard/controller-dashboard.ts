// The CDN controller's dashboard, on its admin API: the fleet at a glance (edges up and serving, objects,
// cache hit ratio, trackers, IMS, rates over the last minutes), the peers it serves itself, the edges (health, load, free space; drain one), and the objects the
// edges hold together: the union's piece map, each serving edge's, and how many edges hold each piece.
// The controller hands in what it knows through these functions; nothing here reaches into it.
import { readJson, type ServedOperations, sendJson } from '../admin/index.ts';
import { InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import type { CatalogObject } from '../store/index.ts';
import type { PeerInfo } from '../wire/index.ts';
import { ingestRoute, ObjectPages, purgeRoute } from './dashboard.ts';
import { type CounterSample, RateHistory, sampleEvery } from './history.ts';
import { LiveFeed } from './live.ts';
import { PeerRates } from './peer-rates.ts';
import { type ApiRequest, createDashboardShell, type Dashboard } from './shell.ts';

/** What the overview reads of the controller's status (ControllerStatus has it). */
export interface ControllerStatusView {
  leader: boolean;
  edges: { enrolled: number; up: number; serving: number };
  objects: number;
  objectsComplete: number;
  cache: { hits: number; misses: number; bytes: number; maxBytes: number };
  fetches: { fetched: number; bytesFetched: number; fetchFailures: number; corruptPieces: number };
  wire: { connections: number } | null;
  http: { connections: number } | null;
  trackers: unknown[];
  ims: unknown;
}

/** One edge as `edgepeer edges --json` shows it (EdgeSummary). */
export interface EdgeView {
  id: string;
  name: string;
  health: string;
  freeBytes: number | null;
  capacityBytes: number | null;
}

/** The union of the edges' holdings as the dashboard reads it (the controller's FleetCatalog). */
export interface FleetView {
  list(): CatalogObject[];
  get(infoHash: string): CatalogObject | undefined;
  /** Serving edges holding the object, with their bitfields in wire order. */
  holdings(infoHash: string): Array<{ edgeId: string; name: string; bitfield: Uint8Array; held: number }>;
  /** Serving edges holding each piece. */
  copies(infoHash: string): ArrayLike<number> | undefined;
  /** Told of each change of the union: an object's pieces (its info hash), or objects came or went (null). */
  onChange(listener: (infoHash: string | null) => void): void;
}

export interface ControllerDashboardOptions {
  token: string;
  operations: Pick<ServedOperations, 'purge' | 'ingest' | 'show'>;
  fleet: FleetView;
  status: () => ControllerStatusView;
  edges: () => EdgeView[];
  /** Drains an edge (or takes it back); false when there is no such edge. */
  drain: (edgeId: string, draining: boolean) => Promise<boolean>;
  /** The peer wire connections of clients to the controller itself. */
  peers: () => PeerInfo[];
  /** Bytes sent to clients, fetched from edges, connections: sampled for the overview's rate chart. */
  counters: () => CounterSample;
  everyMs?: number;
  maxLivePages?: number;
}

export function createControllerDashboard(options: ControllerDashboardOptions): Dashboard {
  const { fleet } = options;
  const pages = new ObjectPages(() => fleet.list());
  const everyMs = options.everyMs ?? 2000;
  const history = new RateHistory();
  const stopSampling = sampleEvery(history, options.counters, everyMs);
  const peerRates = new PeerRates(options.peers, everyMs / 2);
  const live = new LiveFeed({
    snapshots: {
      // The newest rate point only: a live page adds it to the history it fetched when it opened.
      overview: () => ({ ...controllerOverview(options.status()), rate: history.points().at(-1) ?? null }),
      edges: () => ({ edges: options.edges() }),
      peers: () => ({ peers: peerRates.peers() }),
    },
    changes: ['objects'],
    everyMs,
    maxClients: options.maxLivePages ?? 64,
  });
  fleet.onChange((infoHash) => {
    pages.changed();
    live.notify('objects', infoHash ?? undefined);
  });

  async function api({ req, res, method, route, query }: ApiRequest): Promise<boolean> {
    if (method === 'GET' && route === 'overview') {
      sendJson(res, 200, { ...controllerOverview(options.status()), rates: history.points() });
      return true;
    }
    if (method === 'GET' && route === 'peers') {
      sendJson(res, 200, { peers: peerRates.peers() });
      return true;
    }
    if (method === 'GET' && route === 'edges') {
      sendJson(res, 200, { edges: options.edges() });
      return true;
    }
    const drain = /^edges\/(edge-[0-9a-f]{12})\/drain$/.exec(route);
    if (method === 'POST' && drain) {
      const body = (await readJson(req, 4096)) as { draining?: unknown };
      if (typeof body?.draining !== 'boolean') {
        throw new InvalidArgumentError('draining: true or false', { subject: 'draining' });
      }
      if (!(await options.drain(drain[1] as string, body.draining))) throw new NotFoundError(`no edge ${drain[1]}`);
      sendJson(res, 200, { edge: options.edges().find((edge) => edge.id === drain[1]) ?? null });
      return true;
    }
    if (method === 'GET' && route === 'objects') {
      sendJson(res, 200, pages.page(query));
      return true;
    }
    const coverage = /^objects\/([0-9a-fA-F]{40})\/coverage$/.exec(route);
    if (method === 'GET' && coverage) {
      const infoHash = (coverage[1] as string).toLowerCase();
      const object = fleet.get(infoHash);
      if (object === undefined) throw new NotFoundError(`no edge holds ${infoHash}`);
      sendJson(res, 200, unionCoverage(object, fleet));
      return true;
    }
    const objectRoute = /^objects\/([0-9a-fA-F]{40})$/.exec(route);
    if (method === 'GET' && objectRoute) {
      sendJson(res, 200, await options.operations.show(objectRoute[1] as string));
      return true;
    }
    if (method === 'POST' && route === 'purge') return purgeRoute(req, res, options.operations);
    if (method === 'POST' && route === 'ingest') return ingestRoute(req, res, options.operations);
    return false;
  }

  const shell = createDashboardShell({
    token: options.token,
    kind: 'controller',
    pages: { '': 'Overview', edges: 'Edges', objects: 'Objects', peers: 'Peers' },
    tokenHint:
      "Enter the controller's admin token (the file <code>admin.token</code> in its data directory, or <code>admin.tokenFile</code>).",
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

export function controllerOverview(status: ControllerStatusView) {
  const { hits, misses } = status.cache;
  return {
    leader: status.leader,
    edges: status.edges,
    objects: status.objects,
    objectsComplete: status.objectsComplete,
    connections: (status.wire?.connections ?? 0) + (status.http?.connections ?? 0),
    cache: { ...status.cache, hitRatio: hits + misses === 0 ? null : hits / (hits + misses) },
    fetches: status.fetches,
    trackers: status.trackers,
    ims: status.ims,
  };
}

/** The union's piece map (held by some serving edge), each holder's, and the copies of each piece. */
export function unionCoverage(object: CatalogObject, fleet: FleetView) {
  return {
    infoHash: object.infoHash,
    name: object.name,
    pieces: object.pieceCount,
    piecesHeld: object.piecesHeld,
    bitmap: object.bitfield.toBuffer().toString('hex'),
    copies: Array.from(fleet.copies(object.infoHash) ?? []),
    edges: fleet
      .holdings(object.infoHash)
      .map(({ edgeId, name, bitfield, held }) => ({
        edgeId,
        name,
        held,
        bitmap: Buffer.from(bitfield.buffer, bitfield.byteOffset, bitfield.byteLength).toString('hex'),
      }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.edgeId.localeCompare(b.edgeId)),
  };
}
