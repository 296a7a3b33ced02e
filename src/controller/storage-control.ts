// Network Storage Control in the controller (TR 23.844 6.2.2 with 6.2.3, docs/controller.md "Storage
// control"): the same part and decide() as an agent's (src/parts/storage-control.ts, src/policy), over the
// CDN as one peer. What it holds is the union of the serving edges' pieces, which is also what the controller
// announces, so the tracker counts the CDN once. An ingest goes to one edge, chosen by an EdgeChoice
// (placement.ts), as an ingest command with the pieces and the object's metainfo; the edge fetches them from
// the origin itself. A purge goes to every up edge holding any of the pieces. With network maps, the edge is
// chosen where the demand is (placement.ts nearDemand: the tracker's leechers by PID, SwarmCounts.pids).
// With a catalogue it follows the tracker's invitations (6.2.3 step 2): a swarm the fleet does not know
// joins with the catalogue's .torrent as its metainfo, and its rounds place the pieces the swarm lacks on an
// edge as above.
import { join } from 'node:path';
import type { Logger } from '../log/index.ts';
import { encodeTorrent, formatPieceList } from '../metainfo/index.ts';
import {
  metainfoFromCatalogue,
  originFromUrlList,
  type RecordPlace,
  recordFile,
  StorageControlPart,
  statsSourceFor,
} from '../parts/index.ts';
import { invitationsUrlFromStats, type StatsSource, type StorageControlSettings } from '../policy/index.ts';
import type { CatalogObject } from '../store/index.ts';
import { type EdgeRegistry, purgeCommand } from './edge-registry.ts';
import type { FleetCatalog } from './fleet-catalog.ts';
import type { FleetState } from './fleet-state.ts';
import type { EdgeNearness } from './nearness.ts';
import { chooseEdge, type EdgeChoice, nearDemand, type PlacementCandidate } from './placement.ts';

export interface ControllerStorageControlOptions {
  settings: StorageControlSettings;
  statsUrl: string;
  /** A tracker's scrape (BEP 48) to follow instead of statsUrl (no PIDs: placement by load alone). */
  scrape?: { url: string; intervalMs: number } | null;
  /** Info hashes it controls, or null for every object the fleet knows. */
  objects: string[] | null;
  intervalMs: number;
  /**
   * Where the .torrent of a swarm the tracker invites the CDN to is found (<info hash>.torrent in a folder
   * or under an http(s) URL), or null: invitations are not followed.
   */
  catalogue?: string | null;
  /** Keeps a joined object's metainfo in the fleet state (other controllers, the next leader). */
  putMetainfo?: (infoHash: string, torrent: Uint8Array) => Promise<void>;
  catalog: FleetCatalog;
  registry: EdgeRegistry;
  /** The origin an object was ingested from through the controller (its url-list is the fallback). */
  originOf: (infoHash: string) => string | undefined;
  announceNow: (infoHash: string) => void;
  logger: Pick<Logger, 'info' | 'warn' | 'debug' | 'error'>;
  /** Which edge takes an ingest (default: chooseEdge; with `nearness`, applied among the edges nearest the demand). */
  choose?: EdgeChoice;
  /** Network maps: edges' PIDs and costs; pieces go where the demand is (nearDemand). None: `choose` alone. */
  nearness?: EdgeNearness;
  metrics?: ConstructorParameters<typeof StorageControlPart>[0]['registry'];
  source?: StatsSource;
  /** Where the record of what it ingested is kept (StorageControlPart's ingestedRecord). */
  ingestedRecord?: RecordPlace;
}

/** The serving edges as placement candidates for an object (with their PIDs when there are maps). */
export function placementCandidates(
  catalog: FleetCatalog,
  infoHash: string,
  nearness?: EdgeNearness,
): PlacementCandidate[] {
  const held = new Map(catalog.holdings(infoHash).map(({ edge, bitfield }) => [edge.record.id, bitfield.count()]));
  return catalog
    .edges()
    .filter((edge) => catalog.serving(edge))
    .map((edge) => ({
      edgeId: edge.record.id,
      name: edge.record.name,
      freeBytes: edge.liveness?.freeBytes ?? 0,
      connections: edge.liveness?.connections ?? 0,
      uploadBytesPerSecond: edge.liveness?.uploadBytesPerSecond ?? 0,
      piecesHeld: held.get(edge.record.id) ?? 0,
      ...(nearness === undefined ? {} : { pid: nearness.edgePid(edge) }),
    }));
}

/** How long a round waits for edges' holdings to show an ingest or purge in the union. */
const UNION_SETTLE_MS = 5000;

/**
 * Resolves once the union holds (`held`) or lacks every one of `pieces`, or after UNION_SETTLE_MS (an edge
 * that went down meanwhile, holdings lost): the next round decides on what the union shows then.
 */
function unionSettles(
  catalog: FleetCatalog,
  infoHash: string,
  pieces: readonly number[],
  held: boolean,
): Promise<void> {
  const settled = (): boolean => {
    const object = catalog.known(infoHash);
    return object === undefined || pieces.every((piece) => object.bitfield.get(piece) === held);
  };
  if (settled()) return Promise.resolve();
  return new Promise((resolve) => {
    const check = (changed: string): void => {
      if (changed !== infoHash || !settled()) return;
      done();
    };
    const done = (): void => {
      clearTimeout(timer);
      catalog.off('pieces-added', check);
      catalog.off('pieces-removed', check);
      resolve();
    };
    const timer = setTimeout(done, UNION_SETTLE_MS);
    catalog.on('pieces-added', check);
    catalog.on('pieces-removed', check);
  });
}

/**
 * Where the controller keeps storage control's record of what it placed and when: in the fleet state when
 * controllers share one (a new leader reads it there), else in its data dir.
 */
export function storageControlRecordPlace(
  fleet: Pick<FleetState, 'shared' | 'storageControlRecord' | 'putStorageControlRecord'>,
  dataDir: string,
): RecordPlace {
  if (!fleet.shared) return recordFile(join(dataDir, 'storage-control', 'ingested.json'));
  return {
    where: 'the shared fleet state',
    read: () => fleet.storageControlRecord(),
    write: (text) => fleet.putStorageControlRecord(text),
  };
}

/** The storage control part of a controller: decide() over the fleet's union, carried out through edges. */
export function controllerStorageControl(options: ControllerStorageControlOptions): StorageControlPart {
  const { catalog, registry, logger } = options;
  const nearness = options.nearness;
  const choose =
    nearness === undefined
      ? (options.choose ?? chooseEdge)
      : nearDemand((from, to) => nearness.topology.cost(from, to), options.choose ?? chooseEdge);
  const withOrigin = (object: CatalogObject): CatalogObject => {
    const metainfo = catalog.metainfoOf(object.infoHash);
    const origin = options.originOf(object.infoHash) ?? (metainfo === undefined ? null : originFromUrlList(metainfo));
    return { ...object, source: origin ?? null };
  };
  // The fleet's objects as the part sees them: held means held by the union of the edges.
  const objects = {
    list: () => catalog.knownObjects().map(withOrigin),
    get: (infoHash: string) => {
      const object = catalog.known(infoHash);
      return object === undefined ? undefined : withOrigin(object);
    },
  };
  // Read here too: the placement asks it where the swarm's leechers are. Edges do not announce: to a scrape
  // the CDN is the controller, holding the union.
  const source =
    options.source ?? statsSourceFor({ statsUrl: options.statsUrl, scrape: options.scrape ?? null, catalog: objects });
  const catalogue = options.catalogue ?? null;
  return new StorageControlPart({
    ...(catalogue === null
      ? {}
      : {
          invitations: {
            url: invitationsUrlFromStats(options.statsUrl),
            // Joining: the fleet learns the object's metainfo (no edge holds a piece yet); the next round
            // sees the swarm lacking pieces and places them on an edge through the EdgeChoice.
            join: async (infoHash: string) => {
              const { metainfo, origin } = await metainfoFromCatalogue(catalogue, infoHash);
              const torrent = encodeTorrent(metainfo);
              if (!catalog.adoptMetainfo(infoHash, torrent)) {
                throw new Error(`the catalogue's .torrent of ${infoHash} cannot be adopted`);
              }
              await options.putMetainfo?.(infoHash, torrent);
              return { name: metainfo.name, origin };
            },
          },
        }),
    settings: options.settings,
    statsUrl: options.statsUrl,
    ...(options.scrape == null ? {} : { scrape: options.scrape }),
    ...(options.ingestedRecord === undefined ? {} : { ingestedRecord: options.ingestedRecord }),
    objects: options.objects,
    intervalMs: options.intervalMs,
    catalog: objects,
    ingest: async (infoHash, origin, pieces) => {
      const object = catalog.known(infoHash);
      const metainfo = catalog.metainfoOf(infoHash);
      if (object === undefined || metainfo === undefined) {
        return { error: { code: 'EDGEPEER_NOT_FOUND', message: `the fleet does not know object ${infoHash}` } };
      }
      const bytes = pieces.reduce(
        (sum, piece) =>
          sum + (piece === object.pieceCount - 1 ? object.length - piece * object.pieceLength : object.pieceLength),
        0,
      );
      const pids = source.reading(infoHash).counts?.pids;
      const edge = choose(
        { infoHash, pieces, bytes, ...(pids === undefined ? {} : { pids }) },
        placementCandidates(catalog, infoHash, nearness),
      );
      if (edge === null) {
        return { error: { code: 'EDGEPEER_NO_EDGES', message: `no serving edge has room for ${bytes} bytes` } };
      }
      logger.info(
        {
          infoHash,
          edgeId: edge.edgeId,
          edge: edge.name,
          pieces,
          ...(edge.pid === undefined ? {} : { pid: edge.pid }),
        },
        'storage control: placing pieces on an edge',
      );
      let error: { code: string; message: string } | null = null;
      const body = {
        sources: [origin],
        options: { pieces: formatPieceList(pieces) },
        torrent: encodeTorrent(metainfo).toString('base64'),
      };
      await registry.dispatch(edge.edgeId, 'ingest', body, (event) => {
        if (event.kind !== 'result') return;
        const result = event.result as { status?: string; error?: { code: string; message: string } };
        if (result.status === 'failed') error = result.error ?? { code: 'EDGEPEER_INTERNAL', message: 'ingest failed' };
      });
      // The edge's holdings reach the union a moment after its result: the next round must see them, or it
      // would place the same pieces again.
      if (error === null) await unionSettles(catalog, infoHash, pieces, true);
      return { error };
    },
    purge: async (infoHash, pieces) => {
      const wanted = new Set(pieces);
      const failures: string[] = [];
      await Promise.all(
        catalog.holdingsEverywhere(infoHash).map(async ({ edge, bitfield }) => {
          const held = [...wanted].filter((piece) => bitfield.get(piece)).sort((a, b) => a - b);
          if (held.length === 0) return;
          const body = purgeCommand(infoHash, formatPieceList(held));
          await registry
            .dispatch(edge.record.id, 'purge', body, (event) => {
              if (event.kind !== 'result') return;
              const result = event.result as { status?: string; error?: { message: string } };
              if (result.status === 'failed') failures.push(`${edge.record.id}: ${result.error?.message ?? 'failed'}`);
            })
            .catch((err: Error) => failures.push(`${edge.record.id}: ${err.message}`));
        }),
      );
      if (failures.length > 0) throw new Error(`purge failed on ${failures.join('; ')}`);
      await unionSettles(catalog, infoHash, pieces, false);
    },
    announceNow: options.announceNow,
    logger,
    ...(options.metrics === undefined ? {} : { registry: options.metrics }),
    source,
  });
}
