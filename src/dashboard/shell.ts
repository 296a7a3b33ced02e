// What every edgepeer dashboard shares (the agent's, the controller's, the tracker's): the login page that
// trades the admin token for a session cookie, the anti-CSRF check on writes, security headers, the
// static assets (plain ES modules and CSS from assets/dashboard, no build), the page shell with its
// navigation, and the live event stream. Each server adds its own pages and JSON routes under
// /dashboard/api/. Nothing but the login page and its stylesheet answers without a session.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { pathOf, readBody, sendJson } from '../admin/index.ts';
import { NotFoundError, UnauthorizedError } from '../errors/index.ts';
import { type LiveFeed, requestedTopics } from './live.ts';
import { CSRF_HEADER, crossSite, type DashboardSession, DashboardSessions } from './sessions.ts';

/** One JSON request under /dashboard/api/, with a live session (and, for a write, its anti-CSRF header). */
export interface ApiRequest {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** The path after /dashboard/api/ ('objects', 'edges/edge-0123456789ab/drain'). */
  route: string;
  query: URLSearchParams;
  session: DashboardSession;
}

export interface DashboardShellOptions {
  token: string;
  /** Which server this is: chooses the pages' script (assets/dashboard/<kind>.js). */
  kind: 'agent' | 'controller' | 'tracker';
  /** The pages: path under /dashboard ('' for the overview) -> navigation label. */
  pages: Record<string, string>;
  /** The login page's sentence on where the token is. */
  tokenHint: string;
  live: LiveFeed;
  /** Answers a JSON route (resolves true), or leaves it (false: 404). */
  api: (request: ApiRequest) => Promise<boolean>;
}

export interface Dashboard {
  /** Answers requests under /dashboard (resolves true), leaves others to the server (false). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  close(): void;
}

/**
 * assets/dashboard at the package root: two folders up from src/dashboard (run from source), three from
 * dist/src/dashboard (built). Shipped through package.json's `files`.
 */
const ASSETS =
  [new URL('../../assets/dashboard/', import.meta.url), new URL('../../../assets/dashboard/', import.meta.url)].find(
    (url) => existsSync(new URL('index.html', url)),
  ) ?? new URL('../../assets/dashboard/', import.meta.url);
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

export function createDashboardShell(options: DashboardShellOptions): Dashboard {
  const sessions = new DashboardSessions({ token: options.token });
  /** Open event streams by session id. */
  const streams = new Map<string, Set<ServerResponse>>();
  const pagePaths = new Set<string>(['/dashboard']);
  for (const page of Object.keys(options.pages)) pagePaths.add(`/dashboard/${page}`);
  let shellHtml: Promise<string> | null = null;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = pathOf(req.url);
    if (path !== '/dashboard' && !path.startsWith('/dashboard/')) return false;
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    const method = req.method ?? 'GET';
    if (path === '/dashboard/login') {
      if (method === 'GET') return loginPage(res, /[?&]failed=1(&|$)/.test(req.url ?? ''), options.tokenHint);
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
    if (method === 'GET' && pagePaths.has(path.replace(/\/$/, ''))) {
      shellHtml ??= pageShell(options);
      res.writeHead(200, { 'content-type': CONTENT_TYPES['.html'] as string }).end(await shellHtml);
      return true;
    }
    const asset = /^\/dashboard\/assets\/([a-z0-9-]+\.(?:js|css))$/.exec(path);
    if (method === 'GET' && asset) return sendAsset(res, asset[1] as string);
    if (!path.startsWith('/dashboard/api/')) throw new NotFoundError(`no dashboard page ${path.slice(0, 200)}`);
    const route = path.slice('/dashboard/api/'.length);
    const query = new URL(req.url ?? '/', 'http://dashboard').searchParams;
    if (method === 'GET' && route === 'session') {
      sendJson(res, 200, { csrfToken: session.csrfToken, csrfHeader: CSRF_HEADER, expiresAt: session.expiresAt });
      return true;
    }
    if (method === 'POST' && route === 'logout') {
      sessions.logout(session);
      for (const stream of streams.get(session.id) ?? []) stream.end();
      res.setHeader('set-cookie', DashboardSessions.clearedCookie());
      sendJson(res, 200, { ok: true });
      return true;
    }
    if (method === 'GET' && route === 'events') {
      // A stream ends with its session (expiry or logout): the page's reconnection then meets the 401.
      const open = streams.get(session.id) ?? new Set<ServerResponse>();
      streams.set(session.id, open);
      open.add(res);
      const expiry = setTimeout(() => res.end(), Math.max(0, session.expiresAt - Date.now()));
      expiry.unref();
      res.on('close', () => {
        clearTimeout(expiry);
        open.delete(res);
        if (open.size === 0) streams.delete(session.id);
      });
      options.live.serve(req, res, requestedTopics(query, options.live.topics));
      return true;
    }
    if (await options.api({ req, res, method, route, query, session })) return true;
    throw new NotFoundError(`no dashboard route ${method} ${path.slice(0, 200)}`);
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

  return { handle, close: () => options.live.close() };
}

/** index.html with this server's navigation and script filled in. */
async function pageShell(options: DashboardShellOptions): Promise<string> {
  const template = await readFile(new URL('index.html', ASSETS), 'utf8');
  const nav = Object.entries(options.pages)
    .map(([page, label]) => `<a href="/dashboard/${page}" data-page="${page || 'overview'}">${escapeHtml(label)}</a>`)
    .join('\n');
  return template
    .replace('{{kind}}', options.kind)
    .replace('{{title}}', `edgepeer ${options.kind}`)
    .replace('{{brand}}', `edgepeer ${options.kind}`)
    .replace('{{nav}}', nav)
    .replace('{{script}}', `/dashboard/assets/${options.kind}.js`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
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

async function loginPage(res: ServerResponse, failed: boolean, tokenHint: string): Promise<boolean> {
  let page = await readFile(new URL('login.html', ASSETS), 'utf8');
  page = page.replace('<!--hint-->', tokenHint);
  if (failed) page = page.replace('<!--message-->', '<p role="alert" class="error">Wrong token: try again.</p>');
  res.writeHead(failed ? 401 : 200, { 'content-type': CONTENT_TYPES['.html'] as string }).end(page);
  return true;
}
