// The operator's dashboard, served by the agent's admin API under /dashboard: a login page that trades
// the admin token for a session cookie, pages (plain ES modules and CSS from assets/dashboard, no build)
// and the JSON they poll. Writes need the session's anti-CSRF header; nothing but the login page and its
// stylesheet answers without a session.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import type { ServedOperations } from '../admin/index.ts';
import { pathOf, readBody, readJson, sendJson, summarize } from '../admin/index.ts';
import { InvalidArgumentError, NotFoundError, UnauthorizedError } from '../errors/index.ts';
import type { IngestResult } from '../ingest/index.ts';
import { parsePieceList } from '../metainfo/index.ts';
import type { CatalogObject, RemovalReason, StoredObject } from '../store/index.ts';
import type { PeerInfo } from '../wire/index.ts';
import { type CounterSample, RateHistory } from './history.ts';
import { CSRF_HEADER, crossSite, type DashboardSession, DashboardSessions } from './sessions.ts';
import type { SwarmView } from './swarm.ts';

/** What the overview reads of the agent's status (AgentStatus has it). */
export interface DashboardStatusView {
  objects: number;
  objectsComplete: number;
  wire: { connections: number; uploadedBytes: number } | null | undefined;
  http: { connections: number; bytesSent: number; requests: number } | null;
  cache: { hits: number; misses: number; bytes: number; maxBytes: number; corruptPieces: number };
  trackers: unknown[];
  ims: unknown;
  controller: unknown;
  addresses: unknown;
  /** Egress limits, rates per class, what was shed (src/qos's QosStatus). */
  qos?: unknown;
}

/** The store as the dashboard reads it: the catalog, lookups, and its piece events. */
export interface DashboardStore {
  list(): CatalogObject[];
  find(id: string): StoredObject;
  on(event: 'pieces-removed', listener: (infoHash: string, pieces: number[], reason: RemovalReason) => void): unknown;
  on(event: 'pieces-added', listener: (infoHash: string, pieces: number[]) => void): unknown;
  on(event: 'object-removed', listener: (infoHash: string) => void): unknown;
}

export interface DashboardOptions {
  token: string;
  operations: Pick<ServedOperations, 'purge' | 'ingest' | 'show'>;
  store: DashboardStore;
  status: () => DashboardStatusView;
  peers: () => PeerInfo[];
  counters: () => CounterSample;
  /** Pieces of an object in the piece cache (memory). */
  cachedPieces?: (infoHash: string) => number[];
  /** The swarm's copies per piece from a tracker that knows them (src/dashboard/swarm.ts), or null. */
  swarm?: (infoHash: string) => Promise<SwarmView | null>;
  /** How often counters are sampled for the rate chart. */
  sampleEveryMs?: number;
}

export interface Dashboard {
  /** Answers requests under /dashboard (resolves true), leaves others to the admin API (false). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  close(): void;
}

/** Largest page of the object list. */
export const MAX_PAGE = 500;
/**
 * assets/dashboard at the package root: two folders up from src/dashboard (run from source), three from
 * dist/src/dashboard (built). Shipped through package.json's `files`.
 */
const ASSETS =
  [new URL('../../assets/dashboard/', import.meta.url), new URL('../../../assets/dashboard/', import.meta.url)].find(
    (url) => existsSync(new URL('index.html', url)),
  ) ?? new URL('../../assets/dashboard/', import.meta.url);
const PAGES = new Set(['/dashboard', '/dashboard/', '/dashboard/objects', '/dashboard/peers']);
const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};
/** Scripts and styles from this origin only, no framing: an injected string cannot run. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // Not no-referrer: with it, Chromium sends `Origin: null` on the login form's POST.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

export function createDashboard(options: DashboardOptions): Dashboard {
  const sessions = new DashboardSessions({ token: options.token });
  const history = new RateHistory();
  const corrupt = new Map<string, Set<number>>();
  const store = options.store;
  // Pieces dropped for a failed hash are shown as corrupt until they are held again.
  store.on('pieces-removed', (infoHash, pieces, reason) => {
    if (reason !== 'corrupt') return;
    const set = corrupt.get(infoHash) ?? new Set<number>();
    for (const piece of pieces) set.add(piece);
    corrupt.set(infoHash, set);
  });
  store.on('pieces-added', (infoHash, pieces) => {
    const set = corrupt.get(infoHash);
    if (set === undefined) return;
    for (const piece of pieces) set.delete(piece);
    if (set.size === 0) corrupt.delete(infoHash);
  });
  store.on('object-removed', (infoHash) => corrupt.delete(infoHash));

  const sample = () => history.add(Date.now(), options.counters());
  sample();
  const sampler = setInterval(sample, options.sampleEveryMs ?? 2000);
  sampler.unref();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = pathOf(req.url);
    if (path !== '/dashboard' && !path.startsWith('/dashboard/')) return false;
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const method = req.method ?? 'GET';
    if (path === '/dashboard/login') {
      if (method === 'GET') return loginPage(res, /[?&]failed=1(&|$)/.test(req.url ?? ''));
      if (method === 'POST') return login(req, res);
    }
    if (method === 'GET' && path === '/dashboard/assets/style.css') return sendAsset(res, 'style.css');

    const session = sessions.fromCookie(req.headers.cookie);
    if (session === null) {
      if (method === 'GET' && !path.startsWith('/dashboard/api/')) {
        res.writeHead(303, { location: '/dashboard/login' }).end();
        return true;
      }
      throw new UnauthorizedError('no dashboard session: log in at /dashboard/login');
    }
    if (method !== 'GET') {
      // A write must come from the dashboard's own pages: same site, and the token only they can read.
      if (crossSite(req.headers) || !sessions.csrfOk(session, req.headers[CSRF_HEADER])) {
        throw new UnauthorizedError(`a dashboard write needs the ${CSRF_HEADER} header of its session`);
      }
    }
    if (method === 'GET' && PAGES.has(path)) return sendAsset(res, 'index.html');
    const asset = /^\/dashboard\/assets\/([a-z0-9-]+\.(?:js|css))$/.exec(path);
    if (method === 'GET' && asset) return sendAsset(res, asset[1] as string);
    return api(req, res, method, path, session);
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (crossSite(req.headers)) throw new UnauthorizedError('a login from another site');
    const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
    const session = sessions.login(form.get('token') ?? '');
    if (session === null) {
      res.writeHead(303, { location: '/dashboard/login?failed=1' }).end();
      return true;
    }
    res.writeHead(303, { location: '/dashboard/', 'set-cookie': sessions.cookieFor(session) }).end();
    return true;
  }

  async function api(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    session: DashboardSession,
  ): Promise<boolean> {
    const query = new URL(req.url ?? '/', 'http://dashboard').searchParams;
    if (method === 'GET' && path === '/dashboard/api/session') {
      sendJson(res, 200, { csrfToken: session.csrfToken, csrfHeader: CSRF_HEADER, expiresAt: session.expiresAt });
      return true;
    }
    if (method === 'POST' && path === '/dashboard/api/logout') {
      sessions.logout(session);
      res.setHeader('set-cookie', DashboardSessions.clearedCookie());
      sendJson(res, 200, { ok: true });
      return true;
    }
    if (method === 'GET' && path === '/dashboard/api/overview') {
      sendJson(res, 200, overview(options.status(), store.list(), history));
      return true;
    }
    if (method === 'GET' && path === '/dashboard/api/objects') {
      sendJson(res, 200, objectPage(store.list(), query));
      return true;
    }
    const pieceRoute = /^\/dashboard\/api\/objects\/([0-9a-fA-F]{40})\/pieces$/.exec(path);
    if (method === 'GET' && pieceRoute) {
      const object = store.find(pieceRoute[1] as string);
      sendJson(res, 200, pieceMap(object, options.cachedPieces?.(object.infoHash) ?? [], corrupt.get(object.infoHash)));
      return true;
    }
    const swarmRoute = /^\/dashboard\/api\/objects\/([0-9a-fA-F]{40})\/swarm$/.exec(path);
    if (method === 'GET' && swarmRoute) {
      const object = store.find(swarmRoute[1] as string);
      sendJson(res, 200, { swarm: (await options.swarm?.(object.infoHash)) ?? null });
      return true;
    }
    const objectRoute = /^\/dashboard\/api\/objects\/([0-9a-fA-F]{40})$/.exec(path);
    if (method === 'GET' && objectRoute) {
      sendJson(res, 200, await options.operations.show(objectRoute[1] as string));
      return true;
    }
    if (method === 'GET' && path === '/dashboard/api/peers') {
      sendJson(res, 200, { peers: options.peers() });
      return true;
    }
    if (method === 'POST' && path === '/dashboard/api/purge') {
      const body = (await readJson(req, 64 * 1024)) as { infoHash?: unknown; pieces?: unknown };
      if (typeof body?.infoHash !== 'string' || !/^[0-9a-fA-F]{40}$/.test(body.infoHash)) {
        throw new InvalidArgumentError('infoHash: must be 40 hex digits', { subject: 'infoHash' });
      }
      if (body.pieces !== undefined && typeof body.pieces !== 'string') {
        throw new InvalidArgumentError('pieces: must be a piece list such as "0-9,20"', { subject: 'pieces' });
      }
      const pieces = body.pieces === undefined ? undefined : parsePieceList(body.pieces);
      const results = await options.operations.purge({ ids: [body.infoHash], ...(pieces ? { pieces } : {}) });
      sendJson(res, 200, { results });
      return true;
    }
    if (method === 'POST' && path === '/dashboard/api/ingest') {
      const body = (await readJson(req, 64 * 1024)) as { url?: unknown };
      if (typeof body?.url !== 'string' || !/^https?:\/\/\S+$/i.test(body.url)) {
        throw new InvalidArgumentError('url: must be an http(s) URL', { subject: 'url' });
      }
      const results: IngestResult[] = [];
      await options.operations.ingest({ sources: [body.url], options: {} }, (result) => results.push(result));
      sendJson(res, 200, { results });
      return true;
    }
    throw new NotFoundError(`no dashboard route ${method} ${path.slice(0, 200)}`);
  }

  return {
    handle,
    close: () => clearInterval(sampler),
  };
}

async function sendAsset(res: ServerResponse, name: string): Promise<boolean> {
  let body: Buffer;
  try {
    body = await readFile(new URL(name, ASSETS));
  } catch {
    throw new NotFoundError(`no dashboard asset ${name}`);
  }
  res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(name)] ?? 'application/octet-stream' }).end(body);
  return true;
}

async function loginPage(res: ServerResponse, failed: boolean): Promise<boolean> {
  let page = await readFile(new URL('login.html', ASSETS), 'utf8');
  if (failed) page = page.replace('<!--message-->', '<p role="alert" class="error">Wrong token: try again.</p>');
  res.writeHead(failed ? 401 : 200, { 'content-type': CONTENT_TYPES['.html'] as string }).end(page);
  return true;
}

/** Bytes of an object's held pieces (the last piece may be short). */
export function bytesHeld(object: CatalogObject): number {
  if (object.piecesHeld === 0) return 0;
  const last = object.pieceCount - 1;
  const shortfall = object.bitfield.get(last) ? object.pieceCount * object.pieceLength - object.length : 0;
  return object.piecesHeld * object.pieceLength - shortfall;
}

export function overview(status: DashboardStatusView, objects: CatalogObject[], history: RateHistory) {
  let bytes = 0;
  for (const object of objects) bytes += bytesHeld(object);
  const { hits, misses } = status.cache;
  return {
    objects: status.objects,
    objectsComplete: status.objectsComplete,
    bytesHeld: bytes,
    peers: status.wire?.connections ?? 0,
    httpConnections: status.http?.connections ?? 0,
    sentBytes: (status.wire?.uploadedBytes ?? 0) + (status.http?.bytesSent ?? 0),
    cache: { ...status.cache, hitRatio: hits + misses === 0 ? null : hits / (hits + misses) },
    trackers: status.trackers,
    ims: status.ims,
    controller: status.controller,
    addresses: status.addresses,
    qos: status.qos ?? null,
    rates: history.points(),
  };
}

// On the catalog's own fields: only the page's objects are summarized (dates formatted), not 100,000.
const SORTS: Record<string, (a: CatalogObject, b: CatalogObject) => number> = {
  name: (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  added: (a, b) => a.addedAt - b.addedAt,
  length: (a, b) => a.length - b.length,
  held: (a, b) => a.piecesHeld / a.pieceCount - b.piecesHeld / b.pieceCount,
};

/**
 * One page of the object list, filtered and sorted here so that the browser never holds 100,000 objects:
 * q (substring of name or info hash), state (complete|partial), sort (name|added|length|held, '-' first
 * for descending), offset, limit (at most MAX_PAGE).
 */
export function objectPage(objects: CatalogObject[], query: URLSearchParams) {
  const q = (query.get('q') ?? '').toLowerCase();
  const state = query.get('state') ?? '';
  const sortSpec = query.get('sort') ?? 'name';
  const descending = sortSpec.startsWith('-');
  const sort = SORTS[descending ? sortSpec.slice(1) : sortSpec];
  if (sort === undefined)
    throw new InvalidArgumentError(`sort: one of ${Object.keys(SORTS).join(', ')}`, { subject: 'sort' });
  if (state !== '' && state !== 'complete' && state !== 'partial') {
    throw new InvalidArgumentError('state: complete or partial', { subject: 'state' });
  }
  const offset = integer(query.get('offset'), 0, 'offset');
  const limit = Math.min(MAX_PAGE, integer(query.get('limit'), 50, 'limit'));
  const matching = objects.filter(
    (o) =>
      (q === '' || o.infoHash.includes(q) || o.name.toLowerCase().includes(q)) &&
      (state === '' || (state === 'complete') === o.complete),
  );
  matching.sort(descending ? (a, b) => sort(b, a) : sort);
  return { total: matching.length, offset, limit, items: matching.slice(offset, offset + limit).map(summarize) };
}

function integer(value: string | null, fallback: number, name: string): number {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`${name}: a whole number >= 0`, { subject: name });
  return n;
}

/** What the piece map draws: held pieces as the wire bitfield (hex), cached and corrupt ones as lists. */
export function pieceMap(object: CatalogObject, cached: number[], corrupt: Set<number> | undefined) {
  return {
    infoHash: object.infoHash,
    name: object.name,
    pieces: object.pieceCount,
    piecesHeld: object.piecesHeld,
    bitmap: object.bitfield.toBuffer().toString('hex'),
    cached: cached.filter((i) => object.bitfield.get(i)).sort((a, b) => a - b),
    corrupt: [...(corrupt ?? [])].filter((i) => !object.bitfield.get(i)).sort((a, b) => a - b),
  };
}
