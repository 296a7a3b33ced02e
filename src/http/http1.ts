// HTTP/1.1 for a server that only reads (GET and HEAD of immutable content), on node:net.
//
// Why not node:http: under wrk's random 16 KiB ranges on two shared cores, node:http's per-request work
// (IncomingMessage/ServerResponse objects, header validation and serialization, per-request timers)
// caps even a handler that answers from one Buffer at 0.85-0.9x nginx on one thread; this layer reaches
// nginx's rate on one thread, so the HTTP server can run on the agent's main thread and share the
// wire server's piece cache. What it leaves out is what such a server never needs: request bodies
// beyond a small discarded Content-Length, Transfer-Encoding (501, connection closed: no framing
// ambiguity to smuggle through), upgrades, trailers, 100-continue (GET never waits for a body).
//
// Requests on a connection are answered strictly in order; a pipelined request is parsed only after
// the previous response is handed to the socket and the socket's buffer has drained below a mark.
// Timeouts are checked by one sweep per server, from counters the sockets keep anyway: the hot path
// sets no timers. Reads land in one buffer the server owns (see adoptWithReadBuffer).
import { createServer, type Server, Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import { whenWritten } from '../store/index.ts';
import { type RawAcceptor, type RawConnection, takeOverAccepts } from './raw-accept.ts';

export interface Http1Request {
  readonly method: string;
  /** The request target as sent (origin-form or absolute-form). */
  readonly url: string;
  /** The fields this server acts on (RequestFields), lower-cased; repeated ones joined with ", " (RFC 9110 5.3). */
  readonly headers: Readonly<RequestFields>;
  /** Minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  readonly minorVersion: 0 | 1;
}

export interface Http1Limits {
  /** Bytes of request line and fields at most (431 beyond). */
  maxHeaderSize: number;
  /** Time to receive a whole request (line, fields and any body) once its first byte arrived (408 beyond). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection with a response in flight and no bytes moving either way is closed after this. */
  idleTimeoutMs: number;
  /** Requests per connection (0: unlimited); the last one is answered with Connection: close. */
  maxRequestsPerSocket: number;
  /** Open connections at most; more are closed as they arrive. */
  maxConnections: number;
  /** Open connections from one client address at most; more are closed as they arrive. */
  maxConnectionsPerIp: number;
}

export type Http1ClientError = 'malformed' | 'header-overflow' | 'request-timeout' | 'unsupported';

export interface Http1ServerOptions {
  limits: Http1Limits;
  /** HTTPS: the certificate chain and key (PEM). Default: plain HTTP. */
  tls?: Pick<SecureContextOptions, 'cert' | 'key'>;
  /** Fields every response carries (CORS): a flat list of names and values, rendered once here. */
  responseFields?: readonly string[];
  onRequest(request: Http1Request, response: Http1Response): void;
  /** A request rejected before it reached onRequest (already answered, connection closing). */
  onClientError?(kind: Http1ClientError, reason: string): void;
  /**
   * Each response, once ended (or cut short): its request (null for one refused before it could be
   * parsed), status, body bytes handed to the socket, the client's address, and the performance.now() at
   * which the request was handed to onRequest and at which the response ended (both 0 for a refused one).
   * For the access log and accounting.
   */
  onResponseEnd?(
    request: Http1Request | null,
    status: number,
    bodyBytes: number,
    socket: Socket,
    startedAt: number,
    endedAt: number,
    annotation: string | undefined,
  ): void;
  /**
   * Requests another server answers (the tracker's node:http routes: bodies, Server-Sent Events, pages):
   * true for a request line this server should not parse. The connection, from that request on, goes to
   * onHandOff with the bytes already read (that request's head first); this server no longer reads it but
   * still counts it against its limits until it closes. With handOff set, sockets are read through 'data'
   * events (not the server's read buffer), so that they can be handed on.
   */
  handOff?(method: string, target: string): boolean;
  onHandOff?(socket: Socket, unread: Buffer): void;
  /**
   * One connection per request, cheaply (BitTorrent announces): a GET that arrives whole and alone in its
   * connection's first read and closes it (`Connection: close`, or HTTP/1.0 without keep-alive) is
   * offered here before onRequest, on the connection's libuv handle without a net.Socket
   * (src/http/raw-accept.ts). Return true and call `reply` once (now or later) with the status, more
   * fields (renderFields() text) and the body; the connection closes after it. Return false to have it
   * served as any other request. Every other connection becomes a net.Socket and is served as usual.
   * Plain HTTP without onResponseEnd only (ignored otherwise), and where this Node's internals allow
   * (Http1Server.rawAccepting).
   */
  oneShot?(request: Http1Request, remoteAddress: string, reply: OneShotReply): boolean;
}

/** Answers a oneShot request; Date and `Connection: close` are added. */
export type OneShotReply = (status: number, rendered: string, body: Uint8Array) => void;

export interface Http1Server {
  readonly server: Server;
  /** oneShot requests are being answered on libuv handles (set once the server listens). */
  readonly rawAccepting: boolean;
  /** Open connections. */
  readonly connections: number;
  /** Connections closed as they arrived: over maxConnections or maxConnectionsPerIp. */
  readonly refusedConnections: number;
  /** Closes connections between requests now, and each busy one as soon as its response is done. */
  closeIdle(): void;
  /** Closes every connection at once. */
  closeAll(): void;
  /** Stops the timeout sweep (after the listener closed). */
  stop(): void;
  /** HTTPS: takes a new certificate and key for the connections that come next (renewal, on SIGHUP). */
  setCertificate(tls: Pick<SecureContextOptions, 'cert' | 'key'>): void;
}

/** A request body larger than this is refused (413) rather than read and thrown away. */
const MAX_DISCARDED_BODY = 64 * 1024;
/** A pipelined request waits until the socket has at most this much of earlier responses to send. */
const PIPELINE_WRITE_MARK = 1024 * 1024;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, obs-text, SP and HTAB (RFC 9110 5.5); CR, LF, NUL and other controls are not.
const BAD_VALUE_CHAR = /[\0-\x08\x0a-\x1f\x7f]/;
// A request target is ASCII (RFC 3986); clients percent-encode the rest.
const BAD_TARGET_CHAR = /[\0-\x20\x7f-\xff]/;
const CR_LF_NUL = /[\r\n\0]/;

// Every status RFC 9110 (section 15) defines, and 429 (RFC 6585), with its reason phrase. Another status
// gets an empty phrase, which RFC 9112 4 allows ("HTTP/1.1 299 "), never a made-up one.
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

// RFC 9110 6.6.1: an origin server with a clock sends Date; the line changes once a second.
let dateSecond = -1;
let dateText = '';
/**
 * `taken` and `settled` of a body end() wrote: at once when the socket took it already (no closure made, the
 * common case), else once the socket is done with it.
 */
function afterBody(
  socket: Socket,
  body: Uint8Array,
  taken: (() => void) | undefined,
  settled: ((chunk: Uint8Array) => void) | undefined,
): void {
  if (!socket.destroyed && socket.writableLength === 0) {
    taken?.();
    settled?.(body);
    return;
  }
  whenWritten(socket, (err) => {
    if (err == null) taken?.();
    settled?.(body);
  });
}

function dateLine(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
  }
  return dateText;
}

const statusLines = new Map<number, string>();
function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${REASON_PHRASES[status] ?? ''}\r\n`;
    statusLines.set(status, line);
  }
  return line;
}

type ConnectionState = 'idle' | 'head' | 'body' | 'responding' | 'closing' | 'handed-off';

/** One response: status line and fields, then a body written whole or in chunks. */
export class Http1Response {
  readonly #connection: Connection;
  readonly #request: Http1Request;
  readonly #head: boolean;
  readonly #keepAlive: boolean;
  #headerText: string | null = null;
  #ended = false;
  #status = 0;
  #bodyBytes = 0;
  /** Body bytes the kernel has taken, as of the last body write the socket called back: what left. */
  #bodyBytesSent = 0;
  /** performance.now() when the request was handed over; read only if responses are reported. */
  readonly #startedAt: number;
  /** The connection's turn (Connection.turn) the response began in. */
  readonly #startedTurn: number;
  /** The server's own note on this response (e.g. where its bytes came from), handed to onResponseEnd. */
  annotation: string | undefined = undefined;
  headersSent = false;
  readonly #onBodyWritten = (err?: Error | null): void => {
    if (err != null) return;
    // The socket's buffer no longer holds this write; what it still holds came later (or is the head's).
    const sent = this.#bodyBytes - this.#connection.socket.writableLength;
    if (sent > this.#bodyBytesSent) this.#bodyBytesSent = sent;
  };

  constructor(connection: Connection, request: Http1Request, keepAlive: boolean) {
    this.#connection = connection;
    this.#request = request;
    this.#head = request.method === 'HEAD';
    this.#keepAlive = keepAlive;
    this.#startedAt = connection.reportsResponses ? performance.now() : 0;
    this.#startedTurn = connection.turn;
  }

  get destroyed(): boolean {
    return this.#connection.socket.destroyed;
  }

  /**
   * What the server keeps for this connection across its requests (the egress limits' flow: made once,
   * not per request), closed when the connection closes. Setting it does not close the one before.
   */
  get connectionHeld(): ConnectionHeld | null {
    return this.#connection.held;
  }

  set connectionHeld(held: ConnectionHeld | null) {
    this.#connection.held = held;
  }

  /** The client's address, IPv4 unmapped as the peer wire server has it (one per-client limit for both). */
  get remoteAddress(): string {
    return unmapped(this.#connection.socket.remoteAddress ?? '');
  }

  /**
   * `fields` is a flat list of names and values; `rendered` more fields from renderFields() (fields
   * that many responses share, rendered once). Date and Connection are added here.
   */
  writeHead(status: number, fields: readonly string[], rendered = ''): void {
    if (this.headersSent || this.#headerText !== null) throw new Error('response head already written');
    const connection = !this.#keepAlive
      ? 'Connection: close\r\n\r\n'
      : this.#connection.minorVersion === 0
        ? 'Connection: keep-alive\r\n\r\n'
        : '\r\n';
    const more = fields.length === 0 ? rendered : renderFields(fields) + rendered;
    this.#headerText = statusLine(status) + more + this.#connection.responseFields + dateLine() + connection;
    this.#status = status;
  }

  /** Writes a body chunk; false when the socket's buffer is full (wait for drained()). */
  write(chunk: Uint8Array): boolean {
    const socket = this.#connection.socket;
    if (this.#headerText !== null) {
      socket.cork();
      socket.write(this.#headerText, 'latin1');
      this.#headerText = null;
      this.headersSent = true;
      if (!this.#head) this.#bodyBytes += chunk.length;
      const ok = this.#head ? true : socket.write(chunk, this.#onBodyWritten);
      socket.uncork();
      return ok && socket.writableLength < socket.writableHighWaterMark;
    }
    if (this.#head) return true;
    this.#bodyBytes += chunk.length;
    return socket.write(chunk, this.#onBodyWritten);
  }

  /**
   * Ends the response, with a last chunk; the connection then goes on to the next request or closes.
   * `taken` is called once the socket no longer needs `chunk` (at once if it was not written), so its
   * memory may be reused; never if the connection failed first (the chunk may still be referenced).
   * `settled` is called with the chunk once the socket no longer reads it either way (written, or the
   * socket failed and reads nothing more): a lent span is given back then, or its slot would stay pinned
   * for good. Neither costs a callback per write: see whenWritten.
   */
  end(chunk?: Uint8Array | string, taken?: () => void, settled?: (chunk: Uint8Array) => void): void {
    if (this.#ended) return;
    this.#ended = true;
    const socket = this.#connection.socket;
    const body = this.#head || chunk === undefined ? undefined : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const written = body !== undefined && body.length > 0;
    if (this.#headerText !== null) {
      if (written) {
        socket.cork();
        socket.write(this.#headerText, 'latin1');
        socket.write(body);
        socket.uncork();
      } else {
        socket.write(this.#headerText, 'latin1');
      }
      this.#headerText = null;
      this.headersSent = true;
    } else if (written) {
      socket.write(body);
    }
    if (!written) {
      taken?.();
      // A HEAD response writes no body; a lent chunk is given back all the same.
      if (settled !== undefined && chunk !== undefined && typeof chunk !== 'string') settled(chunk);
    } else {
      this.#bodyBytes += body.length;
      if (taken !== undefined || settled !== undefined) afterBody(socket, body, taken, settled);
    }
    this.#connection.responseEnded(
      this.#request,
      this.#status,
      this.#bodyBytes,
      this.#startedAt,
      this.#startedTurn,
      this.annotation,
    );
    this.#connection.responseDone(this.#keepAlive);
  }

  /** Resolves when the socket can take more, rejects with ClosedError when the client went away. */
  drained(): Promise<void> {
    const socket = this.#connection.socket;
    if (socket.destroyed) return Promise.reject(new ClosedError('client went away'));
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        socket.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        socket.off('drain', onDrain);
        reject(new ClosedError('client went away'));
      };
      socket.once('drain', onDrain);
      socket.once('close', onClose);
    });
  }

  /** Sends what is buffered, then closes: a body shorter than its Content-Length marks it incomplete. */
  cutShort(): void {
    // What is buffered still goes out: logged with the bytes written.
    this.#endEarly(this.#bodyBytes);
    this.#connection.close(false);
  }

  /** Closes at once: the client went away, or must not get more. */
  destroy(): void {
    // Logged, as nginx does, with the body bytes the kernel took: those still queued in this process never
    // left. (By the time a dead socket is noticed Node has dropped its queue, so writableLength reads 0.)
    this.#endEarly(this.#bodyBytesSent);
    this.#connection.socket.destroy();
  }

  #endEarly(bodyBytes: number): void {
    if (!this.#ended) {
      this.#connection.responseEnded(
        this.#request,
        this.#status,
        bodyBytes,
        this.#startedAt,
        this.#startedTurn,
        this.annotation,
      );
    }
    this.#ended = true;
  }
}

export class ClosedError extends Error {}

/** A server's per-connection state (Http1Response.connectionHeld). */
export interface ConnectionHeld {
  close(): void;
}

/** `Name: value` lines of a flat list of names and values; a value holding CR, LF or NUL is refused. */
export function renderFields(fields: readonly string[]): string {
  let text = '';
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]!;
    // Values from metainfo (a redirect's origin URL) must not split the response.
    if (CR_LF_NUL.test(value)) throw new Error(`response field ${fields[i]} holds CR, LF or NUL`);
    text += `${fields[i]}: ${value}\r\n`;
  }
  return text;
}

class Connection {
  readonly socket: Socket;
  readonly #owner: ServerState;
  state: ConnectionState = 'idle';
  minorVersion: 0 | 1 = 1;
  /** Bytes received and not yet parsed (latin1: one char per byte). */
  #pending = '';
  /**
   * Odd while received() runs (a chunk's requests parsed and those answered at hand answered), even
   * between: one more at each start and end. A response that ends in the turn it began in ended within
   * that turn's CPU time (microseconds), so its end is its start: a clock read costs ~50 ns on this VM,
   * a tenth of an accounting record's cost on the serving thread.
   */
  turn = 0;
  #bodyLeft = 0;
  #requests = 0;
  /**
   * When the current request's first byte arrived, until its head and body are complete (for the 408 sweep):
   * a client trickling either, a byte every few seconds, is cut at requestTimeoutMs all the same.
   */
  requestStartedAt = 0;
  /** Activity seen by the last sweep: bytes moved and when they last changed. */
  seenRead = 0;
  seenWritten = 0;
  quietSince = Date.now();
  /** Set by closeIdle(): close as soon as the response in flight is done. */
  closeWhenDone = false;
  /** The server's state for this connection, closed with it. */
  held: ConnectionHeld | null = null;
  /** The client sends no more: it asked for the connection to close, or sent FIN. */
  #clientDone = false;
  #paused = false;

  /** `streamed`: the socket delivers 'data' events (it could not be given the server's read buffer). */
  constructor(socket: Socket, owner: ServerState, streamed: boolean) {
    this.socket = socket;
    this.#owner = owner;
    socket.setNoDelay(true);
    if (streamed) {
      socket.on('data', this.#onData);
      socket.resume();
    }
    socket.on('error', () => socket.destroy());
    socket.on('end', this.#onEnd);
  }

  readonly #onData = (chunk: Buffer): void => this.received(chunk, chunk.length);

  readonly #onEnd = (): void => {
    // The client sent FIN: finish the response in flight (if any), then close.
    this.#clientDone = true;
    if (this.state === 'responding') this.closeWhenDone = true;
    else this.close(false);
  };

  /** Gives the socket, with `unread` (bytes read and not answered), to the server of the hand-off. */
  #handOff(unread: string): void {
    this.state = 'handed-off';
    this.#pending = '';
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.pause();
    this.#owner.handOff(this.socket, Buffer.from(unread, 'latin1'));
  }

  /** Bytes [0, length) of `bytes` arrived; they are copied out before this returns (the buffer is reused). */
  received(bytes: Buffer, length: number): void {
    if (this.state === 'closing') return;
    const text = bytes.toString('latin1', 0, length);
    this.#pending = this.#pending.length === 0 ? text : this.#pending + text;
    if (this.state === 'responding') {
      // Pipelined requests wait their turn; a client that floods them is paused, not buffered without end.
      if (this.#pending.length > this.#owner.limits.maxHeaderSize * 4) this.#pause();
      return;
    }
    this.turn += 1;
    try {
      this.#parse();
    } finally {
      this.turn += 1;
    }
  }

  #pause(): void {
    if (!this.#paused) {
      this.#paused = true;
      this.socket.pause();
    }
  }

  #resume(): void {
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  /** Parses and dispatches complete requests from #pending, one at a time. */
  #parse(): void {
    while (this.state !== 'responding' && this.state !== 'closing') {
      if (this.state === 'body') {
        const taken = Math.min(this.#bodyLeft, this.#pending.length);
        this.#bodyLeft -= taken;
        this.#pending = this.#pending.slice(taken);
        if (this.#bodyLeft > 0) return;
        this.state = 'idle';
        this.#dispatchReady();
        continue;
      }
      if (this.#pending.length === 0) {
        this.state = 'idle';
        this.requestStartedAt = 0;
        return;
      }
      // RFC 9112 2.2: empty lines before a request line are ignored (a head never starts with one). They
      // start the head's clock, so a client cannot hold a connection open by sending nothing else.
      let skip = 0;
      while (this.#pending.charCodeAt(skip) === 13 || this.#pending.charCodeAt(skip) === 10) skip += 1;
      if (skip > 0) {
        this.#pending = this.#pending.slice(skip);
        if (this.state === 'idle') {
          this.state = 'head';
          this.requestStartedAt = Date.now();
        }
        if (this.#pending.length === 0) return;
      }
      const end = headEnd(this.#pending);
      if (end === null) {
        if (this.#pending.length > this.#owner.limits.maxHeaderSize) {
          this.#reject(431, 'header-overflow', 'request line and fields are too large');
          return;
        }
        if (this.state === 'idle') {
          this.state = 'head';
          this.requestStartedAt = Date.now();
        }
        return;
      }
      if (end.head > this.#owner.limits.maxHeaderSize) {
        this.#reject(431, 'header-overflow', 'request line and fields are too large');
        return;
      }
      if (this.#owner.handsOff !== undefined) {
        const lineEnd = this.#pending.indexOf('\n');
        const line = this.#pending.slice(
          0,
          lineEnd > 0 && this.#pending.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd,
        );
        const firstSpace = line.indexOf(' ');
        const lastSpace = line.lastIndexOf(' ');
        if (firstSpace > 0 && this.#owner.handsOff(line.slice(0, firstSpace), line.slice(firstSpace + 1, lastSpace))) {
          this.#handOff(this.#pending);
          return;
        }
      }
      const headText = this.#pending.slice(0, end.head);
      this.#pending = this.#pending.slice(end.next);
      // A head that arrived whole in one read still starts the clock its body runs against.
      if (this.requestStartedAt === 0) this.requestStartedAt = Date.now();
      const parsed = parseHead(headText);
      if (parsed.kind === 'error') {
        this.#reject(parsed.status, parsed.status === 400 ? 'malformed' : 'unsupported', parsed.reason);
        return;
      }
      this.#pendingRequest = parsed.request;
      this.minorVersion = parsed.request.minorVersion;
      if (parsed.bodyLength > 0) {
        if (parsed.bodyLength > MAX_DISCARDED_BODY) {
          this.#reject(413, 'unsupported', 'request bodies are not accepted here');
          return;
        }
        this.#bodyLeft = parsed.bodyLength;
        this.state = 'body';
        continue;
      }
      this.#dispatchReady();
    }
  }

  #pendingRequest: Http1Request | null = null;

  #dispatchReady(): void {
    const request = this.#pendingRequest;
    if (request === null) return;
    this.#pendingRequest = null;
    this.requestStartedAt = 0;
    this.#requests += 1;
    const limits = this.#owner.limits;
    const lastAllowed = limits.maxRequestsPerSocket > 0 && this.#requests >= limits.maxRequestsPerSocket;
    const clientKeepsAlive = wantsKeepAlive(request);
    if (!clientKeepsAlive) this.#clientDone = true;
    const keepAlive = clientKeepsAlive && !lastAllowed && !this.closeWhenDone;
    this.state = 'responding';
    const response = new Http1Response(this, request, keepAlive);
    this.#owner.onRequest(request, response);
  }

  /** Called by the response's end(): go on to the next request, or close. */
  responseDone(keepAlive: boolean): void {
    if (this.state !== 'responding') return;
    if (!keepAlive || this.closeWhenDone) {
      this.#closeAfterResponse();
      return;
    }
    this.state = 'idle';
    if (this.#pending.length === 0) {
      this.#resume();
      return;
    }
    // Pipelined requests: parse the next once earlier responses have mostly left.
    if (this.socket.writableLength > PIPELINE_WRITE_MARK) {
      this.state = 'responding';
      this.socket.once('drain', () => {
        if (this.state !== 'responding') return;
        this.state = 'idle';
        this.#resume();
        this.#parse();
      });
      return;
    }
    this.#resume();
    // Not re-entrantly from inside the previous handler's end().
    queueMicrotask(() => {
      if (this.state === 'idle') this.#parse();
    });
  }

  get responseFields(): string {
    return this.#owner.responseFields;
  }

  /** True if the server reports each response (access log, accounting). */
  get reportsResponses(): boolean {
    return this.#owner.responseEnded !== undefined;
  }

  /** For the access log and accounting, if the server reports responses. */
  responseEnded(
    request: Http1Request | null,
    status: number,
    bodyBytes: number,
    startedAt: number,
    startedTurn: number,
    annotation: string | undefined,
  ): void {
    const endedAt =
      startedAt === 0 ? 0 : startedTurn === this.turn && (startedTurn & 1) === 1 ? startedAt : performance.now();
    this.#owner.responseEnded?.(request, status, bodyBytes, this.socket, startedAt, endedAt, annotation);
  }

  #reject(status: number, kind: Http1ClientError, reason: string): void {
    this.#owner.clientError(kind, reason);
    this.minorVersion = 1;
    const body = `${reason}\n`;
    this.responseEnded(null, status, Buffer.byteLength(body), 0, 0, undefined);
    this.socket.write(
      `${statusLine(status)}${this.#owner.responseFields}${dateLine()}Connection: close\r\n` +
        `Cache-Control: no-store\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    this.close(false);
  }

  /** 408 for a request (head or body) that did not arrive in time. */
  timedOut(): void {
    this.#reject(408, 'request-timeout', 'the request did not arrive in time');
  }

  /**
   * The last response is answered. If the client said it sends no more (Connection: close, HTTP/1.0, or
   * FIN), sent nothing more, and the kernel took all of the response, the socket is closed at once (its
   * FIN follows the response): ending it gracefully, as close(false) does, costs a shutdown(), a wake-up
   * and a read for the client's FIN and a stream teardown per connection, most of what a connection cost
   * for one connection per request (BitTorrent announces). When the server decides to close (request
   * limit, closeIdle), a client may still be sending: closing with its bytes unread would send RST and
   * could lose the response, so that ends gracefully. Plain TCP only: TLS ends with its close_notify.
   */
  #closeAfterResponse(): void {
    const socket = this.socket;
    if (
      !this.#clientDone ||
      this.#pending.length > 0 ||
      socket.writableLength > 0 ||
      (socket as { encrypted?: boolean }).encrypted
    ) {
      this.close(false);
      return;
    }
    this.state = 'closing';
    socket.destroy();
  }

  /** Ends the connection after what is buffered (graceful), or at once. */
  close(now: boolean): void {
    if (this.state === 'handed-off') {
      // Its new server ends it gracefully; here only at once (closeAll, closeIdle).
      if (now) this.socket.destroy();
      return;
    }
    // Already ending (the client's FIN after our own): a second end() only builds an error to ignore.
    if (this.state === 'closing' && !now) return;
    this.state = 'closing';
    this.#pending = '';
    if (now) {
      this.socket.destroy();
      return;
    }
    this.socket.end();
    // A client that never reads would hold the socket open; destroySoon is not enough then.
    this.#resume();
  }
}

interface ServerState {
  limits: Http1Limits;
  onRequest(request: Http1Request, response: Http1Response): void;
  clientError(kind: Http1ClientError, reason: string): void;
  responseEnded: Http1ServerOptions['onResponseEnd'];
  responseFields: string;
  /** Http1ServerOptions.handOff, if set. */
  handsOff: Http1ServerOptions['handOff'];
  handOff(socket: Socket, unread: Buffer): void;
}

/**
 * Where the request head ends, at its first empty line (CRLF or, as RFC 9112 2.2 allows, a bare LF):
 * `head` = its length up to that line's LF, `next` = the first byte after the empty line. One pass over
 * the line ends.
 */
function headEnd(text: string): { head: number; next: number } | null {
  for (let lf = text.indexOf('\n'); lf >= 0; lf = text.indexOf('\n', lf + 1)) {
    const after = text.charCodeAt(lf + 1);
    if (after === 10) return { head: headLength(text, lf), next: lf + 2 };
    if (after === 13 && text.charCodeAt(lf + 2) === 10) return { head: headLength(text, lf), next: lf + 3 };
  }
  return null;
}

/** The head's length without the line end at `lf` (its CR too, if there is one). */
function headLength(text: string, lf: number): number {
  return text.charCodeAt(lf - 1) === 13 ? lf - 1 : lf;
}

type ParsedHead =
  | { kind: 'request'; request: Http1Request; bodyLength: number }
  | { kind: 'error'; status: 400 | 501 | 505; reason: string };

function fail(reason: string, status: 400 | 501 | 505 = 400): ParsedHead {
  return { kind: 'error', status, reason };
}

/**
 * The request fields this server acts on, in one fixed shape (every request object alike, cheap to fill
 * and read); other fields are checked like these and then dropped.
 */
export class RequestFields {
  host: string | undefined = undefined;
  connection: string | undefined = undefined;
  'content-length': string | undefined = undefined;
  'transfer-encoding': string | undefined = undefined;
  range: string | undefined = undefined;
  'if-range': string | undefined = undefined;
  'if-match': string | undefined = undefined;
  'if-none-match': string | undefined = undefined;
  'if-modified-since': string | undefined = undefined;
  'if-unmodified-since': string | undefined = undefined;
  // For the access log.
  'user-agent': string | undefined = undefined;
  referer: string | undefined = undefined;
  // Where a signed URL token may travel besides the query (RequestGate).
  cookie: string | undefined = undefined;
  'x-edgepeer-token': string | undefined = undefined;
}
type FieldName = keyof RequestFields;
const KEPT_FIELDS: ReadonlySet<string> = new Set(Object.keys(new RequestFields()));

/**
 * The last request target that passed the character check: a client asks one URL for many ranges, and
 * comparing two equal strings (a memcmp) costs a fraction of the check over a long target (a signed
 * token's query is ~200 characters). A space to start with: no target holding one passes.
 */
let lastGoodTarget = ' ';

/** Parses a request line and its fields (RFC 9112 3 and 5), strictly: anything ambiguous is a 400. */
export function parseHead(text: string): ParsedHead {
  const firstLf = text.indexOf('\n');
  const lineEnd = lineEndOf(text, 0, firstLf < 0 ? text.length : firstLf);
  if (lineEnd < 0) return fail('bare CR in the request line');
  const firstSpace = text.indexOf(' ');
  const lastSpace = text.lastIndexOf(' ', lineEnd - 1);
  if (firstSpace <= 0 || firstSpace >= lineEnd || lastSpace === firstSpace) {
    return fail('request line is not "METHOD target HTTP/1.x"');
  }
  const method = text.slice(0, firstSpace);
  let url = text.slice(firstSpace + 1, lastSpace);
  const version = text.slice(lastSpace + 1, lineEnd);
  if (method !== 'GET' && method !== 'HEAD' && !TOKEN.test(method)) return fail('request method is not a token');
  if (url === lastGoodTarget) {
    // The one string object for a repeated target: later comparisons of it (the route, the token gate,
    // the accounting ring) are of one pointer, not of its characters.
    url = lastGoodTarget;
  } else {
    if (url.length === 0 || BAD_TARGET_CHAR.test(url))
      return fail('request target is empty or holds spaces, controls or non-ASCII bytes');
    lastGoodTarget = url;
  }
  let minorVersion: 0 | 1;
  if (version === 'HTTP/1.1') minorVersion = 1;
  else if (version === 'HTTP/1.0') minorVersion = 0;
  else if (/^HTTP\/\d\.\d$/.test(version)) return fail(`${version} is not supported; use HTTP/1.1`, 505);
  else return fail('request line does not end with an HTTP version');

  const fields = new RequestFields();
  for (let start = firstLf + 1; firstLf >= 0 && start < text.length; ) {
    let lf = text.indexOf('\n', start);
    if (lf < 0) lf = text.length;
    const end = lineEndOf(text, start, lf);
    if (end < 0) return fail('bare CR in a header field');
    const first = text.charCodeAt(start);
    if (first === 32 || first === 9) return fail('obsolete line folding in a header field');
    const colon = text.indexOf(':', start);
    if (colon <= start || colon >= end) {
      return fail(
        `header line without a name and colon: ${JSON.stringify(text.slice(start, Math.min(end, start + 40)))}`,
      );
    }
    const rawName = text.slice(start, colon);
    const name = fieldName(rawName);
    if (name === null) return fail(`header field name ${JSON.stringify(rawName.slice(0, 40))} is not a token`);
    const value = trimOws(text.slice(colon + 1, end));
    if (BAD_VALUE_CHAR.test(value)) return fail(`header field ${rawName} holds control characters`);
    start = lf + 1;
    if (!KEPT_FIELDS.has(name)) continue;
    const kept = name as FieldName;
    const previous = fields[kept];
    if (previous === undefined) fields[kept] = value;
    else if (kept === 'host') return fail('more than one Host field');
    else if (kept === 'content-length' && previous !== value) return fail('conflicting Content-Length fields');
    else if (kept !== 'content-length') fields[kept] = `${previous}, ${value}`;
  }

  if (minorVersion === 1 && fields.host === undefined) return fail('HTTP/1.1 request without a Host field');
  if (fields['transfer-encoding'] !== undefined) {
    // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if (minorVersion === 0) return fail('Transfer-Encoding in an HTTP/1.0 request');
    return fail('request bodies with Transfer-Encoding are not accepted here', 501);
  }
  let bodyLength = 0;
  const contentLength = fields['content-length'];
  if (contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(contentLength)) return fail('Content-Length is not a number');
    bodyLength = Number(contentLength);
  }
  return { kind: 'request', request: { method, url, headers: fields, minorVersion }, bodyLength };
}

/** Where the line [start, lf) ends without its trailing CR; -1 if a CR stands anywhere else in it. */
function lineEndOf(text: string, start: number, lf: number): number {
  const end = lf > start && text.charCodeAt(lf - 1) === 13 ? lf - 1 : lf;
  const cr = text.indexOf('\r', start);
  return cr >= 0 && cr < end ? -1 : end;
}

/**
 * Field names as sent, checked and lower-cased once: clients send the same few names on every request,
 * and a Map lookup is cheaper than the token check and toLowerCase each time. Bounded: a client sending
 * made-up names fills it once and then pays the check.
 */
const knownFieldNames = new Map<string, string>();
const KNOWN_FIELD_NAMES_MAX = 256;

// Names nearly every client sends, compared before the Map (hashing a fresh string costs more).
const COMMON_FIELD_NAMES = ['Host', 'host', 'Range', 'range', 'User-Agent', 'user-agent', 'Accept', 'Connection'];
const COMMON_FIELD_NAMES_LOWER = COMMON_FIELD_NAMES.map((name) => name.toLowerCase());

/** The lower-cased field name, or null if `raw` is not a token. */
function fieldName(raw: string): string | null {
  for (let i = 0; i < COMMON_FIELD_NAMES.length; i += 1) {
    if (raw === COMMON_FIELD_NAMES[i]) return COMMON_FIELD_NAMES_LOWER[i]!;
  }
  const known = knownFieldNames.get(raw);
  if (known !== undefined) return known;
  if (!TOKEN.test(raw)) return null;
  const name = raw.toLowerCase();
  if (knownFieldNames.size < KNOWN_FIELD_NAMES_MAX) knownFieldNames.set(raw, name);
  return name;
}

function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 32 || value.charCodeAt(start) === 9)) start += 1;
  while (end > start && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end -= 1;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive". */
function wantsKeepAlive(request: Http1Request): boolean {
  const connection = request.headers.connection;
  if (connection === undefined) return request.minorVersion === 1;
  const tokens = connection.toLowerCase();
  if (hasToken(tokens, 'close')) return false;
  return request.minorVersion === 1 || hasToken(tokens, 'keep-alive');
}

function hasToken(list: string, token: string): boolean {
  for (const item of list.split(',')) if (item.trim() === token) return true;
  return false;
}

export function createHttp1Server(options: Http1ServerOptions): Http1Server {
  const { limits } = options;
  const connections = new Set<Connection>();
  const state: ServerState = {
    limits,
    onRequest: options.onRequest,
    clientError: (kind, reason) => options.onClientError?.(kind, reason),
    responseEnded: options.onResponseEnd,
    responseFields: renderFields(options.responseFields ?? []),
    handsOff: options.handOff,
    handOff: (socket, unread) => options.onHandOff?.(socket, unread),
  };
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  const perAddress = new AddressCounts();
  let refusedConnections = 0;
  /** Counts the TCP connection against its address, or refuses it (over a cap, or no address). */
  const admit = (socket: Socket, open: number): string | null => {
    const address = socket.remoteAddress;
    if (
      address === undefined ||
      open >= limits.maxConnections ||
      !perAddress.add(address, limits.maxConnectionsPerIp)
    ) {
      refusedConnections += 1;
      socket.on('error', () => {});
      socket.destroy();
      return null;
    }
    return address;
  };
  const track = (socket: Socket, streamed: boolean): Connection => {
    const connection = new Connection(socket, state, streamed);
    connections.add(connection);
    socket.once('close', () => {
      connections.delete(connection);
      connection.held?.close();
      connection.held = null;
    });
    return connection;
  };
  let server: Server;
  /** Connections read on their libuv handles (options.oneShot), once listening. */
  let raw: RawAcceptor | null = null;
  // TLS: every accepted TCP socket, handshake done or not, so that closeAll() leaves none behind (a client
  // that gave up on the certificate may hold one until the handshake timeout).
  const tcpSockets = new Set<Socket>();
  if (options.tls !== undefined) {
    // TLS sockets decrypt in their own stream: they deliver 'data' events, no read buffer of ours.
    server = createTlsServer(
      { ...options.tls, allowHalfOpen: true, handshakeTimeout: limits.requestTimeoutMs },
      (socket) => track(socket, true),
    );
    // Counted per TCP connection, before the handshake: handshakes are what a flood would cost.
    server.on('connection', (socket: Socket) => {
      const address = admit(socket, tcpSockets.size);
      if (address === null) return;
      tcpSockets.add(socket);
      socket.once('close', () => {
        tcpSockets.delete(socket);
        perAddress.remove(address);
      });
    });
  } else {
    // allowHalfOpen: a client that sends its request and then FIN still gets the whole response.
    // pauseOnConnect: nothing is read before the socket has the server's read buffer.
    server = createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (accepted) => {
      // Counted here, not by net.Server's maxConnections: adopted sockets are not net.Server's.
      const address = admit(accepted, connections.size);
      if (address === null) return;
      let connection: Connection | undefined;
      const socket =
        options.handOff === undefined
          ? adoptWithReadBuffer(accepted, readBuffer, (length) => connection?.received(readBuffer, length))
          : accepted;
      connection = track(socket, socket === accepted);
      socket.once('close', () => perAddress.remove(address));
    });
    const oneShot = options.oneShot;
    if (oneShot !== undefined && options.onResponseEnd === undefined) {
      // On every (re)listen: net.Server makes a new handle each time.
      server.on('listening', () => {
        raw = takeOverAccepts(server, {
          admit: (address) => {
            if (connections.size + (raw?.open ?? 0) >= limits.maxConnections) {
              refusedConnections += 1;
              return false;
            }
            if (perAddress.add(address, limits.maxConnectionsPerIp)) return true;
            refusedConnections += 1;
            return false;
          },
          first: (bytes, connection) => answerFirstRead(bytes, connection, oneShot, state),
          adopt: (socket, unread, address) => {
            const connection = track(socket, true);
            socket.once('close', () => perAddress.remove(address));
            if (unread.length > 0) connection.received(unread, unread.length);
          },
          closed: (address) => perAddress.remove(address),
        });
      });
    }
  }

  const sweepEveryMs = Math.max(
    50,
    Math.min(1000, Math.floor(Math.min(limits.requestTimeoutMs, limits.keepAliveTimeoutMs, limits.idleTimeoutMs) / 4)),
  );
  const sweep = setInterval(() => {
    // A connection that sent nothing for a while goes to the sweep below, which times it out as any other;
    // one whose answer is not out within the idle timeout is closed, as a socket's stalled response is.
    raw?.sweep(RAW_WAIT_MS, limits.idleTimeoutMs);
    sweepConnections(connections, limits);
  }, sweepEveryMs);
  sweep.unref();

  return {
    server,
    get rawAccepting() {
      return raw !== null;
    },
    get connections() {
      return connections.size + (raw?.open ?? 0);
    },
    get refusedConnections() {
      return refusedConnections;
    },
    closeIdle() {
      raw?.sweep(0, Number.POSITIVE_INFINITY);
      for (const connection of connections) {
        if (connection.state === 'responding') connection.closeWhenDone = true;
        else connection.close(true);
      }
    },
    closeAll() {
      raw?.closeAll();
      for (const connection of connections) connection.close(true);
      for (const socket of tcpSockets) socket.destroy();
    },
    stop() {
      clearInterval(sweep);
    },
    setCertificate(tls) {
      if (options.tls === undefined) throw new Error('setCertificate on a server without TLS');
      (server as TlsServer).setSecureContext(tls);
    },
  };
}

/** A connection read on its handle that sent nothing for this long is served as a net.Socket from then. */
const RAW_WAIT_MS = 1000;

/**
 * A connection's first read: offered to oneShot if it is one whole GET, alone, that closes the connection
 * and that this server answers itself (not handed off); false for everything else (served as a socket,
 * which answers malformed requests as usual).
 */
function answerFirstRead(
  bytes: Buffer,
  connection: RawConnection,
  oneShot: OneShotHandler,
  owner: ServerState,
): boolean {
  if (bytes.length > owner.limits.maxHeaderSize || bytes[0] !== 71 /* G */) return false;
  const text = bytes.toString('latin1');
  const end = headEnd(text);
  if (end === null || end.next !== text.length || !text.startsWith('GET ')) return false;
  const parsed = parseHead(text.slice(0, end.head));
  if (parsed.kind !== 'request' || parsed.bodyLength > 0 || wantsKeepAlive(parsed.request)) return false;
  const request = parsed.request;
  if (owner.handsOff?.(request.method, request.url) === true) return false;
  return oneShot(request, connection.address, (status, rendered, body) => {
    const head = `${statusLine(status)}${rendered}${owner.responseFields}${dateLine()}Connection: close\r\n\r\n`;
    const response = Buffer.allocUnsafe(head.length + body.length);
    response.write(head, 0, 'latin1');
    response.set(body, head.length);
    connection.reply(response);
  });
}
type OneShotHandler = NonNullable<Http1ServerOptions['oneShot']>;

/** Open connections by client address (an IPv4-mapped IPv6 address counts as its IPv4 address). */
class AddressCounts {
  readonly #counts = new Map<string, number>();

  /** Counts one more from `address`, unless it already has `max`. */
  add(address: string, max: number): boolean {
    const key = unmapped(address);
    const count = this.#counts.get(key) ?? 0;
    if (count >= max) return false;
    this.#counts.set(key, count + 1);
    return true;
  }

  remove(address: string): void {
    const key = unmapped(address);
    const count = (this.#counts.get(key) ?? 1) - 1;
    if (count > 0) this.#counts.set(key, count);
    else this.#counts.delete(key);
  }
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** One read buffer per server: reads are handled synchronously, so every connection can share it. */
const READ_BUFFER_SIZE = 64 * 1024;

/**
 * The accepted connection as a socket whose reads land in `buffer` (net.Socket's `onread`), calling
 * `onBytes(length)` for each read; or `accepted` itself, unchanged, if that cannot be done.
 *
 * Why: by default every read allocates a 64 KiB buffer, wraps what arrived in a new Buffer and pushes it
 * through the Readable stream; under wrk's 16 KiB ranges that was ~1 us of the ~14 us of CPU per request
 * (malloc, ArrayBuffer bookkeeping, stream state). net.Socket takes `onread` but net.Server cannot pass
 * it, so the accepted socket hands its libuv handle to a new Socket built with it: `handle` is the option
 * net.Server itself uses to build accepted sockets, `_handle` the field that holds it. Both are Node
 * internals: if a Node release changes them, connections are served from `accepted`'s 'data' events
 * (slower, the same behaviour) and a test on the pinned Node fails to say so.
 */
export function adoptWithReadBuffer(accepted: Socket, buffer: Buffer, onBytes: (length: number) => void): Socket {
  const internals = accepted as unknown as { _handle?: { readStart?: unknown } | null };
  const handle = internals._handle;
  if (typeof handle?.readStart !== 'function') return accepted;
  internals._handle = null;
  // The husk has no handle left to close; destroying it settles net.Server's own connection count.
  accepted.destroy();
  const options = {
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    onread: {
      buffer,
      callback: (length: number) => {
        onBytes(length);
        return true;
      },
    },
  };
  // `handle` is not in the public type of the options.
  return new Socket(options as unknown as ConstructorParameters<typeof Socket>[0]);
}

function sweepConnections(connections: Set<Connection>, limits: Http1Limits): void {
  const now = Date.now();
  for (const connection of connections) {
    const socket = connection.socket;
    if (socket.bytesRead !== connection.seenRead || socket.bytesWritten !== connection.seenWritten) {
      connection.seenRead = socket.bytesRead;
      connection.seenWritten = socket.bytesWritten;
      connection.quietSince = now;
    }
    const quietFor = now - connection.quietSince;
    switch (connection.state) {
      case 'head':
      case 'body':
        if (connection.requestStartedAt > 0 && now - connection.requestStartedAt > limits.requestTimeoutMs) {
          connection.timedOut();
        } else if (quietFor > limits.requestTimeoutMs) {
          connection.timedOut();
        }
        break;
      case 'idle':
        if (quietFor > limits.keepAliveTimeoutMs) connection.close(true);
        break;
      case 'responding':
        if (quietFor > limits.idleTimeoutMs) connection.close(true);
        break;
      case 'closing':
        // Still flushing after end(): a client that stopped reading must not keep it forever.
        if (quietFor > limits.idleTimeoutMs) connection.close(true);
        break;
    }
  }
}
