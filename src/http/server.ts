// The agent's HTTP server: object URLs (BEP 19 web seeds) and piece URLs, served from verified pieces only.
// This file routes a request, checks its preconditions and ranges, answers what is at hand at once and asks
// the missing-piece policy about the rest; body.ts sends bodies, piece-reader.ts finds their bytes,
// fields.ts renders the fields, listen.ts listens, http1.ts speaks HTTP/1.1.
import type { Server } from 'node:net';
import { isEdgepeerError, StoreCorruptError } from '../errors/index.ts';
import { silentLogger } from '../log/index.ts';
import type { Metainfo } from '../metainfo/index.ts';
import type { Flow } from '../qos/index.ts';
import type { CatalogObject } from '../store/types.ts';
import { AccessLog } from './access-log.ts';
import { type BodyContext, sendBody } from './body.ts';
import { evaluatePreconditions, ifRangeHolds } from './conditional.ts';
import { ALLOWED_METHODS, CACHE_IMMUTABLE, corsFields, entityFields, lengthFields, NO_FIELDS } from './fields.ts';
import { createHttp1Server, type Http1Request, type Http1Response } from './http1.ts';
import { DEFAULT_LIMITS, DEFAULT_ORIGIN_LIMITS } from './limits.ts';
import { baseUrls, listenOn } from './listen.ts';
import { MissingPieceError, missingPiecePolicyOf, PieceReader } from './piece-reader.ts';
import { type ByteRange, parseRange, type RangeDecision } from './range.ts';
import { fileRepresentation, pieceRepresentation, type Representation } from './representation.ts';
import { type Route, routeOf } from './routes.ts';
import { SpanBuffers } from './span-buffers.ts';
import { TopUpFlow } from './top-up-flow.ts';
import {
  type BodyFlow,
  emptyHttpStats,
  type HttpLimits,
  type HttpServer,
  type HttpServerOptions,
  type ResponseSource,
} from './types.ts';

const IGNORE_RANGE: RangeDecision = { kind: 'ignore' };
const SOURCE_RANK: Record<ResponseSource, number> = { cache: 0, disk: 1, 'pull-through': 2 };
/** Direct-read buffers kept for reuse: enough for 64 connections' 256 KiB ranges. */
const SPAN_BUFFERS_IDLE_BYTES = 16 * 1024 * 1024;

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const limits: HttpLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const { store, cache, forward, gate, onResponse } = options;
  const qos = options.qos ?? null;
  const topUp = options.topUp ?? null;
  const countTopUpPause = (): void => {
    stats.topUpPauses += 1;
  };
  const protocol = options.tls === undefined ? 'http' : 'https';
  const logger = options.logger ?? silentLogger;
  // `connections` is read off the transport when asked.
  const stats = emptyHttpStats();
  const spanBuffers = new SpanBuffers(SPAN_BUFFERS_IDLE_BYTES);
  const releaseSpan = cache.releaseSpan?.bind(cache);
  const missingPolicy = missingPiecePolicyOf(options, DEFAULT_ORIGIN_LIMITS, logger);
  const reader = new PieceReader(cache, missingPolicy, stats, options.onPulled);
  const fetcher = reader.fetcher;
  const body: BodyContext = {
    reader,
    readAheadPieces: limits.readAheadPieces,
    stats,
    logger,
    countStatus,
    countSent,
    ...(onResponse === undefined ? {} : { noteSource }),
  };

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
    ...(accessLog === null && onResponse === undefined
      ? {}
      : {
          onResponseEnd(request, status, bodyBytes, socket, startedAt, endedAt, annotation) {
            accessLog?.add({
              remoteAddress: socket.remoteAddress,
              method: request?.method ?? '',
              target: gate === undefined || request === null ? (request?.url ?? '') : gate.redact(request.url),
              minorVersion: request?.minorVersion ?? null,
              status,
              bodyBytes,
              referer: request?.headers.referer,
              userAgent: request?.headers['user-agent'],
            });
            if (onResponse !== undefined && request !== null) {
              // The route was found for the request: remembered, so this is a string comparison.
              const route = routeOf(request.url);
              onResponse({
                remoteAddress: socket.remoteAddress,
                remotePort: socket.remotePort,
                method: request.method,
                target: request.url,
                infoHash: route.kind === 'object' || route.kind === 'piece' ? route.infoHash : undefined,
                minorVersion: request.minorVersion,
                range: request.headers.range,
                status,
                bodyBytes,
                durationMs: endedAt - startedAt,
                endedAt: startedAt === 0 ? undefined : endedAt,
                source: annotation as ResponseSource | undefined,
              });
            }
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
    if (qos !== null && !qos.admit(protocol)) {
      // Load shedding: a new request is told to come back later; the ones in flight go on.
      return sendError(res, 503, 'this server is overloaded; retry later or elsewhere', [
        'Retry-After',
        String(qos.retryAfterSeconds),
      ]);
    }
    const route = routeOf(req.url);
    if (route.kind === 'bad') return sendError(res, 400, route.reason);
    if (route.kind === 'unknown') return sendError(res, 404, 'no such resource');
    let subscriber: string | undefined;
    if (gate !== undefined) {
      const answer = gate.admit(req.url, req.headers['x-edgepeer-token'], req.headers.cookie, res.remoteAddress);
      if ('status' in answer) return sendError(res, answer.status, answer.message);
      subscriber = answer.subscriber;
    }
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
    if (
      forward !== undefined &&
      missing < 0 &&
      ranges.length > 0 &&
      forwarded(req, res, object, representation, ranges)
    ) {
      return;
    }
    if (head) return sendHead(res, representation);
    const partial = decision.kind === 'ranges';
    const limited = qos === null ? null : egressFlow(res, object.infoHash, subscriber);
    // Top-up is per response; the egress limits' flow is the connection's and outlives it.
    const flow: BodyFlow | null =
      topUp === null ? limited : new TopUpFlow(topUp, res.remoteAddress, object.infoHash, limited, countTopUpPause);
    if (sendAtHand(res, object, representation, ranges, partial, flow)) {
      if (topUp !== null) flow!.close();
      return;
    }
    const sending = sendBody(body, res, object, metainfo, representation, ranges, partial, flow).catch(
      (err: unknown) => {
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
      },
    );
    return topUp === null ? sending : sending.finally(() => flow!.close());
  }

  /**
   * The connection's flow through the egress limits for `infoHash` and `subscriber`, or null when no limit
   * is set. Made at the connection's first request and kept for the next ones while they ask for the same
   * object as the same subscriber (a client's ranges of one object, the common case), so that a request
   * costs no flow, map lookups or class lookup of its own; closed with the connection.
   */
  function egressFlow(res: Http1Response, infoHash: string, subscriber: string | undefined): Flow | null {
    if (!qos!.active) return null;
    const held = res.connectionHeld as Flow | null;
    if (held !== null && held.objectKey === infoHash && held.subscriber === subscriber && !held.closed) return held;
    held?.close();
    const flow = qos!.open(protocol, infoHash, res.remoteAddress, undefined, subscriber);
    res.connectionHeld = flow;
    return flow;
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
    flow: BodyFlow | null,
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
    // The serving threads' cache lends its spans: given back once the socket is done with them.
    const lent = releaseSpan !== undefined && !readInto ? bytes : undefined;
    if (flow !== null && !flow.take(length)) {
      // Over the limits: the slow path waits for the grant asked for here.
      if (readInto) spanBuffers.give(into);
      if (lent !== undefined) releaseSpan!(lent);
      return false;
    }
    const status = partial ? 206 : 200;
    countStatus(status);
    res.writeHead(status, NO_FIELDS, lengthFields(representation, only, partial) + entityFields(representation));
    // Before end(): the response's record is made as it ends.
    if (onResponse !== undefined) noteSource(res, readInto ? 'disk' : 'cache');
    res.end(bytes, readInto ? () => spanBuffers.give(into) : undefined, lent === undefined ? undefined : releaseSpan);
    countSent(object, length);
    return true;
  }

  /** Where a response's bytes came from, the worst of its pieces: pull-through over disk over cache (kept on
   * the response, for accounting). */
  function noteSource(res: Http1Response, source: ResponseSource): void {
    const before = res.annotation as ResponseSource | undefined;
    if (before === undefined || SOURCE_RANK[source] > SOURCE_RANK[before]) res.annotation = source;
  }

  /** True when `forward` sent the request elsewhere (a 302). */
  function forwarded(
    req: Http1Request,
    res: Http1Response,
    object: CatalogObject,
    representation: Representation,
    ranges: ByteRange[],
  ): boolean {
    let first = Number.POSITIVE_INFINITY;
    let last = -1;
    for (const range of ranges) {
      first = Math.min(first, representation.offset + range.first);
      last = Math.max(last, representation.offset + range.last);
    }
    const where = forward!({
      object,
      target: req.url,
      firstPiece: Math.floor(first / object.pieceLength),
      lastPiece: Math.floor(last / object.pieceLength),
      clientAddress: res.remoteAddress,
      bytes: last - first + 1,
    });
    if (where === null) return false;
    stats.redirected += 1;
    const location = gate === undefined ? where.location : gate.resign(where.location);
    sendError(res, 302, `${where.holder} serves it`, ['Location', location]);
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
