// The reference tracker, `edgepeer tracker`: HTTP and UDP on one port. Standard announces and scrapes, the
// bitmap extension, the multi-object announce, and swarm statistics as JSON, on demand, by long poll or as
// a Server-Sent Events stream. Exported for the agent and the demo through createTracker.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server as NodeHttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { fromListenError, InvalidArgumentError, StateUnreachableError } from '../../errors/index.ts';
import {
  createHttp1Server,
  type Http1Request,
  type Http1Response,
  type Http1Server,
  type OneShotReply,
  renderFields,
} from '../../http/index.ts';
import { type Logger, silentLogger } from '../../log/index.ts';
import { normalizeIp } from '../protocol/compact.ts';
import { parseQuery, QueryError } from '../protocol/query.ts';
import { errorResponse } from '../protocol/udp.ts';
import { failureAnswer, scrapeAnswer, sendJson } from './answers.ts';
import { BATCH_PATH, STATS_PATH, TrackerCore, type TrackerCoreOptions } from './core.ts';
import { Invitations } from './invitations.ts';
import { ALLOWED_PATH, TrackerPeerAuth } from './peer-auth.ts';
import type { SwarmStats, SwarmStore } from './swarm-store.ts';

export interface TrackerOptions extends TrackerCoreOptions {
  /** TCP and UDP port; 0 picks a free one (the same number for both). Default 0. */
  port?: number;
  /** Address to listen on. Default '::' (IPv4 and IPv6), falling back to 0.0.0.0 without IPv6. */
  host?: string;
  /**
   * Invite storage control into swarms whose rarest piece has fewer copies than this while leechers want
   * it (GET /invitations, docs/tracker.md). Default: off.
   */
  inviteBelow?: number;
  /** Least time between two events of one statistics stream, ms. Default 250. */
  statsThrottleMs?: number;
  /**
   * A request's line and fields must arrive within this, ms, on either HTTP layer (408 and closed beyond;
   * node:http's headersTimeout for connections handed to it, whose whole request, body included, gets 3x).
   * Default 10,000.
   */
  requestTimeoutMs?: number;
  /** Serve UDP (BEP 15) too. Default true. */
  udp?: boolean;
  /**
   * Answer announces and scrapes that come one per connection (`Connection: close`, as BitTorrent
   * clients send them) on the connection's libuv handle, without a net.Socket (src/http/raw-accept.ts):
   * the same answers at about half the CPU per connection. Falls back to node:net where this Node's
   * internals differ. Default true.
   */
  rawAccept?: boolean;
  /** Where a request or datagram that failed unexpectedly (a bug) is logged. Default: nowhere. */
  logger?: Logger;
  /**
   * Answers requests under /dashboard (the operator's pages, src/dashboard, behind the admin token);
   * resolves true when it answered. None: /dashboard is not found.
   */
  pages?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  /**
   * Passkeys and the allow-list (peer-auth.ts, docs/auth.md): announces need a known passkey, the
   * multi-object announce and UDP are off, and GET /peer-auth/allowed serves the allow-list. None: open.
   */
  peerAuth?: TrackerPeerAuth;
}

export interface TrackerAddress {
  host: string;
  port: number;
  announceUrl: string;
  udpAnnounceUrl: string | null;
  scrapeUrl: string;
  statsUrl: string;
}

export interface Tracker {
  listen(): Promise<TrackerAddress>;
  close(): Promise<void>;
  address(): TrackerAddress | undefined;
  readonly swarms: SwarmStore;
}

const INVITATIONS_PATH = '/invitations';
/** Connections open at once (node:http's maxConnections before): per address too, as clients share NATs. */
const MAX_CONNECTIONS = 10_000;
/** Idle time after which a connection handed to node:http is closed: above the longest long poll (60 s). */
const HANDED_OFF_IDLE_MS = 120_000;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024;
const MAX_LONG_POLL_S = 60;
const HEARTBEAT_MS = 15_000;
const MAX_STATS_PEERS = 1000;
const INFO_HASH_HEX = /^[0-9a-fA-F]{40}$/;
/** The failure reason while the shared state (Redis) cannot be reached; clients retry at their next interval. */
const STATE_UNAVAILABLE_REASON = 'tracker state temporarily unavailable: try again later';

export function createTracker(options: TrackerOptions = {}): Tracker {
  return new ReferenceTracker(options);
}

class ReferenceTracker implements Tracker {
  readonly swarms: SwarmStore;
  readonly #options: TrackerOptions;
  readonly #core: TrackerCore;
  readonly #openStreams = new Set<ServerResponse>();
  /** The listener: announces and scrapes on the project's HTTP/1.1 layer, the rest handed to #nodeHttp. */
  #http: Server | undefined;
  #fast: Http1Server | undefined;
  /** node:http for the routes that need it (bodies, Server-Sent Events, pages); it never listens itself. */
  #nodeHttp: NodeHttpServer | undefined;
  #socket: Socket | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #address: TrackerAddress | undefined;
  /** Requests and datagrams whose handling failed unexpectedly: logged, answered 500 or not at all. */
  #internalErrors = 0;
  /** This instance ran the last expiry sweep (with a shared store, one instance at a time does). */
  #sweeping = false;
  /** Requests answered with a failure because the shared state was unreachable. */
  #stateFailures = 0;
  readonly #invitations: Invitations | null;
  readonly #closing = new AbortController();

  constructor(options: TrackerOptions) {
    this.#options = options;
    // With passkeys, no multi-object announce offer: its body carries no passkey per object.
    this.#core = new TrackerCore(options.peerAuth === undefined ? options : { ...options, extension: false });
    this.swarms = this.#core.swarms;
    const below = options.inviteBelow;
    if (below !== undefined && !(Number.isInteger(below) && below >= 1)) {
      throw new InvalidArgumentError(`tracker option inviteBelow must be a whole number >= 1, got ${below}`);
    }
    this.#invitations = below === undefined ? null : new Invitations(below, this.swarms, this.#core.now);
  }

  address(): TrackerAddress | undefined {
    return this.#address;
  }

  async listen(): Promise<TrackerAddress> {
    if (this.#address !== undefined) return this.#address;
    const requestedPort = this.#options.port ?? 0;
    if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
      throw new InvalidArgumentError(`tracker port must be 0-65535, got ${requestedPort}`);
    }
    let host = this.#options.host ?? '::';
    // With port 0 the UDP socket takes the number TCP got; if another program holds it on UDP, try again.
    for (let attempt = 0; ; attempt++) {
      const http = this.#createServers();
      try {
        host = await listenHttp(http, requestedPort, host, this.#options.host === undefined);
      } catch (err) {
        await this.#closeServers(http);
        throw listenError(err, host, requestedPort);
      }
      const port = (http.address() as AddressInfo).port;
      // UDP announces carry no passkey: with passkeys, HTTP only.
      if (this.#options.udp === false || this.#options.peerAuth !== undefined) {
        this.#http = http;
        break;
      }
      try {
        this.#socket = await this.#bindUdp(host, port);
        this.#http = http;
        break;
      } catch (err) {
        await this.#closeServers(http);
        if (requestedPort !== 0 || attempt >= 10) throw listenError(err, host, port);
      }
    }
    const port = (this.#http.address() as AddressInfo).port;
    this.#sweeper = setInterval(() => void this.#sweep(), this.#core.sweepIntervalMs);
    this.#sweeper.unref();
    const urlHost = announceHost(host);
    const base = `http://${urlHost}:${port}`;
    this.#address = {
      host,
      port,
      announceUrl: `${base}/announce`,
      udpAnnounceUrl: this.#socket === undefined ? null : `udp://${urlHost}:${port}/announce`,
      scrapeUrl: `${base}/scrape`,
      statsUrl: `${base}${STATS_PATH}`,
    };
    return this.#address;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#closing.abort();
    this.#invitations?.close();
    this.#options.peerAuth?.close();
    for (const stream of this.#openStreams) stream.destroy();
    this.#openStreams.clear();
    const http = this.#http;
    const socket = this.#socket;
    this.#http = undefined;
    this.#socket = undefined;
    this.#address = undefined;
    if (http !== undefined) await this.#closeServers(http);
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  async #sweep(): Promise<void> {
    try {
      const changed = await this.#core.sweep();
      this.#sweeping = changed !== null;
    } catch {
      // A failing shared store must not stop the tracker; the next sweep tries again.
      this.#sweeping = false;
    }
  }

  /**
   * The HTTP/1.1 layer the range server uses (src/http), which costs far less per request than node:http,
   * answers announces and scrapes: nearly all of a tracker's requests. Any other request line hands its
   * connection over to node:http and the handlers below (#route), which keep every route's behaviour.
   */
  #createServers(): Server {
    const requestTimeoutMs = this.#options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    const nodeHttp = this.#createNodeHttpServer(requestTimeoutMs);
    const fast = createHttp1Server({
      limits: {
        maxHeaderSize: 16 * 1024,
        requestTimeoutMs,
        keepAliveTimeoutMs: 30_000,
        idleTimeoutMs: 30_000,
        maxRequestsPerSocket: 0,
        maxConnections: MAX_CONNECTIONS,
        maxConnectionsPerIp: MAX_CONNECTIONS,
      },
      onRequest: (request, response) => this.#fastRoute(request, response),
      handOff: (_method, target) => !isFastPath(target, this.#options.peerAuth !== undefined),
      ...(this.#options.rawAccept === false
        ? {}
        : {
            oneShot: (request: Http1Request, remote: string, reply: OneShotReply) =>
              this.#oneShot(request, remote, reply),
          }),
      onHandOff: (socket, unread) => {
        socket.unshift(unread);
        nodeHttp.emit('connection', socket);
        socket.resume();
      },
    });
    this.#fast = fast;
    this.#nodeHttp = nodeHttp;
    return fast.server;
  }

  async #closeServers(server: Server): Promise<void> {
    const fast = this.#fast;
    const nodeHttp = this.#nodeHttp;
    this.#fast = undefined;
    this.#nodeHttp = undefined;
    // Handed-off connections are the fast layer's too (it counts them until they close): closeAll ends them.
    fast?.closeAll();
    nodeHttp?.closeAllConnections();
    // It never listened: close() only stops its timeout checks (and calls back with ERR_SERVER_NOT_RUNNING).
    nodeHttp?.close(() => undefined);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fast?.stop();
  }

  /**
   * Announce and scrape on the HTTP/1.1 layer (with passkeys, `/<passkey>/announce` and `/<passkey>/scrape`
   * too): the same answers as #announce and #scrape.
   */
  #fastRoute(request: Http1Request, response: Http1Response): void {
    this.#fastAnswer(request, response.remoteAddress, (body, status) => {
      if (status === 500 && response.headersSent) response.destroy();
      else sendBencodedFast(response, body, status);
    });
  }

  /** #fastRoute for a request answered on its connection's handle (one per connection). */
  #oneShot(request: Http1Request, remoteAddress: string, reply: OneShotReply): boolean {
    this.#fastAnswer(request, remoteAddress, (body, status) =>
      reply(status, `${BENCODED_HEAD}Content-Length: ${body.length}\r\n`, body),
    );
    return true;
  }

  /** The answer to an announce or scrape on the HTTP/1.1 layer, handed to `send` (bencoded body, status). */
  #fastAnswer(request: Http1Request, remote: string, send: (body: Buffer, status: number) => void): void {
    const url = request.url;
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const query = queryAt < 0 ? '' : url.slice(queryAt + 1);
    const keyed = this.#options.peerAuth === undefined ? null : TrackerPeerAuth.passkeyPath(path);
    const action = keyed?.action ?? (path === '/announce' ? 'announce' : 'scrape');
    let answer: Promise<Buffer>;
    if (request.method !== 'GET') {
      send(failureAnswer(`${action} must be a GET request`), 405);
      return;
    }
    try {
      answer =
        action === 'announce'
          ? this.#announceAnswer(query, remote, keyed?.passkey)
          : this.#scrapeAnswerFor(query, remote, keyed?.passkey);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (body) => send(body, 200),
      (err: unknown) => {
        if (err instanceof StateUnreachableError) {
          this.#stateFailures += 1;
          return send(failureAnswer(STATE_UNAVAILABLE_REASON, 1), 200);
        }
        this.#internalErrors += 1;
        (this.#options.logger ?? silentLogger).error(
          { err, method: request.method, path: loggedPath(path) },
          'tracker: request failed',
        );
        send(failureAnswer('internal error'), 500);
      },
    );
  }

  #createNodeHttpServer(requestTimeoutMs: number): NodeHttpServer {
    const server = createServer(
      {
        headersTimeout: requestTimeoutMs,
        requestTimeout: requestTimeoutMs * 3,
        // How often those are checked: the default (30 s) would let a slow client hold on for 40 s.
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeoutMs / 4))),
        keepAliveTimeout: 30_000,
        maxHeaderSize: 16 * 1024,
      },
      (req, res) => {
        this.#route(req, res).catch((err: unknown) => {
          if (err instanceof StateUnreachableError) return this.#stateUnreachable(req, res, err);
          // A bug: it costs this request, never the process; the details go to the log, not to the client.
          this.#internalErrors += 1;
          const path = loggedPath(req.url?.split('?')[0] ?? '/');
          (this.#options.logger ?? silentLogger).error({ err, method: req.method, path }, 'tracker: request failed');
          if (!res.headersSent) sendBencoded(res, failureAnswer('internal error'), 500);
          else res.destroy();
        });
      },
    );
    // Idle connections (no request under way) end after this.
    server.timeout = HANDED_OFF_IDLE_MS;
    // It never listens, and node:http checks headersTimeout and requestTimeout only once its server is
    // listening (on 'listening' it starts tracking connections): without this, a client handed over that
    // then trickles a request head is cut only by the idle timeout.
    server.emit('listening');
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return void socket.destroy();
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    return server;
  }

  /** The shared state is away: bencoded paths get a failure reason (clients retry), statistics a 503. */
  #stateUnreachable(req: IncomingMessage, res: ServerResponse, err: StateUnreachableError): void {
    this.#stateFailures += 1;
    const path = req.url?.split('?')[0] ?? '/';
    if (res.headersSent) res.destroy();
    else if (path.startsWith(STATS_PATH)) sendJson(res, { error: err.message, code: err.code }, 503);
    else sendBencoded(res, failureAnswer(STATE_UNAVAILABLE_REASON, 1));
  }

  async #bindUdp(host: string, port: number): Promise<Socket> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    const bound = once(socket, 'listening');
    const failed = once(socket, 'error').then(([err]) => {
      throw err;
    });
    socket.bind(port, host);
    try {
      await Promise.race([bound, failed]);
    } catch (err) {
      socket.close();
      throw err;
    }
    failed.catch(() => undefined);
    socket.on('error', () => undefined);
    socket.on('message', (packet, remote) => {
      this.#core.udp.handle(packet, normalizeIp(remote.address), remote.port).then(
        (answer) => {
          if (answer !== undefined) socket.send(answer, remote.port, remote.address);
        },
        (err: unknown) => {
          if (err instanceof StateUnreachableError) {
            this.#stateFailures += 1;
            const transactionId = packet.length >= 16 ? packet.readUInt32BE(12) : 0;
            socket.send(
              errorResponse(transactionId, STATE_UNAVAILABLE_REASON, packet.length),
              remote.port,
              remote.address,
            );
            return;
          }
          // Unanswered: an answer would tell a stranger about the failure and may be larger than the request.
          this.#internalErrors += 1;
          (this.#options.logger ?? silentLogger).error(
            { err, from: `${remote.address}:${remote.port}`, bytes: packet.length },
            'tracker: UDP datagram failed',
          );
        },
      );
    });
    return socket;
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const query = queryAt < 0 ? '' : url.slice(queryAt + 1);
    if (path === '/announce') return this.#announce(req, res, query);
    const peerAuth = this.#options.peerAuth;
    if (peerAuth !== undefined) {
      const keyed = TrackerPeerAuth.passkeyPath(path);
      if (keyed?.action === 'announce') return this.#announce(req, res, query, keyed.passkey);
      if (keyed?.action === 'scrape') return this.#scrape(req, res, query, keyed.passkey);
      if (path === ALLOWED_PATH) return peerAuth.allowed(req, res, query, this.#closing.signal);
      if (path === BATCH_PATH)
        return sendBencoded(res, failureAnswer('this tracker needs a passkey per announce'), 403);
    }
    if (path === BATCH_PATH) return this.#batch(req, res);
    if (path === '/scrape') return this.#scrape(req, res, query);
    if (path === STATS_PATH || path === `${STATS_PATH}/`) return this.#statsList(req, res, query);
    if (path.startsWith(`${STATS_PATH}/`)) return this.#stats(req, res, path.slice(STATS_PATH.length + 1), query);
    if (path === INVITATIONS_PATH) return this.#invitationList(req, res, query);
    if (path === '/metrics' && this.#core.locality !== null) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.#core.locality.metricsText());
      return;
    }
    if ((path === '/dashboard' || path.startsWith('/dashboard/')) && (await this.#options.pages?.(req, res))) return;
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('edgepeer tracker: announce at /announce (HTTP and UDP), scrape at /scrape, statistics at /stats\n');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  }

  async #announce(req: IncomingMessage, res: ServerResponse, query: string, passkey?: string): Promise<void> {
    if (req.method !== 'GET') return sendBencoded(res, failureAnswer('announce must be a GET request'), 405);
    const remote = req.socket.remoteAddress;
    if (remote === undefined) return void res.destroy();
    sendBencoded(res, await this.#announceAnswer(query, remote, passkey));
  }

  /** The answer to an announce; with passkeys, a failure unless its passkey (path, else query) is known. */
  #announceAnswer(query: string, remote: string, passkey: string | undefined): Promise<Buffer> {
    const peerAuth = this.#options.peerAuth;
    if (peerAuth === undefined) return this.#core.announce(query, remote);
    return this.#authorisedAnnounce(peerAuth, query, remote, passkey);
  }

  async #authorisedAnnounce(
    peerAuth: TrackerPeerAuth,
    query: string,
    remote: string,
    passkey: string | undefined,
  ): Promise<Buffer> {
    const subscriber = await peerAuth.subscriberOf(passkey, query, remote);
    if (typeof subscriber !== 'string') return subscriber;
    const answer = await this.#core.announce(query, remote);
    peerAuth.answered(answer, query, remote, subscriber);
    return answer;
  }

  /** The multi-object announce (docs/tracker.md): a bencoded POST carrying many objects of one peer. */
  async #batch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return sendBencoded(res, failureAnswer('the multi-object announce must be a POST'), 405);
    const remote = req.socket.remoteAddress;
    if (remote === undefined) return void res.destroy();
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BATCH_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLarge) return sendBencoded(res, failureAnswer(err.message), 413);
      throw err;
    }
    sendBencoded(res, await this.#core.batch(body, remote));
  }

  async #scrape(req: IncomingMessage, res: ServerResponse, query: string, passkey?: string): Promise<void> {
    if (req.method !== 'GET') return sendBencoded(res, failureAnswer('scrape must be a GET request'), 405);
    sendBencoded(res, await this.#scrapeAnswerFor(query, req.socket.remoteAddress ?? '', passkey));
  }

  /** The answer to a scrape; with passkeys, a failure unless its passkey is known. */
  async #scrapeAnswerFor(query: string, remote: string, passkey: string | undefined): Promise<Buffer> {
    if (this.#options.peerAuth !== undefined) {
      const subscriber = await this.#options.peerAuth.subscriberOf(passkey, query, remote);
      if (typeof subscriber !== 'string') return subscriber;
    }
    return this.#scrapeAnswer(query);
  }

  async #scrapeAnswer(query: string): Promise<Buffer> {
    let hashes: string[] | undefined;
    try {
      const values = parseQuery(query, 1000).get('info_hash');
      if (values !== undefined) {
        const bad = values.find((value) => value.length !== 20);
        if (bad !== undefined) return failureAnswer(`info_hash must be 20 bytes, got ${bad.length}`);
        hashes = values.map((value) => value.toString('hex'));
      }
    } catch (err) {
      if (err instanceof QueryError) return failureAnswer(err.message);
      throw err;
    }
    return scrapeAnswer(await this.swarms.scrape(hashes, 1000));
  }

  async #statsList(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    if (req.method !== 'GET') return sendJson(res, { error: 'statistics are read with GET' }, 405);
    const limit = clampInt(new URLSearchParams(query).get('limit'), 1000, 1, 100_000);
    const [swarms, counts] = await Promise.all([this.swarms.list(limit), this.swarms.counts()]);
    sendJson(res, {
      swarmCount: counts.swarms,
      peerCount: counts.peers,
      bitmapBytes: counts.bitmapBytes,
      evictedSwarms: counts.evictedSwarms,
      internalErrors: this.#internalErrors,
      stateFailures: this.#stateFailures,
      sweeping: this.#sweeping,
      followers: this.#core.feed.followers,
      ...(this.#core.locality === null ? {} : { topology: this.#core.locality.status() }),
      swarms,
    });
  }

  /** GET /invitations[?since=V&wait=S]: the swarms in need (long poll as /stats); 404 when not configured. */
  async #invitationList(req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
    if (req.method !== 'GET') return sendJson(res, { error: 'invitations are read with GET' }, 405);
    const invitations = this.#invitations;
    if (invitations === null) {
      return sendJson(res, { error: 'this tracker sends no invitations (edgepeer tracker --invite-below N)' }, 404);
    }
    const params = new URLSearchParams(query);
    const since = Number(params.get('since') ?? Number.NaN);
    if (Number.isInteger(since)) {
      const waitMs = clampInt(params.get('wait'), 30, 0, MAX_LONG_POLL_S) * 1000;
      const gone = new AbortController();
      const onClose = (): void => gone.abort();
      req.socket.once('close', onClose);
      await invitations.wait(since, waitMs, AbortSignal.any([gone.signal, this.#closing.signal]));
      req.socket.off('close', onClose);
      if (gone.signal.aborted) return;
    }
    sendJson(res, invitations.list());
  }

  /** A swarm's statistics; with network maps, its peers counted by PID too (where the demand is). */
  #swarmStats(infoHash: string, maxPeers: number): Promise<SwarmStats> {
    const topology = this.#core.locality?.topology;
    if (topology === undefined) return this.swarms.stats(infoHash, maxPeers);
    return this.swarms.stats(infoHash, maxPeers, (compact) => topology.pidOfCompact(compact));
  }

  /** GET /stats/<info hash>[?since=V&wait=S&peers=N] and GET /stats/<info hash>/events (Server-Sent Events). */
  async #stats(req: IncomingMessage, res: ServerResponse, rest: string, query: string): Promise<void> {
    if (req.method !== 'GET') return sendJson(res, { error: 'statistics are read with GET' }, 405);
    const [hash = '', tail, ...more] = rest.split('/');
    if (!INFO_HASH_HEX.test(hash) || more.length > 0 || (tail !== undefined && tail !== 'events')) {
      return sendJson(res, { error: 'expected /stats/<40 hex info hash>[/events]' }, 400);
    }
    const infoHash = hash.toLowerCase();
    const params = new URLSearchParams(query);
    const maxPeers = clampInt(params.get('peers'), 100, 0, MAX_STATS_PEERS);
    if (tail === 'events') return this.#statsStream(req, res, infoHash, maxPeers);
    const since = params.get('since');
    const current = await this.#swarmStats(infoHash, maxPeers);
    if (since === null || String(current.version) !== since) return sendJson(res, current);
    // Long poll: answer when the version moves away from `since`, or after `wait` seconds with the same.
    const waitMs = clampInt(params.get('wait'), 30, 0, MAX_LONG_POLL_S) * 1000;
    const changed = await this.#waitForChange(req, infoHash, waitMs);
    if (changed === 'refused') return sendJson(res, { error: 'too many statistics followers' }, 503);
    if (changed === 'gone') return;
    sendJson(res, await this.#swarmStats(infoHash, maxPeers));
  }

  #waitForChange(
    req: IncomingMessage,
    infoHash: string,
    waitMs: number,
  ): Promise<'changed' | 'timeout' | 'refused' | 'gone'> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (result: 'changed' | 'timeout' | 'gone'): void => {
        clearTimeout(timer);
        unfollow?.();
        req.socket.off('close', onClose);
        resolve(result);
      };
      const onClose = (): void => finish('gone');
      const unfollow = this.#core.feed.follow(infoHash, () => finish('changed'));
      if (unfollow === undefined) return resolve('refused');
      timer = setTimeout(() => finish('timeout'), waitMs);
      req.socket.on('close', onClose);
    });
  }

  #statsStream(req: IncomingMessage, res: ServerResponse, infoHash: string, maxPeers: number): void {
    const throttleMs = this.#options.statsThrottleMs ?? 250;
    let sentVersion = -1;
    let lastSentAt = 0;
    let pending: NodeJS.Timeout | undefined;
    let sending = false;
    let closed = false;
    const send = async (): Promise<void> => {
      pending = undefined;
      if (closed || sending) return;
      sending = true;
      try {
        const stats = await this.#swarmStats(infoHash, maxPeers);
        if (closed || stats.version === sentVersion) return;
        sentVersion = stats.version;
        lastSentAt = Date.now();
        // A slow reader gets the newest state once it drains, never a backlog.
        const flushed = res.write(`id: ${stats.version}\nevent: stats\ndata: ${JSON.stringify(stats)}\n\n`);
        if (!flushed) await once(res, 'drain');
      } catch {
        res.destroy();
      } finally {
        sending = false;
      }
    };
    const schedule = (): void => {
      if (pending !== undefined || closed) return;
      pending = setTimeout(() => void send(), Math.max(0, lastSentAt + throttleMs - Date.now()));
    };
    const unfollow = this.#core.feed.follow(infoHash, schedule);
    if (unfollow === undefined) {
      sendJson(res, { error: 'too many statistics followers' }, 503);
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    this.#openStreams.add(res);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const close = (): void => {
      closed = true;
      clearTimeout(pending);
      clearInterval(heartbeat);
      unfollow();
      this.#openStreams.delete(res);
    };
    req.socket.on('close', close);
    res.on('close', close);
    void send();
  }
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new BodyTooLarge(`body larger than ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > maxBytes) throw new BodyTooLarge(`body larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function sendBencoded(res: ServerResponse, body: Buffer, status = 200): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
}

const BENCODED_FIELDS = ['Content-Type', 'text/plain'];
const BENCODED_HEAD = renderFields(BENCODED_FIELDS);

function sendBencodedFast(res: Http1Response, body: Buffer, status = 200): void {
  if (res.destroyed) return;
  res.writeHead(status, BENCODED_FIELDS, `Content-Length: ${body.length}\r\n`);
  res.end(body);
}

/**
 * Announces and scrapes (origin-form targets), with passkeys also `/<passkey>/announce` and
 * `/<passkey>/scrape`: the requests the HTTP/1.1 layer answers itself.
 */
function isFastPath(target: string, passkeys: boolean): boolean {
  const end = target.indexOf('?');
  const path = end < 0 ? target : target.slice(0, end);
  return path === '/announce' || path === '/scrape' || (passkeys && TrackerPeerAuth.passkeyPath(path) !== null);
}

/** A request path as logged: a passkey in it is not (docs/auth.md). */
function loggedPath(path: string): string {
  const keyed = TrackerPeerAuth.passkeyPath(path);
  return keyed === null ? path : `/<passkey>/${keyed.action}`;
}

function clampInt(text: string | null, fallback: number, min: number, max: number): number {
  const value = text === null ? Number.NaN : Number(text);
  if (!Number.isInteger(value)) return fallback;
  return Math.min(Math.max(value, min), max);
}

/** Listens; with the default host, falls back from '::' to 0.0.0.0 on machines without IPv6. Returns the host used. */
async function listenHttp(server: Server, port: number, host: string, mayFallBack: boolean): Promise<string> {
  try {
    await listenOnce(server, port, host);
    return host;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!mayFallBack || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw err;
    await listenOnce(server, port, '0.0.0.0');
    return '0.0.0.0';
  }
}

function listenOnce(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function listenError(err: unknown, host: string, port: number): Error {
  return fromListenError(err, 'tracker', host, port);
}

/** The host to put in announce URLs: wildcard addresses become loopback, IPv6 literals get brackets. */
function announceHost(host: string): string {
  if (host === '::' || host === '0.0.0.0') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
