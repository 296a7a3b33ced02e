import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BlockList } from 'node:net';
import { isEdgepeerError, NotFoundError, UnauthorizedError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import type { BulkIngestRequest } from './ingest-many.ts';
import { closeHttp, listenHttp, pathOf, readJson, sendError, sendJson, toErrorJson } from './json-http.ts';
import type { StoreOperations } from './operations.ts';
import { ingestRequest, objectId, purgeRequest } from './requests.ts';

/** What the admin API serves: a store's operations (the agent), or the controller's over its edges. */
export type ServedOperations = Pick<StoreOperations, 'ingest' | 'purge' | 'list' | 'show' | 'torrent'>;

/**
 * More routes, tried after the token is checked and before the operations' own (the controller's edges and
 * tokens). Resolves true when it answered the request.
 */
export type AdminRoutes = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

export interface AdminServerOptions {
  operations: ServedOperations;
  routes?: AdminRoutes;
  /**
   * Routes with their own authentication, tried before the bearer token is checked (the dashboard: a
   * login page and a session cookie). Resolves true when it answered the request.
   */
  pages?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  token: string;
  /** Loopback by default: the admin API is for this machine. */
  host: string;
  port: number;
  status: () => unknown;
  /** Prometheus text exposition, if metrics are on. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** /metrics needs the bearer token too (default false: open, as /healthz). */
  metricsToken?: boolean;
  /** Told when the API listens beyond loopback. */
  logger?: Logger;
}

export interface AdminServer {
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The agent's local control API (JSON over HTTP, bearer token). Routes:
 *   GET /healthz, GET /metrics (no token)
 *   GET /v1/status, GET /v1/objects, GET /v1/objects/:id, GET /v1/objects/:id/torrent
 *   POST /v1/ingest (NDJSON stream of progress and results), POST /v1/purge
 *   and whatever `pages` answers (the agent's dashboard under /dashboard, with its own session cookie)
 */
export function createAdminServer(options: AdminServerOptions): AdminServer {
  const expected = Buffer.from(`Bearer ${options.token}`);
  const logger = options.logger ?? silentLogger;
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      // A failure not raised on purpose is a bug: the client gets EDGEPEER_INTERNAL, the log the details.
      if (!isEdgepeerError(err)) {
        logger.error({ method: req.method, path: req.url?.split('?')[0], err }, 'admin: request failed');
      }
      sendError(res, err);
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // an ingest may stream results for hours

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { ok: true });
    const metricsAsked = req.method === 'GET' && path === '/metrics' && options.metrics !== undefined;
    if (metricsAsked && (options.metricsToken !== true || authorized(req.headers.authorization))) {
      const { contentType, body } = await (options.metrics as NonNullable<AdminServerOptions['metrics']>)();
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return;
    }
    if (options.pages !== undefined && (await options.pages(req, res))) return;
    if (!authorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="edgepeer"');
      throw new UnauthorizedError('missing or wrong bearer token');
    }
    if (options.routes !== undefined && (await options.routes(req, res, path))) return;
    const ops = options.operations;
    const objectRoute = /^\/v1\/objects\/([^/]+)(\/torrent)?$/.exec(path);
    if (req.method === 'GET' && path === '/v1/status') return sendJson(res, 200, options.status());
    if (req.method === 'GET' && path === '/v1/objects') return sendJson(res, 200, await ops.list());
    if (req.method === 'GET' && objectRoute) {
      const id = objectId(objectRoute[1] as string);
      if (!objectRoute[2]) return sendJson(res, 200, await ops.show(id));
      const torrent = await ops.torrent(id);
      res.writeHead(200, {
        'content-type': 'application/x-bittorrent',
        'x-edgepeer-info-hash': torrent.infoHash,
        'x-edgepeer-name': encodeURIComponent(torrent.name),
      });
      res.end(torrent.data);
      return;
    }
    if (req.method === 'POST' && path === '/v1/purge') {
      const request = purgeRequest(await readJson(req));
      const results = await ops.purge(request);
      logger.info(
        { ids: request.ids.slice(0, 20), pieces: request.pieces?.length, results: countBy(results, (r) => r.status) },
        'admin: purge',
      );
      return sendJson(res, 200, results);
    }
    if (req.method === 'POST' && path === '/v1/ingest') return streamIngest(res, ingestRequest(await readJson(req)));
    throw new NotFoundError(`no route ${req.method} ${path.slice(0, 200)}`);
  }

  async function streamIngest(res: ServerResponse, request: BulkIngestRequest): Promise<void> {
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const line = (value: object) => res.write(`${JSON.stringify(value)}\n`);
    let lastProgress = 0;
    const statuses: string[] = [];
    const started = Date.now();
    try {
      await options.operations.ingest(
        request,
        (result) => {
          statuses.push(result.status);
          line({ type: 'result', result });
        },
        (progress) => {
          // Progress at most 5 times a second: it is for a person watching a bar.
          const now = Date.now();
          if (now - lastProgress < 200) return;
          lastProgress = now;
          line({ type: 'progress', ...progress });
        },
        aborted.signal,
      );
    } catch (err) {
      line({ type: 'error', error: toErrorJson(err) });
    }
    res.end();
    logger.info(
      { sources: request.sources.length, results: countBy(statuses, (status) => status), ms: Date.now() - started },
      'admin: ingest',
    );
  }

  function authorized(header: string | undefined): boolean {
    if (!header) return false;
    const given = Buffer.from(header);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  return {
    async listen() {
      const { url, address } = await listenHttp(server, 'admin API', options.host, options.port);
      logger.info({ url }, 'admin API: listening');
      if (!isLoopback(address.address)) {
        logger.warn(
          { address: address.address, port: address.port },
          'admin API listens beyond loopback: whoever reaches it with the token controls the store (admin.host)',
        );
      }
      return url;
    },
    close: () => closeHttp(server),
  };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for 127.0.0.0/8 and ::1 (and IPv4-mapped 127/8). */
export function isLoopback(address: string): boolean {
  return LOOPBACK.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

/** How many of `items` fall under each key, for one log line instead of one per item. */
function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}
