// The controller's edge listener: src/fleet/protocol.ts over HTTP/1.1 (keep-alive), each edge's channel
// (an upgrade of one request, edge-channel.ts) for heartbeats and commands. Every route but enrolment takes
// the edge's credential; bodies are checked before the registry sees them, and a bad one is a 400 naming
// the field (counted, and warned of in a throttled log).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closeHttp, listenHttp, pathOf, readBody, readJson, sendError, sendJson } from '../admin/index.ts';
import {
  EnrolmentRefusedError,
  InvalidArgumentError,
  isEdgepeerError,
  NotFoundError,
  UnauthorizedError,
} from '../errors/index.ts';
import {
  commandEventsRequest,
  deltasRequest,
  EDGE_API,
  enrolRequest,
  heartbeatRequest,
  MAX_EDGE_BODY_BYTES,
  parseMessage,
  stateRequest,
} from '../fleet/index.ts';
import { type Logger, WarningThrottle } from '../log/index.ts';
import { type AllowList, allowListPoll } from '../peer-auth/index.ts';
import { acceptChannel, type EdgeChannel } from './edge-channel.ts';
import type { EdgeRegistry } from './edge-registry.ts';

/** A long poll is answered (empty) after this at most: below common idle timeouts of proxies. */
const MAX_POLL_MS = 25_000;
/** A .torrent upload: piece hashes of a very large object fit. */
const MAX_METAINFO_BYTES = 64 * 1024 * 1024;

export interface EdgeApi {
  listen(): Promise<string>;
  close(): Promise<void>;
}

export function createEdgeApi(options: {
  registry: EdgeRegistry;
  host: string;
  port: number;
  logger: Logger;
  /**
   * The tracker's allow-list as this controller follows it (peer-auth-url), relayed to edges with
   * `peerAuth: tracker` at EDGE_API.peerAuth; null: not relayed (404).
   */
  allowList?: AllowList | null;
}): EdgeApi {
  const { registry, logger } = options;
  // Edges (or whoever reaches the listener) can send a bad message per request: the log stays bounded.
  const remoteWarnings = new WarningThrottle(logger);
  function noteRefused(err: unknown, path: string | undefined, from: string | undefined): void {
    if (err instanceof InvalidArgumentError) {
      registry.noteBadMessage();
      remoteWarnings.warn('bad message', { path, from, err: err.message }, 'edge API: a message was refused');
    } else if (err instanceof UnauthorizedError || err instanceof EnrolmentRefusedError) {
      remoteWarnings.warn('refused', { path, from, err: err.message }, 'edge API: a call was refused');
    }
  }
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const path = req.url?.split('?')[0];
      if (!isEdgepeerError(err)) logger.error({ method: req.method, path, err }, 'edge API: request failed');
      else noteRefused(err, path, req.socket.remoteAddress);
      sendError(res, err);
    });
  });
  const channels = new Set<EdgeChannel>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const path = pathOf(req.url);
    const channelOptions = {
      registry,
      onRefused: (err: unknown, from: string | undefined) => noteRefused(err, path, from),
      onFailure: (err: unknown) => logger.error({ path, err }, 'edge API: a channel failed'),
    };
    if (path !== EDGE_API.channel) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    acceptChannel(req, socket, head, channelOptions).then(
      (channel) => {
        if (channel === undefined) return;
        channels.add(channel);
        socket.once('close', () => channels.delete(channel));
      },
      (err: unknown) => {
        channelOptions.onFailure(err);
        socket.destroy();
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 65_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { ok: true });
    if (req.method === 'POST' && path === EDGE_API.enrol) {
      const request = parseMessage(enrolRequest, await readJson(req), 'enrolment');
      return sendJson(res, 200, await registry.enrol(request));
    }
    const edge = await registry.authenticate(req.headers.authorization);
    if (req.method === 'POST' && path === EDGE_API.heartbeat) {
      const request = parseMessage(heartbeatRequest, await readJson(req), 'heartbeat');
      return sendJson(res, 200, await registry.heartbeat(edge, request));
    }
    if (req.method === 'PUT' && path === EDGE_API.state) {
      const request = parseMessage(stateRequest, await readJson(req, MAX_EDGE_BODY_BYTES), 'state');
      return sendJson(res, 200, await registry.state(edge, request));
    }
    if (req.method === 'POST' && path === EDGE_API.deltas) {
      const request = parseMessage(deltasRequest, await readJson(req, MAX_EDGE_BODY_BYTES), 'deltas');
      return sendJson(res, 200, await registry.deltas(edge, request));
    }
    if (req.method === 'PUT' && path.startsWith(EDGE_API.metainfo)) {
      const infoHash = path.slice(EDGE_API.metainfo.length);
      await registry.metainfo(edge, infoHash, await readBody(req, MAX_METAINFO_BYTES));
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && path === EDGE_API.commands) {
      const asked = Number(new URL(req.url ?? '/', 'http://edge').searchParams.get('waitMs') ?? MAX_POLL_MS);
      const waitMs = Number.isFinite(asked) ? Math.max(0, Math.min(MAX_POLL_MS, asked)) : MAX_POLL_MS;
      const hungUp = new AbortController();
      // 'close' follows a normal answer too: only an edge that hung up first aborts the poll.
      res.on('close', () => {
        if (!res.writableFinished) hungUp.abort();
      });
      return sendJson(res, 200, { commands: await registry.poll(edge.id, waitMs, hungUp.signal) });
    }
    if (req.method === 'GET' && path === EDGE_API.peerAuth) return relayAllowList(req, res);
    const events = /^\/v1\/edge\/commands\/([^/]{1,64})\/events$/.exec(path);
    if (req.method === 'POST' && events !== null) {
      const request = parseMessage(commandEventsRequest, await readJson(req, MAX_EDGE_BODY_BYTES), 'command events');
      registry.report(edge, events[1] as string, request.events);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && path === EDGE_API.leave) {
      await registry.leave(edge);
      res.writeHead(204).end();
      return;
    }
    throw new NotFoundError(`no route ${req.method} ${path.slice(0, 200)}`);
  }

  /** The allow-list as the tracker answers it: at once, or with `since` a long poll until another version. */
  async function relayAllowList(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const list = options.allowList ?? null;
    if (list === null) {
      throw new NotFoundError('this controller relays no allow-list: start it with --peer-auth-url (docs/auth.md)');
    }
    const { since, waitMs } = allowListPoll(new URL(req.url ?? '/', 'http://edge').searchParams);
    if (since !== null) {
      const hungUp = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) hungUp.abort();
      });
      await list.wait(since, waitMs, hungUp.signal);
      if (hungUp.signal.aborted) return;
    }
    sendJson(res, 200, list.snapshot());
  }

  return {
    listen: async () => {
      const { url } = await listenHttp(server, 'edge API', options.host, options.port);
      logger.info({ url }, 'edge API: listening');
      return url;
    },
    close: async () => {
      // Upgraded sockets are no longer the HTTP server's: an edge reconnects to whichever controller is up.
      for (const channel of channels) channel.close();
      await closeHttp(server);
    },
  };
}
