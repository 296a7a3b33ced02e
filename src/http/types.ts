// Options and results of the agent's HTTP server.

import type { Logger } from '../log/index.ts';
import type { Qos } from '../qos/index.ts';
import type { Catalog, CatalogObject, PieceSource, Store } from '../store/types.ts';
import type { MissingPiecePolicy } from './missing-pieces.ts';

/**
 * What to answer when a request touches pieces this agent does not hold:
 * - 'refuse': 503 with Retry-After and the reason (the object exists, the bytes may come later);
 * - 'redirect': 302 to the object's origin URL (object URLs only; a piece URL has no origin equivalent);
 * - 'pull-through': fetch the missing pieces from the origin, verify, store, serve.
 */
export type PartialPolicy = 'refuse' | 'redirect' | 'pull-through';

/** True if `data` hashes to `expectedSha1` (20 bytes). May run on worker threads. */
export type PieceVerifier = (data: Uint8Array, expectedSha1: Uint8Array) => boolean | Promise<boolean>;

/** Stores a verified piece; resolves when it is durable (Store.writePiece, or a message to the writer). */
export type PieceWriter = (infoHash: string, pieceIndex: number, data: Uint8Array) => Promise<void>;

/** What the HTTP server needs of the catalog: lookups, and writes for pull-through. */
export type HttpStore = Pick<Catalog, 'get' | 'metainfoOf'> & Partial<Pick<Store, 'writePiece'>>;

export interface HttpLimits {
  /** Open connections at most; more are closed as they arrive. */
  maxConnections: number;
  /** Open connections from one client address at most (nginx's limit_conn); more are closed as they arrive. */
  maxConnectionsPerIp: number;
  /** Bytes of request line and headers at most (431 beyond). */
  maxHeaderSize: number;
  /** Time to receive a whole request, head and body, however slowly it trickles (408 beyond): slowloris. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed (a client that stopped reading). */
  idleTimeoutMs: number;
  /** Requests per connection (0: unlimited). */
  maxRequestsPerSocket: number;
  /** Ranges in one Range header at most (416 beyond). */
  maxRanges: number;
  /** Ranges closer than this many bytes are sent as one. */
  coalesceGap: number;
  /** Retry-After of a 'refuse' answer, in seconds. */
  retryAfterSeconds: number;
  /** Pieces read ahead of the one being sent. */
  readAheadPieces: number;
  /**
   * A range within one piece that the cache does not hold is read straight from disk, without waiting on
   * the thread pool, when the piece was verified since start and the range is at most this long; longer
   * ranges (and pieces not yet verified) go through the cache, which reads, checks and keeps whole pieces.
   * The read blocks the event loop briefly (a page-cache hit costs microseconds, like nginx's own reads);
   * 0 turns it off.
   */
  directReadMaxBytes: number;
}

export interface OriginLimits {
  /** Time allowed for response headers, and between two body chunks. */
  timeoutMs: number;
  /** Parallel connections per origin. */
  connections: number;
}

/** A request every byte of which is held: where else it may be served from. */
export interface ForwardRequest {
  object: CatalogObject;
  /** The request target as the client sent it (path and query): the same resource elsewhere. */
  target: string;
  /** The pieces the requested bytes lie in. */
  firstPiece: number;
  lastPiece: number;
  /** The client's address (choosing the edge nearest to it: src/topology). */
  clientAddress?: string;
  /** Bytes the request asks for (counted by where they are sent). */
  bytes?: number;
}

/** A redirect for the request (302 to `location`), or null to serve it here. */
export type Forwarder = (request: ForwardRequest) => { location: string; holder: string } | null;

/**
 * Asked before an object or piece URL is served (signed URL tokens, src/auth): null to serve, else the
 * status and message to refuse with. The server knows nothing of tokens beyond these calls.
 */
export interface RequestGate {
  /** A refusal to send, or the admitted request's subscriber (the token's `sub`, for QoS classes). */
  admit(
    target: string,
    tokenHeader: string | undefined,
    cookie: string | undefined,
    address: string | undefined,
  ): { status: number; message: string } | { subscriber?: string | undefined };
  /** A redirect's Location carrying a fresh token for where it goes. */
  resign(location: string): string;
  /** The target as the access log may show it (no token). */
  redact(target: string): string;
}

/** One response as it ended, for an accounting record (src/accounting). */
/** Where a response's bytes came from: the worst of its pieces (pull-through over disk over cache). */
export type ResponseSource = 'cache' | 'disk' | 'pull-through';

export interface ResponseEntry {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  method: string;
  /** The request target as sent (it may hold a token). */
  target: string;
  /** The object the target names (lower-case hex), if it names one. */
  infoHash: string | undefined;
  minorVersion: 0 | 1;
  range: string | undefined;
  status: number;
  /** Body bytes handed to the socket (those the kernel took, for a response cut short). */
  bodyBytes: number;
  /** ms the response took, from the request's handling to its end. */
  durationMs: number;
  /** performance.now() when it ended, if read (the accounting record's time, without a second clock read). */
  endedAt?: number;
  /** Where its body's bytes came from; absent for a response without piece bytes (errors, redirects). */
  source?: ResponseSource;
}

export interface HttpServerOptions {
  store: HttpStore;
  cache: PieceSource;
  /**
   * Asked before a request whose bytes are all held is served: the controller redirects to an edge that
   * holds them, and serves here (through `cache`) only when no single edge does. Default: serve here.
   */
  forward?: Forwarder;
  /** Address to listen on; default '::' (IPv6 and IPv4), or '0.0.0.0' where IPv6 is off. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * Listen with SO_REUSEPORT, so that other serving threads can listen on the same port (http.threads); the
   * kernel spreads new connections among them. Linux.
   */
  reusePort?: boolean;
  /** What a request touching pieces not held gets: one of the agent's policies by name, or a strategy. */
  policy: PartialPolicy | MissingPiecePolicy;
  /** Checks pulled pieces; default: SHA-1 on the calling thread. */
  verify?: PieceVerifier;
  /** Where pulled pieces go; default: store.writePiece. */
  writePiece?: PieceWriter;
  origin?: Partial<OriginLimits>;
  limits?: Partial<HttpLimits>;
  logger?: Logger;
  /** Told of body bytes of an object written to clients (the agent's `uploaded` in announces). */
  onSent?: (infoHash: string, bytes: number) => void;
  /** Told of verified bytes of an object pulled from its origin (the agent's `downloaded`). */
  onPulled?: (infoHash: string, bytes: number) => void;
  /** File to append an access log line to per response ("combined" format); default: no access log. */
  accessLog?: string;
  /**
   * Access-Control-Allow-Origin of every response, '*' or one origin (CORS, for pages fetching objects and
   * pieces: WebTorrent's web seeds, HTML5 players); OPTIONS preflights are answered. Default: no CORS fields.
   */
  corsOrigin?: string;
  /** HTTPS: certificate chain and private key, PEM. Default: plain HTTP. */
  tls?: HttpsCertificate;
  /** Egress limits shared with the peer wire server (src/qos); default: none. */
  qos?: Qos;
  /**
   * Top-up over HTTP (storageControl.topUpRate, docs/policy.md): bodies are paced to what the ledger allows
   * the client's address; default: none.
   */
  topUp?: HttpTopUp;
  /** Checks every object and piece request first (signed URL tokens); default: none, all are served. */
  gate?: RequestGate;
  /** Told of every response that ended (accounting records); default: nothing is kept. */
  onResponse?: (entry: ResponseEntry) => void;
}

/** What a response's body asks before each span it sends: the egress limits (src/qos Flow), top-up. */
export interface BodyFlow {
  /** True: send `bytes` now. False: call whenSendable for the chunks. */
  take(bytes: number): boolean;
  /** Undefined when `bytes` may go now, else a promise resolved once they may. */
  whenSendable(bytes: number): Promise<void> | undefined;
  close(): void;
}

/** The top-up ledger as the HTTP server uses it (src/wire's TopUpLedger), by client address and object. */
export interface HttpTopUp {
  maySend(address: string, infoHash: string, length: number): boolean;
  sent(address: string, infoHash: string, bytes: number, overHttp: boolean): void;
}

export interface HttpsCertificate {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface HttpServerStats {
  connections: number;
  requests: number;
  /** Responses by status class. */
  responses: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  /** Payload bytes written (bodies only). */
  bytesSent: number;
  /** Responses cut short after their headers (client gone, or a piece failed mid-response). */
  aborted: number;
  /** Requests refused or redirected because pieces were missing. */
  refused: number;
  redirected: number;
  /** Pieces fetched, verified and stored by pull-through, and fetches that failed. */
  piecesPulled: number;
  pullFailures: number;
  /** Malformed requests and timeouts seen before a request was complete. */
  clientErrors: number;
  /** Connections closed as they arrived: over the connection cap, total or per client address. */
  refusedConnections: number;
  /** Requests whose handling failed unexpectedly (a bug): logged at error, answered 500. */
  internalErrors: number;
  /** Times a body paused because the client gets its top-up rate from other sources (topUp). */
  topUpPauses: number;
  /** With serving threads (http.threads): requests each thread answered, the agent's own first. */
  requestsPerThread?: number[];
}

/** All counters at zero: a new server's. */
export function emptyHttpStats(): HttpServerStats {
  return {
    connections: 0,
    requests: 0,
    responses: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    bytesSent: 0,
    aborted: 0,
    refused: 0,
    redirected: 0,
    piecesPulled: 0,
    pullFailures: 0,
    clientErrors: 0,
    refusedConnections: 0,
    internalErrors: 0,
    topUpPauses: 0,
  };
}

export interface HttpServer {
  listen(): Promise<{ port: number; baseUrls: string[] }>;
  /** Stops accepting, lets responses in flight finish for up to graceMs, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
  stats(): HttpServerStats;
  /** Opens the access log file anew (after logrotate moved it); nothing without an access log. */
  reopenAccessLog(): void;
  /** HTTPS: a renewed certificate and key, for the connections that come next. */
  setCertificate(tls: HttpsCertificate): void;
}
