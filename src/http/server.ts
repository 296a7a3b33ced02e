// The agent's HTTP server: object URLs (BEP 19 web seeds) and piece URLs, served from verified pieces only.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import {
  CorruptPieceError,
  fromListenError,
  InvalidArgumentError,
  isEdgepeerError,
  LocalIoError,
  NotFoundError,
  StoreCorruptError,
} from '../errors/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import type { Metainfo } from '../metainfo/index.ts';
import type { CatalogObject } from '../store/types.ts';
import { AccessLog } from './access-log.ts';
import { evaluatePreconditions, ifRangeHolds } from './conditional.ts';
import { ClosedError, createHttp1Server, type Http1Request, type Http1Response, renderFields } from './http1.ts';
import { type MissingPiecePolicy, type PieceFetcher, REDIRECT_TO_ORIGIN, REFUSE_MISSING } from './missing-pieces.ts';
import { PullThrough, sha1Verifier } from './pull-through.ts';
import { type ByteRange, parseRange, type RangeDecision } from './range.ts';
import { fileRepresentation, pieceRepresentation, type Representation } from './representation.ts';
import { type Route, routeOf } from './routes.ts';
import { SpanBuffers } from './span-buffers.ts';
import {
  emptyHttpStats,
  type HttpLimits,
  type HttpServer,
  type HttpServerOptions,
  type OriginLimits,
} from './types.ts';
import { isHttpOrigin } from './urls.ts';

export const DEFAULT_LIMITS: HttpLimits = {
  maxConnections: 4096,
  // A sixteenth of the total: one address (a flood, or one busy NAT) cannot take every slot.
  maxConnectionsPerIp: 256,
  maxHeaderSize: 8192,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  maxRequestsPerSocket: 0,
  maxRanges: 16,
  coalesceGap: 128,
  retryAfterSeconds: 10,
  readAheadPieces: 2,
  directReadMaxBytes: 256 * 1024,
};

export const DEFAULT_ORIGIN_LIMITS: OriginLimits = { timeoutMs: 20_000, connections: 8 };

// Content addressed by info hash never changes: caches may keep it for a year without revalidating.
const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
const CONTENT_TYPE = 'application/octet-stream';
const IGNORE_RANGE: RangeDecision = { kind: 'ignore' };
/** Direct-read buffers kept for reuse: enough for 64 connections' 256 KiB ranges. */
const SPAN_BUFFERS_IDLE_BYTES = 16 * 1024 * 1024;

/** Why a request cannot be served from what this agent holds. */
class MissingPieceError extends Error {
  readonly pieceIndex: number;
  constructor(pieceIndex: number, cause?: unknown) {
    super(`piece ${pieceIndex} is not held here`, cause === undefined ? undefined : { cause });
    this.pieceIndex = pieceIndex;
  }
}

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const limits: HttpLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const { store, cache } = options;
  const logger = options.logger ?? silentLogger;
  // `connections` is read off the transport when asked.
  const stats = emptyHttpStats();
  const spanBuffers = new SpanBuffers(SPAN_BUFFERS_IDLE_BYTES);
  const missingPolicy = missingPiecePolicyOf(options, logger);
  const fetcher = missingPolicy.kind === 'pull' ? missingPolicy.fetcher : null;
  /** Pieces being fetched, shared by every request that waits for one. */
  const fetching = new Map<string, Promise<Buffer>>();

  const accessLog =
    options.accessLog === undefined
      ? null
      : new AccessLog(options.accessLog, (err) =>
          logger.warn(
            {
              path: options.accessLog,
              error: err.message,
            },
            'access log: a write failed and its lines are lost (more of the same are not logged)',
          ),
        );
  const cors = corsFields(options.corsOrigin);
  const http1 = createHttp1Server({
    limits,
    responseFields: cors.everyResponse,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(accessLog === null
      ? {}
      : {
          onResponseEnd(request, status, bodyBytes, socket) {
            accessLog.add({
              remoteAddress: socket.remoteAddress,
              method: request?.method ?? '',
              target: request?.url ?? '',
              minorVersion: request?.minorVersion ?? null,
              status,
              bodyBytes,
              referer: request?.headers.referer,
              userAgent: request?.headers['user-agent'],
            });
          },
        }),
    onRequest(req, res) {
      try {
        const sending = handle(req, res);
        if (sending !== undefined) sending.catch((err: unknown) => failed(res, err));
      } catch (err) {
        failed(res, err);
      }
    },
    onClientError() {
      stats.clientErrors += 1;
    },
  });
  const server: Server = http1.server;

  /** Answers one request; synchronously when the bytes are at hand, else through the returned promise. */
  function handle(req: Http1Request, res: Http1Response): Promise<void> | void {
    stats.requests += 1;
    const method = req.method;
    const head = method === 'HEAD';
    if (method === 'OPTIONS') {
      // RFC 9110 9.3.7, and the CORS preflight a page sends before a request with If-* fields.
      countStatus(204);
      res.writeHead(204, ['Allow', ALLOWED_METHODS], cors.preflight);
      res.end();
      return;
    }
    if (method !== 'GET' && !head) {
      sendError(res, 405, 'only GET and HEAD are served here', ['Allow', ALLOWED_METHODS]);
      return;
    }
    const route = routeOf(req.url);
    if (route.kind === 'bad') return sendError(res, 400, route.reason);
    if (route.kind === 'unknown') return sendError(res, 404, 'no such resource');
    const object = store.get(route.infoHash);
    if (object === undefined) return sendError(res, 404, `no object ${route.infoHash} here`);
    const metainfo = store.metainfoOf(object.infoHash);
    if (metainfo === undefined) {
      // A damaged metainfo file (the store logs it): this object cannot be served here, the server goes on.
      logger.warn({ infoHash: object.infoHash }, 'request for a damaged object');
      return sendError(res, 503, 'the object is damaged on this server');
    }
    const representation =
      route.kind === 'object'
        ? fileRepresentation(object, metainfo, route.segments)
        : pieceRepresentation(object, metainfo, route.pieceIndex);
    if (representation === undefined) {
      return sendError(
        res,
        404,
        route.kind === 'piece'
          ? `object ${route.infoHash} has ${object.pieceCount} pieces, no piece ${route.pieceIndex}`
          : `object ${route.infoHash} has no file ${route.segments.join('/')}`,
      );
    }

    const precondition = evaluatePreconditions(req.headers, representation);
    if (precondition === 'failed') return sendError(res, 412, 'precondition failed');
    if (precondition === 'not-modified') return sendNotModified(res, representation);

    // RFC 9110 14.2: range handling is defined for GET only.
    let decision = head ? IGNORE_RANGE : parseRange(req.headers.range, representation.length, limits);
    if (decision.kind !== 'ignore' && !ifRangeHolds(req.headers['if-range'], representation)) decision = IGNORE_RANGE;
    if (decision.kind === 'unsatisfiable' || decision.kind === 'excessive') {
      return sendUnsatisfiable(res, representation, decision.kind === 'excessive');
    }
    const ranges: ByteRange[] =
      decision.kind === 'ranges'
        ? decision.ranges
        : representation.length === 0
          ? []
          : [{ first: 0, last: representation.length - 1 }];

    const missing = firstMissingPiece(object, representation, ranges);
    if (missing >= 0 && (fetcher === null || fetcher.cannotFetch(object, metainfo) !== null)) {
      return answerMissing(res, object, metainfo, route, representation, missing);
    }
    if (head) return sendHead(res, representation);
    const partial = decision.kind === 'ranges';
    if (sendAtHand(res, object, representation, ranges, partial)) return;
    return sendBody(res, object, metainfo, representation, ranges, partial).catch((err: unknown) => {
      if (res.headersSent) throw err;
      if (err instanceof MissingPieceError) {
        return answerMissing(res, object, metainfo, route, representation, err.pieceIndex);
      }
      if (isEdgepeerError(err) && err.code.startsWith('EDGEPEER_ORIGIN_')) {
        return sendError(res, err.code === 'EDGEPEER_ORIGIN_TIMEOUT' ? 504 : 502, `pull-through: ${err.message}`);
      }
      if (isEdgepeerError(err) && err.code === 'EDGEPEER_HASH_MISMATCH') {
        return sendError(res, 502, `pull-through: ${err.message}`);
      }
      throw err;
    });
  }

  /**
   * The common case without waiting: one range within one held piece whose bytes the cache has, or may
   * read from disk at once (a piece it verified since start). False if the request needs the slow path.
   */
  function sendAtHand(
    res: Http1Response,
    object: CatalogObject,
    representation: Representation,
    ranges: ByteRange[],
    partial: boolean,
  ): boolean {
    const only = ranges.length === 1 ? ranges[0]! : undefined;
    if (only === undefined) return false;
    const pieceLength = object.pieceLength;
    const start = representation.offset + only.first;
    const end = representation.offset + only.last + 1;
    const pieceIndex = Math.floor(start / pieceLength);
    const pieceStart = pieceIndex * pieceLength;
    if (end > pieceStart + pieceLength || !object.bitfield.get(pieceIndex)) return false;
    const length = end - start;
    const into = length <= limits.directReadMaxBytes ? spanBuffers.take(length) : undefined;
    let bytes: Buffer | undefined;
    try {
      bytes = cache.readSpanSync(
        object.infoHash,
        pieceIndex,
        start - pieceStart,
        end - pieceStart,
        limits.directReadMaxBytes,
        into,
      );
    } catch {
      // bytes stays undefined: the slow path reads the piece and reports what is wrong with it
    }
    const readInto = into !== undefined && bytes !== undefined && bytes.buffer === into.buffer;
    if (into !== undefined && !readInto) spanBuffers.give(into);
    // Not at hand: the slow path reads the piece (and answers a failure by policy).
    if (bytes === undefined) return false;
    const status = partial ? 206 : 200;
    countStatus(status);
    res.writeHead(status, NO_FIELDS, lengthFields(representation, only, partial) + entityFields(representation));
    res.end(bytes, readInto ? () => spanBuffers.give(into) : undefined);
    countSent(object, length);
    return true;
  }

  /** The first piece the ranges touch that is not held, or -1. */
  function firstMissingPiece(object: CatalogObject, representation: Representation, ranges: ByteRange[]): number {
    const { bitfield, pieceLength } = object;
    for (const range of ranges) {
      const last = Math.floor((representation.offset + range.last) / pieceLength);
      for (let piece = Math.floor((representation.offset + range.first) / pieceLength); piece <= last; piece += 1) {
        if (!bitfield.get(piece)) return piece;
      }
    }
    return -1;
  }

  /** Verified bytes of a piece: from the cache, else (a pulling policy) fetched from elsewhere. */
  function readPiece(object: CatalogObject, metainfo: Metainfo, pieceIndex: number): Promise<Buffer> {
    if (object.bitfield.get(pieceIndex)) {
      const cached = cache.getPiece(object.infoHash, pieceIndex);
      return fetcher === null
        ? cached
        : cached.catch((err: unknown) => fetchInstead(err, object, metainfo, pieceIndex));
    }
    if (fetcher === null) return Promise.reject(new MissingPieceError(pieceIndex));
    return fetchPiece(fetcher, object, metainfo, pieceIndex);
  }

  function fetchInstead(err: unknown, object: CatalogObject, metainfo: Metainfo, pieceIndex: number): Promise<Buffer> {
    // The piece left the store (purged, or found corrupt and dropped) since the bitfield said so.
    if ((err instanceof NotFoundError || err instanceof CorruptPieceError) && fetcher !== null) {
      return fetchPiece(fetcher, object, metainfo, pieceIndex);
    }
    return Promise.reject(err);
  }

  /** One fetch per piece at a time, counted once, whatever the number of requests waiting for it. */
  function fetchPiece(from: PieceFetcher, object: CatalogObject, metainfo: Metainfo, pieceIndex: number) {
    const key = `${object.infoHash}:${pieceIndex}`;
    const shared = fetching.get(key);
    if (shared !== undefined) return shared;
    const pending = from.fetchPiece(object, metainfo, pieceIndex).then(
      (data) => {
        stats.piecesPulled += 1;
        options.onPulled?.(object.infoHash, data.length);
        return data;
      },
      (err: unknown) => {
        stats.pullFailures += 1;
        throw err;
      },
    );
    fetching.set(key, pending);
    pending.then(
      () => fetching.delete(key),
      () => fetching.delete(key),
    );
    return pending;
  }

  async function sendBody(
    res: Http1Response,
    object: CatalogObject,
    metainfo: Metainfo,
    representation: Representation,
    ranges: ByteRange[],
    partial: boolean,
  ): Promise<void> {
    if (ranges.length === 0) {
      countStatus(200);
      res.writeHead(200, ['Content-Length', '0'], entityFields(representation));
      res.end();
      return;
    }
    const only = ranges.length === 1 ? ranges[0]! : undefined;
    if (only !== undefined) {
      const start = representation.offset + only.first;
      const end = representation.offset + only.last + 1;
      const head = {
        fields: NO_FIELDS,
        rendered: lengthFields(representation, only, partial) + entityFields(representation),
      };
      await streamParts(res, object, metainfo, partial ? 206 : 200, head, [{ prefix: null, start, end }], null);
      return;
    }
    const boundary = randomBytes(12).toString('hex');
    const parts = ranges.map((range, index) => ({
      prefix: Buffer.from(
        `${index === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${CONTENT_TYPE}\r\n` +
          `Content-Range: bytes ${range.first}-${range.last}/${representation.length}\r\n\r\n`,
        'latin1',
      ),
      start: representation.offset + range.first,
      end: representation.offset + range.last + 1,
    }));
    const trailer = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
    let length = trailer.length;
    for (const part of parts) length += part.prefix.length + part.end - part.start;
    const fields = [
      'Accept-Ranges',
      'bytes',
      'Cache-Control',
      CACHE_IMMUTABLE,
      'Content-Length',
      String(length),
      'Content-Type',
      `multipart/byteranges; boundary=${boundary}`,
      'ETag',
      representation.etag,
      'Last-Modified',
      representation.lastModified,
    ];
    await streamParts(res, object, metainfo, 206, { fields, rendered: '' }, parts, trailer);
  }

  async function readPieceBeforeHeaders(
    object: CatalogObject,
    metainfo: Metainfo,
    pieceIndex: number,
  ): Promise<Buffer> {
    try {
      return await readPiece(object, metainfo, pieceIndex);
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof CorruptPieceError)
        throw new MissingPieceError(pieceIndex, err);
      throw err;
    }
  }

  /**
   * Streams byte spans of the object's data (torrent offsets [start, end)), each after an optional
   * literal prefix, then a trailer. Pieces are read `readAheadPieces` ahead of the one being written;
   * writes wait for 'drain'. The first piece is in hand before the headers go out; a failure after
   * that cuts the connection: a client must never take missing or unverified bytes for the content.
   */
  async function streamParts(
    res: Http1Response,
    object: CatalogObject,
    metainfo: Metainfo,
    status: number,
    head: { fields: string[]; rendered: string },
    parts: { prefix: Buffer | null; start: number; end: number }[],
    trailer: Buffer | null,
  ): Promise<void> {
    const pieceLength = object.pieceLength;
    const steps: { pieceIndex: number; from: number; to: number; prefix: Buffer | null }[] = [];
    for (const part of parts) {
      let prefix = part.prefix;
      for (let offset = part.start; offset < part.end; ) {
        const pieceIndex = Math.floor(offset / pieceLength);
        const pieceEnd = Math.min(part.end, (pieceIndex + 1) * pieceLength);
        steps.push({
          pieceIndex,
          from: offset - pieceIndex * pieceLength,
          to: pieceEnd - pieceIndex * pieceLength,
          prefix,
        });
        prefix = null;
        offset = pieceEnd;
      }
    }
    const pending: (Promise<Buffer> | undefined)[] = [];
    const readAhead = Math.max(1, limits.readAheadPieces + 1);
    const request = (i: number) => {
      const step = steps[i];
      if (step === undefined || pending[i] !== undefined) return;
      const promise =
        i === 0
          ? readPieceBeforeHeaders(object, metainfo, step.pieceIndex)
          : readPiece(object, metainfo, step.pieceIndex);
      promise.catch(() => {}); // observed when its turn comes
      pending[i] = promise;
    };
    for (let i = 0; i < readAhead; i += 1) request(i);
    const first = await pending[0]!;

    countStatus(status);
    res.writeHead(status, head.fields, head.rendered);
    try {
      for (let i = 0; i < steps.length; i += 1) {
        request(i + readAhead);
        const step = steps[i]!;
        const piece = i === 0 ? first : await pending[i]!;
        pending[i] = undefined;
        if (res.destroyed) break;
        if (step.prefix !== null) res.write(step.prefix);
        const ok = res.write(piece.subarray(step.from, step.to));
        countSent(object, step.to - step.from);
        if (!ok) await res.drained();
      }
      if (res.destroyed) {
        stats.aborted += 1;
        res.destroy(); // for the access log: the line with what was sent
        return;
      }
      if (trailer !== null) res.end(trailer);
      else res.end();
    } catch (err) {
      stats.aborted += 1;
      if (err instanceof ClosedError) {
        res.destroy(); // the client went away: logged, as nginx does, with the bytes it got
        return;
      }
      logger.warn(
        {
          infoHash: object.infoHash,
          error: err instanceof Error ? err.message : String(err),
        },
        'response cut short: a piece could not be read',
      );
      // Flush the verified bytes already written, then close: the body is shorter than Content-Length,
      // which tells the client the response is incomplete. The connection is not reused.
      res.cutShort();
    }
  }

  function answerMissing(
    res: Http1Response,
    object: CatalogObject,
    metainfo: Metainfo,
    route: Route,
    representation: Representation,
    pieceIndex: number,
  ): void {
    const held = `${object.bitfield.count()} of ${object.pieceCount} pieces`;
    const request = {
      object,
      metainfo,
      route: route.kind as 'object' | 'piece',
      fileIndex: representation.fileIndex,
      pieceIndex,
    };
    const where = missingPolicy.kind === 'redirect' ? missingPolicy.locate(request) : null;
    if (where !== null && 'location' in where) {
      stats.redirected += 1;
      sendError(res, 302, `piece ${pieceIndex} is not held here; ${where.holder} has it`, ['Location', where.location]);
      return;
    }
    stats.refused += 1;
    const why =
      where !== null
        ? where.reason
        : missingPolicy.kind === 'pull'
          ? (missingPolicy.fetcher.cannotFetch(object, metainfo) ?? 'it could not be fetched')
          : 'pieces not held are refused (policy "refuse")';
    sendError(res, 503, `object ${object.infoHash} holds ${held} here; piece ${pieceIndex} is missing and ${why}`, [
      'Retry-After',
      String(limits.retryAfterSeconds),
    ]);
  }

  function sendHead(res: Http1Response, representation: Representation): void {
    countStatus(200);
    res.writeHead(200, ['Content-Length', String(representation.length)], entityFields(representation));
    res.end();
  }

  function sendNotModified(res: Http1Response, representation: Representation): void {
    countStatus(304);
    res.writeHead(304, [
      'Cache-Control',
      CACHE_IMMUTABLE,
      'ETag',
      representation.etag,
      'Last-Modified',
      representation.lastModified,
    ]);
    res.end();
  }

  function sendUnsatisfiable(res: Http1Response, representation: Representation, excessive: boolean): void {
    const body = excessive
      ? `too many ranges (at most ${limits.maxRanges})\n`
      : `no range overlaps the ${representation.length} bytes\n`;
    countStatus(416);
    res.writeHead(416, [
      'Content-Range',
      `bytes */${representation.length}`,
      'Content-Type',
      'text/plain; charset=utf-8',
      'Content-Length',
      String(Buffer.byteLength(body)),
    ]);
    res.end(body);
  }

  /** A short text answer that no cache keeps: errors, refusals, redirects. */
  function sendError(res: Http1Response, status: number, reason: string, extra: string[] = []): void {
    const body = `${reason}\n`;
    countStatus(status);
    res.writeHead(status, [
      'Cache-Control',
      'no-store',
      'Content-Type',
      'text/plain; charset=utf-8',
      'Content-Length',
      String(Buffer.byteLength(body)),
      ...extra,
    ]);
    res.end(body);
  }

  function failed(res: Http1Response, err: unknown): void {
    if (!res.headersSent) {
      if (err instanceof StoreCorruptError) {
        // A damaged metainfo file: this object cannot be served here, the server goes on (no path to the client).
        logger.warn({ infoHash: err.details.subject, error: err.message }, 'request for a damaged object');
        sendError(res, 503, 'the object is damaged on this server');
        return;
      }
      stats.internalErrors += 1;
      logger.error({ err }, 'request failed');
      sendError(res, 500, 'internal error');
      return;
    }
    stats.aborted += 1;
    res.destroy();
  }

  /** Content bytes of `object` handed to a client: the server's count, and the agent's per-object tally. */
  function countSent(object: CatalogObject, bytes: number): void {
    stats.bytesSent += bytes;
    options.onSent?.(object.infoHash, bytes);
  }

  function countStatus(status: number): void {
    if (status < 300) stats.responses['2xx'] += 1;
    else if (status < 400) stats.responses['3xx'] += 1;
    else if (status < 500) stats.responses['4xx'] += 1;
    else stats.responses['5xx'] += 1;
  }

  let listening = false;
  return {
    async listen() {
      const port = await listenOn(server, options, () => {
        listening = true;
      });
      return { port, baseUrls: baseUrls(server, port, options.tls === undefined ? 'http' : 'https') };
    },
    async close(graceMs = 5000) {
      if (listening) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        http1.closeIdle();
        // In-flight responses may finish; their connections close as soon as they are done.
        const deadline = Date.now() + graceMs;
        while (http1.connections > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          http1.closeIdle();
        }
        http1.closeAll();
        await closed;
        http1.stop();
        listening = false;
      }
      if (typeof options.policy === 'string') await fetcher?.close();
      await accessLog?.close();
    },
    reopenAccessLog() {
      accessLog?.reopen();
    },
    setCertificate(tls) {
      http1.setCertificate(tls);
    },
    stats() {
      return {
        ...stats,
        connections: http1.connections,
        refusedConnections: http1.refusedConnections,
        responses: { ...stats.responses },
      };
    },
  };
}

const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';

/**
 * CORS (Fetch standard): the fields every response carries, letting scripts read the range fields too, and
 * what a preflight adds. Range itself needs no preflight when it is one simple range; If-* fields do.
 */
function corsFields(origin: string | undefined): { everyResponse: string[]; preflight: string } {
  if (origin === undefined) return { everyResponse: [], preflight: '' };
  if (origin !== '*' && !isHttpOrigin(origin)) {
    throw new InvalidArgumentError(
      `corsOrigin must be '*' or an origin such as https://player.example.net, got ${origin}`,
      {
        subject: 'corsOrigin',
      },
    );
  }
  return {
    everyResponse: [
      'Access-Control-Allow-Origin',
      origin,
      'Access-Control-Expose-Headers',
      'Accept-Ranges, Content-Range, ETag, Last-Modified',
    ],
    preflight: renderFields([
      'Access-Control-Allow-Methods',
      ALLOWED_METHODS,
      'Access-Control-Allow-Headers',
      'Range, If-Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since',
      'Access-Control-Max-Age',
      '86400',
    ]),
  };
}

const renderedEntityFields = new WeakMap<Representation, string>();

/** The fields of a 200/206 carrying (part of) `representation` besides its length: rendered once. */
function entityFields(representation: Representation): string {
  let rendered = renderedEntityFields.get(representation);
  if (rendered === undefined) {
    rendered = renderFields([
      'Accept-Ranges',
      'bytes',
      'Cache-Control',
      CACHE_IMMUTABLE,
      'Content-Type',
      CONTENT_TYPE,
      'ETag',
      representation.etag,
      'Last-Modified',
      representation.lastModified,
    ]);
    renderedEntityFields.set(representation, rendered);
  }
  return rendered;
}

const NO_FIELDS: string[] = [];

// Clients ask for the same few lengths (a block, a piece): their Content-Length lines are kept.
const contentLengthLines = new Map<number, string>();
function contentLengthLine(length: number): string {
  let line = contentLengthLines.get(length);
  if (line === undefined) {
    line = `Content-Length: ${length}\r\n`;
    if (contentLengthLines.size >= 256) contentLengthLines.clear();
    contentLengthLines.set(length, line);
  }
  return line;
}

/** Content-Length of one range of `representation` (whole, or partial with its Content-Range), rendered: numbers only. */
function lengthFields(representation: Representation, range: ByteRange, partial: boolean): string {
  const length = contentLengthLine(range.last - range.first + 1);
  if (!partial) return length;
  return `${length}Content-Range: bytes ${range.first}-${range.last}/${representation.length}\r\n`;
}

function listenOn(server: Server, options: HttpServerOptions, onListening: () => void): Promise<number> {
  const attempt = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host, port: options.port, ipv6Only: false }, () => {
        server.off('error', onError);
        onListening();
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : options.port);
      });
    });
  const host = options.host ?? '::';
  return attempt(host).catch((err: NodeJS.ErrnoException) => {
    // A machine with IPv6 switched off: the default falls back to IPv4 only.
    if (options.host === undefined && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')) {
      return attempt('0.0.0.0');
    }
    throw fromListenError(err, options.tls ? 'HTTPS' : 'HTTP', host, options.port);
  });
}

/** URLs under which this server can be reached: the listening address, or every interface for a wildcard. */
function baseUrls(server: Server, port: number, scheme: 'http' | 'https'): string[] {
  const address = server.address();
  if (typeof address !== 'object' || address === null) return [];
  const wildcard = address.address === '::' || address.address === '0.0.0.0';
  if (!wildcard) return [`${scheme}://${formatHost(address.address)}:${port}`];
  const external: string[] = [];
  const internal: string[] = [];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.family === 'IPv6' && (address.address === '0.0.0.0' || entry.scopeid !== 0)) continue;
      (entry.internal ? internal : external).push(`${scheme}://${formatHost(entry.address)}:${port}`);
    }
  }
  return [...external, ...internal];
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The policy for requests touching pieces not held: one given as a strategy, or one of the agent's by
 * name ('pull-through' builds a PullThrough from the object's origin into `writePiece` or the store).
 */
function missingPiecePolicyOf(options: HttpServerOptions, logger: Logger): MissingPiecePolicy {
  const { policy } = options;
  if (typeof policy !== 'string') return policy;
  if (policy === 'refuse') return REFUSE_MISSING;
  if (policy === 'redirect') return REDIRECT_TO_ORIGIN;
  const writePiece = options.writePiece ?? options.store.writePiece?.bind(options.store);
  if (writePiece === undefined) {
    throw new LocalIoError('pull-through needs a store that can write pieces (or a writePiece option)');
  }
  const fetcher = new PullThrough({
    ...DEFAULT_ORIGIN_LIMITS,
    ...options.origin,
    verify: options.verify ?? sha1Verifier,
    writePiece,
    logger,
  });
  return { kind: 'pull', fetcher };
}
