// The controller's piece source: a piece is fetched from an edge that holds it (its HTTP piece URL, over
// pooled keep-alive connections) and handed on only once it matches the piece's SHA-1. An edge that does
// not answer, answers wrong, or sends bytes that fail their hash is marked (set aside, or the piece no
// longer counts as held there) and the next holder is tried: a peer sees at worst a reject, never a bad
// block. The caching layer above (src/store CachingSource) keeps verified pieces and shares fetches.
import { Agent, type Dispatcher } from 'undici';
import { NotFoundError } from '../errors/index.ts';
import { pieceUrl } from '../http/index.ts';
import type { Logger } from '../log/index.ts';
import { pieceHash, pieceSize } from '../metainfo/index.ts';
import type { PieceSource } from '../store/index.ts';
import { rankEdges } from './choice.ts';
import type { FleetCatalog, FleetEdge } from './fleet-catalog.ts';
import type { EdgeNearness } from './nearness.ts';

export interface EdgeSourceOptions {
  catalog: FleetCatalog;
  /** True when SHA-1(data) equals `expected` (the hash pool's). */
  verify: (data: Uint8Array, expected: Uint8Array) => Promise<boolean>;
  /** Time for an edge to answer, and between two body chunks; default 5 s. */
  timeoutMs?: number;
  /** Keep-alive connections per edge; default 16. */
  connectionsPerEdge?: number;
  /** How long an edge that failed a fetch is set aside; default 10 s. */
  setAsideMs?: number;
  logger: Pick<Logger, 'warn' | 'debug'>;
  /** A token for a piece path, when edges require signed URLs (sent as X-Edgepeer-Token); default: none. */
  tokenFor?: (path: string) => string | undefined;
  /** ALTO maps: pieces come from the holder nearest to the controller, and bytes are counted by PID. */
  nearness?: EdgeNearness;
}

export interface EdgeSourceStats {
  fetched: number;
  bytesFetched: number;
  /** Fetches that failed (unreachable, error status, wrong length) and were retried elsewhere. */
  fetchFailures: number;
  /** Pieces from an edge that failed their hash. */
  corruptPieces: number;
}

export class EdgeSource implements PieceSource {
  readonly #catalog: FleetCatalog;
  readonly #verify: EdgeSourceOptions['verify'];
  readonly #dispatcher: Dispatcher;
  readonly #setAsideMs: number;
  readonly #logger: EdgeSourceOptions['logger'];
  readonly #tokenFor: EdgeSourceOptions['tokenFor'];
  readonly #nearness: EdgeNearness | undefined;
  readonly #stats: EdgeSourceStats = { fetched: 0, bytesFetched: 0, fetchFailures: 0, corruptPieces: 0 };

  constructor(options: EdgeSourceOptions) {
    const timeoutMs = options.timeoutMs ?? 5000;
    this.#catalog = options.catalog;
    this.#verify = options.verify;
    this.#setAsideMs = options.setAsideMs ?? 10_000;
    this.#logger = options.logger;
    this.#tokenFor = options.tokenFor;
    this.#nearness = options.nearness;
    this.#dispatcher = new Agent({
      connections: options.connectionsPerEdge ?? 16,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connectTimeout: timeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  async getPiece(infoHash: string, pieceIndex: number, signal?: AbortSignal): Promise<Buffer> {
    const key = infoHash.toLowerCase();
    const metainfo = this.#catalog.metainfoOf(key);
    if (metainfo === undefined) throw new NotFoundError(`no object ${key} on any edge`);
    const expected = pieceHash(metainfo, pieceIndex);
    const size = pieceSize(metainfo, pieceIndex);
    const tried = new Set<string>();
    for (;;) {
      signal?.throwIfAborted();
      const candidates = this.#catalog
        .holdersOfSpan(key, pieceIndex, pieceIndex)
        .filter((edge) => !tried.has(edge.record.id) && this.#catalog.serving(edge));
      const nearness = this.#nearness;
      const homePid = nearness?.homePid ?? null;
      const edge = rankEdges(candidates, `${key}:${pieceIndex}`, nearness?.costFrom(homePid))[0];
      if (edge === undefined) {
        throw new NotFoundError(
          tried.size === 0
            ? `no serving edge holds piece ${pieceIndex} of ${key}`
            : `piece ${pieceIndex} of ${key}: none of the ${tried.size} edges holding it sent verified bytes`,
        );
      }
      tried.add(edge.record.id);
      const data = await this.#fetch(edge, key, pieceIndex, size, signal);
      if (data === null) continue;
      if (await this.#verify(data, expected)) {
        this.#stats.fetched += 1;
        this.#stats.bytesFetched += data.length;
        nearness?.fetched.add(homePid, nearness.edgePid(edge), data.length);
        return data;
      }
      this.#stats.corruptPieces += 1;
      this.#catalog.distrust(edge.record.id, key, pieceIndex, 'corrupt');
    }
  }

  /** The controller has no bytes at hand: every read goes through getPiece (and the cache above). */
  readSpanSync(): Buffer | undefined {
    return undefined;
  }

  stats(): EdgeSourceStats {
    return { ...this.#stats };
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }

  /** The piece's bytes from `edge`, or null (the edge was marked) when it did not send exactly `size` of them. */
  async #fetch(
    edge: FleetEdge,
    infoHash: string,
    pieceIndex: number,
    size: number,
    signal?: AbortSignal,
  ): Promise<Buffer | null> {
    const baseUrl = edge.liveness?.address.httpBaseUrl;
    if (baseUrl === undefined) return null;
    const url = pieceUrl(baseUrl, infoHash, pieceIndex);
    let problem: string;
    try {
      const target = new URL(url);
      const response = await fetchPiece(this.#dispatcher, target, size, signal, this.#tokenFor?.(target.pathname));
      if (response.statusCode === 200) {
        if (typeof response.data !== 'number') return response.data;
        problem = `sent ${response.data} bytes for a piece of ${size}`;
      } else {
        if (response.statusCode === 404 || response.statusCode === 503) {
          // The edge says it lacks the piece it claimed: that claim goes, the edge keeps serving the rest.
          this.#stats.fetchFailures += 1;
          this.#catalog.distrust(edge.record.id, infoHash, pieceIndex, 'missing');
          return null;
        }
        problem = `answered ${response.statusCode}`;
      }
    } catch (err) {
      signal?.throwIfAborted();
      problem = `unreachable (${(err as Error).message})`;
    }
    this.#stats.fetchFailures += 1;
    this.#logger.warn({ edgeId: edge.record.id, url, problem }, 'controller: a piece fetch from an edge failed');
    this.#catalog.setAside(edge.record.id, this.#setAsideMs);
    return null;
  }
}

/**
 * GETs a piece URL, the body of a 200 copied chunk by chunk into one buffer of the piece's size as undici
 * hands the chunks over (no stream, no per-chunk promise: the controller's CPU per MiB fetched is most of
 * its cost on the peer wire). `data` is the buffer, or the number of bytes sent when they were not exactly
 * `size` (or the status was not 200: the body is read and dropped, so the connection stays usable).
 */
function fetchPiece(
  dispatcher: Dispatcher,
  url: URL,
  size: number,
  signal?: AbortSignal,
  token?: string,
): Promise<{ statusCode: number; data: Buffer | number }> {
  return new Promise((resolve, reject) => {
    let statusCode = 0;
    let data: Buffer | null = null;
    let received = 0;
    let controller: Dispatcher.DispatchController | null = null;
    const onAbort = () => controller?.abort(signal?.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    const settled = () => signal?.removeEventListener('abort', onAbort);
    dispatcher.dispatch(
      {
        origin: url.origin,
        path: url.pathname,
        method: 'GET',
        headers:
          token === undefined
            ? { 'user-agent': 'edgepeer controller' }
            : { 'user-agent': 'edgepeer controller', 'x-edgepeer-token': token },
      },
      {
        onRequestStart(started) {
          controller = started;
          if (signal?.aborted) started.abort(signal.reason as Error);
        },
        onResponseStart(_controller, status) {
          statusCode = status;
          if (status === 200) data = Buffer.allocUnsafeSlow(size);
        },
        onResponseData(_controller, chunk) {
          if (data !== null && received + chunk.length <= size) chunk.copy(data, received);
          received += chunk.length;
        },
        onResponseEnd() {
          settled();
          resolve({ statusCode, data: data !== null && received === size ? data : received });
        },
        onResponseError(_controller, err) {
          settled();
          reject(err);
        },
      },
    );
  });
}
