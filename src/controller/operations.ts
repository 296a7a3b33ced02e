// The CDN ingestion interface through the controller: each object is placed on `replicas` serving edges
// (most free space first, spread by rendezvous on the source) and every edge fetches it from the origin
// itself; a purge reaches every edge holding the object, and an edge that is down (or goes down during
// it) gets it when it is back (queued in the fleet state: its holdings are not known while it is down).
// Per-edge results carry the edge's id. The same admin API and CLI (`--controller`) as an agent's, so
// scripts do not change.

import {
  type BulkIngestRequest,
  details,
  failedLine,
  type ObjectDetails,
  type ObjectSummary,
  type ProgressListener,
  type PurgeRequest,
  type PurgeResult,
  summarize,
  type TorrentFile,
} from '../admin/index.ts';
import { InvalidArgumentError, NoEdgesError, NotFoundError } from '../errors/index.ts';
import type { IngestResult } from '../ingest/index.ts';
import { encodeTorrent, formatPieceList, parsePieceList } from '../metainfo/index.ts';
import type { CatalogObject } from '../store/index.ts';
import { rankEdges } from './choice.ts';
import { type EdgeRegistry, purgeCommand } from './edge-registry.ts';
import type { FleetCatalog, FleetEdge } from './fleet-catalog.ts';
import type { FleetState, QueuedPurge } from './fleet-state.ts';

export interface ControllerOperationsOptions {
  catalog: FleetCatalog;
  registry: EdgeRegistry;
  fleet: FleetState;
  /** Edges each object is placed on. */
  replicas: () => number;
}

export class ControllerOperations {
  readonly #catalog: FleetCatalog;
  readonly #registry: EdgeRegistry;
  readonly #fleet: FleetState;
  readonly #replicas: () => number;
  /** The origin each object was last ingested from through this controller (storage control ingests from it). */
  readonly #origins = new Map<string, string>();

  constructor(options: ControllerOperationsOptions) {
    this.#catalog = options.catalog;
    this.#registry = options.registry;
    this.#fleet = options.fleet;
    this.#replicas = options.replicas;
  }

  /** Serving edges for a new copy of `source`: the most free space first, spread by the source. */
  placement(source: string, count: number): FleetEdge[] {
    const serving = this.#catalog.edges().filter((edge) => this.#catalog.serving(edge));
    // Rendezvous spreads sources over edges of similar room; an edge with less than half the free space
    // of the roomiest goes after them.
    const roomiest = Math.max(0, ...serving.map((edge) => edge.liveness?.freeBytes ?? 0));
    const roomy = serving.filter((edge) => (edge.liveness?.freeBytes ?? 0) * 2 >= roomiest);
    const rest = serving.filter((edge) => !roomy.includes(edge));
    return [...rankEdges(roomy, source), ...rankEdges(rest, source)].slice(0, count);
  }

  async ingest(
    request: BulkIngestRequest,
    onResult: (result: IngestResult) => void,
    onProgress?: ProgressListener,
    signal?: AbortSignal,
  ): Promise<void> {
    if (request.torrentFile !== undefined) {
      throw new InvalidArgumentError(
        'through a controller, name a known object with --info-hash (a .torrent file is not sent to edges yet)',
        { subject: 'torrentFile' },
      );
    }
    let torrent: string | undefined;
    if (request.infoHash !== undefined) {
      const metainfo = this.#catalog.metainfoOf(request.infoHash.toLowerCase());
      if (metainfo === undefined) throw new NotFoundError(`no edge holds object ${request.infoHash}`);
      torrent = encodeTorrent(metainfo).toString('base64');
    }
    for (const source of request.sources) {
      if (signal?.aborted) return;
      if (!/^https?:\/\//i.test(source)) {
        onResult(
          failed(source, new InvalidArgumentError(`${source}: edges fetch from the origin: give an http(s) URL`)),
        );
        continue;
      }
      const edges = this.placement(source, this.#replicas());
      if (edges.length === 0) {
        onResult(failed(source, new NoEdgesError('no serving edge to place it on')));
        continue;
      }
      const { pieces, ...options } = request.options;
      const body = {
        sources: [source],
        options: { ...options, ...(pieces === undefined ? {} : { pieces: formatPieceList(pieces) }) },
        ...(torrent === undefined ? {} : { torrent }),
      };
      const ingested = new Set<string>();
      await Promise.all(
        edges.map((edge) =>
          this.#registry
            .dispatch(edge.record.id, 'ingest', body, (event) => {
              if (event.kind === 'result') {
                const result = event.result as unknown as IngestResult;
                if (result.status !== 'failed' && result.infoHash !== null) {
                  this.#origins.set(result.infoHash, source);
                  ingested.add(result.infoHash);
                }
                onResult({ ...result, edge: edge.record.id });
              }
              if (event.kind === 'progress' && onProgress) {
                onProgress({
                  source: `${edge.record.name}: ${event.source}`,
                  bytesDone: event.bytesDone,
                  bytesTotal: event.bytesTotal,
                });
              }
            })
            .catch((err: Error) => onResult({ ...failed(source, err), edge: edge.record.id })),
        ),
      );
      // Ingested again after a purge: an edge that was down then keeps its copy when it is back.
      for (const infoHash of ingested) await this.#fleet.dropQueuedPurgesOf(infoHash);
    }
  }

  /** The origin the object was last ingested from through this controller (since it started), if any. */
  originOf(infoHash: string): string | undefined {
    return this.#origins.get(infoHash);
  }

  async purge(request: PurgeRequest): Promise<PurgeResult[]> {
    if (request.expired || request.olderThanMs !== undefined) {
      throw new InvalidArgumentError(
        'through a controller, purge names objects (--expired and --older-than are per edge)',
      );
    }
    const results: PurgeResult[] = [];
    for (const id of request.ids) {
      const object = this.#find(id);
      if (object === undefined) {
        results.push({ id, status: 'not-found', infoHash: null, name: null, piecesRemoved: 0 });
        continue;
      }
      const holders = this.#catalog.holdersEverywhere(object.infoHash);
      const body = purgeCommand(object.infoHash, request.pieces === undefined ? null : formatPieceList(request.pieces));
      const unreached = this.#catalog.edges().filter((edge) => edge.liveness === undefined);
      await Promise.all(
        holders.map((edge) =>
          this.#registry
            .dispatch(edge.record.id, 'purge', body, (event) => {
              if (event.kind === 'result')
                results.push({ ...(event.result as unknown as PurgeResult), id, edge: edge.record.id });
            })
            .catch((err: Error) => {
              // Down before it said a word: it hears of the purge when it is back.
              if (err instanceof NoEdgesError) unreached.push(edge);
              else results.push({ ...purgeLine(id, object, 'failed', edge), error: errorJson(err) });
            }),
        ),
      );
      for (const edge of unreached) {
        await this.#queuePurge(edge.record.id, object.infoHash, body.pieces ?? null);
        results.push(purgeLine(id, object, 'queued', edge));
      }
    }
    return results;
  }

  async list(): Promise<ObjectSummary[]> {
    return this.#catalog
      .list()
      .map(summarize)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async show(id: string): Promise<ObjectDetails> {
    const object = this.#find(id);
    const metainfo = object === undefined ? undefined : this.#catalog.metainfoOf(object.infoHash);
    if (object === undefined || metainfo === undefined) throw new NotFoundError(`no object ${id} on any edge`);
    return details({ ...object, metainfo });
  }

  async torrent(id: string): Promise<TorrentFile> {
    const object = this.#find(id);
    const metainfo = object === undefined ? undefined : this.#catalog.metainfoOf(object.infoHash);
    if (object === undefined || metainfo === undefined) throw new NotFoundError(`no object ${id} on any edge`);
    return { infoHash: object.infoHash, name: object.name, data: encodeTorrent(metainfo) };
  }

  /** Queues the purge for a down edge, merged with one of the same object queued before. */
  async #queuePurge(edgeId: string, infoHash: string, pieces: string | null): Promise<void> {
    const before = await this.#fleet.queuedPurge(edgeId, infoHash);
    const merged: QueuedPurge = { infoHash, pieces: mergePieces(before, pieces), queuedAt: Date.now() };
    await this.#fleet.queuePurge(edgeId, merged);
  }

  /** By info hash (any case) or exact name. */
  #find(id: string): CatalogObject | undefined {
    if (/^[0-9a-f]{40}$/i.test(id)) return this.#catalog.get(id) ?? this.#catalog.known(id.toLowerCase());
    const named = this.#catalog.list().filter((object) => object.name === id);
    if (named.length > 1) throw new InvalidArgumentError(`${named.length} objects are named ${id}: give the info hash`);
    return named[0];
  }
}

/** A purge's line for one edge, before or without the edge's own word. */
function purgeLine(id: string, object: CatalogObject, status: 'queued' | 'failed', edge: FleetEdge): PurgeResult {
  return { id, status, infoHash: object.infoHash, name: object.name, piecesRemoved: 0, edge: edge.record.id };
}

/** The whole object wins over pieces; two piece lists join. */
function mergePieces(before: QueuedPurge | undefined, pieces: string | null): string | null {
  if (before === undefined) return pieces;
  if (before.pieces === null || pieces === null) return null;
  return formatPieceList([...new Set([...parsePieceList(before.pieces), ...parsePieceList(pieces)])]);
}

function errorJson(err: Error): { code: string; message: string } {
  const code = (err as { code?: unknown }).code;
  return {
    code: typeof code === 'string' && code.startsWith('EDGEPEER_') ? code : 'EDGEPEER_INTERNAL',
    message: err.message,
  };
}

function failed(source: string, err: Error): IngestResult {
  return failedLine(source, errorJson(err));
}
