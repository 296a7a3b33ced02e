// Dashboard sessions: the admin token is entered once on the login page and traded for a session cookie
// (random id, HttpOnly, SameSite=Strict, expiring). Every write must also carry the session's anti-CSRF
// token in a header: a page on another site can neither read it nor, with SameSite=Strict, send the cookie.
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'edgepeer_session';
/** The header a write carries the session's anti-CSRF token in. */
export const CSRF_HEADER = 'x-edgepeer-csrf';
/** A session lasts this long after login, used or not: an admin logs in again each working day. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** More live sessions than this and the oldest goes: logins cannot fill the memory. */
export const MAX_SESSIONS = 256;

export interface DashboardSession {
  id: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

export interface SessionsOptions {
  token: string;
  ttlMs?: number;
  maxSessions?: number;
  now?: () => number;
}

export class DashboardSessions {
  readonly #expected: Buffer;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  /** By session id, oldest first (a Map keeps insertion order). */
  readonly #sessions = new Map<string, DashboardSession>();

  constructor(options: SessionsOptions) {
    this.#expected = Buffer.from(options.token);
    this.#ttlMs = options.ttlMs ?? SESSION_TTL_MS;
    this.#max = options.maxSessions ?? MAX_SESSIONS;
    this.#now = options.now ?? Date.now;
  }

  /** A new session when `token` is the admin token, else null. */
  login(token: string): DashboardSession | null {
    if (!sameSecret(token, this.#expected)) return null;
    const now = this.#now();
    this.#prune(now);
    while (this.#sessions.size >= this.#max) this.#sessions.delete(this.#sessions.keys().next().value as string);
    const session: DashboardSession = {
      id: randomBytes(32).toString('base64url'),
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.#ttlMs,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session a request's Cookie header names, or null (none, unknown, expired). */
  fromCookie(cookieHeader: string | undefined): DashboardSession | null {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    if (id === null) return null;
    const session = this.#sessions.get(id);
    if (session === undefined) return null;
    if (session.expiresAt <= this.#now()) {
      this.#sessions.delete(id);
      return null;
    }
    return session;
  }

  /** True when a write's anti-CSRF header matches its session's token. */
  csrfOk(session: DashboardSession, header: string | string[] | undefined): boolean {
    return typeof header === 'string' && sameSecret(header, Buffer.from(session.csrfToken));
  }

  logout(session: DashboardSession): void {
    this.#sessions.delete(session.id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** The Set-Cookie value that gives the browser this session (Path /dashboard: the admin API never sees it). */
  cookieFor(session: DashboardSession): string {
    const maxAge = Math.max(0, Math.floor((session.expiresAt - this.#now()) / 1000));
    return `${SESSION_COOKIE}=${session.id}; Path=/dashboard; Max-Age=${maxAge}; HttpOnly; SameSite=Strict`;
  }

  /** The Set-Cookie value that removes the session cookie. */
  static clearedCookie(): string {
    return `${SESSION_COOKIE}=; Path=/dashboard; Max-Age=0; HttpOnly; SameSite=Strict`;
  }

  #prune(now: number): void {
    for (const [id, session] of this.#sessions) if (session.expiresAt <= now) this.#sessions.delete(id);
  }
}

/** Compares in time independent of where the strings differ. */
function sameSecret(given: string, expected: Buffer): boolean {
  const buffer = Buffer.from(given);
  return buffer.length === expected.length && timingSafeEqual(buffer, expected);
}

/** One cookie's value from a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * A write from another origin. Sec-Fetch-Site, which browsers set and pages cannot, decides when present;
 * else the Origin header. Requests with neither (curl, old browsers) are left to the cookie and the
 * anti-CSRF token.
 */
export function crossSite(headers: {
  origin?: string | undefined;
  host?: string | undefined;
  'sec-fetch-site'?: string | string[] | undefined;
}): boolean {
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  const origin = headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== headers.host;
  } catch {
    return true;
  }
}
