import { describe, expect, it } from 'vitest';
import { CSRF_HEADER, cookieValue, crossSite, DashboardSessions, SESSION_COOKIE } from '../../src/dashboard/index.ts';

const TOKEN = 'a'.repeat(43);

function sessionsAt(clock: { now: number }, maxSessions?: number) {
  return new DashboardSessions({
    token: TOKEN,
    ttlMs: 60_000,
    now: () => clock.now,
    ...(maxSessions ? { maxSessions } : {}),
  });
}

describe('dashboard sessions', () => {
  it('trades only the admin token for a session, with a fresh random id and anti-CSRF token each time', () => {
    const sessions = sessionsAt({ now: 1000 });
    expect(sessions.login('')).toBeNull();
    expect(sessions.login(`${TOKEN}x`)).toBeNull();
    expect(sessions.login(`b${TOKEN.slice(1)}`)).toBeNull();
    const a = sessions.login(TOKEN);
    const b = sessions.login(TOKEN);
    expect(a).not.toBeNull();
    expect(a?.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a?.id).not.toBe(b?.id);
    expect(a?.csrfToken).not.toBe(a?.id);
    expect(a?.csrfToken).not.toBe(b?.csrfToken);
    expect(a?.expiresAt).toBe(61_000);
  });

  it('sets an HttpOnly, SameSite=Strict cookie on /dashboard that expires with the session', () => {
    const clock = { now: 1000 };
    const sessions = sessionsAt(clock);
    const session = sessions.login(TOKEN);
    if (session === null) throw new Error('no session');
    const cookie = sessions.cookieFor(session);
    expect(cookie).toBe(`${SESSION_COOKIE}=${session.id}; Path=/dashboard; Max-Age=60; HttpOnly; SameSite=Strict`);
    expect(DashboardSessions.clearedCookie()).toMatch(/Max-Age=0; HttpOnly; SameSite=Strict$/);
  });

  it('finds a live session by its cookie, and none once expired, logged out or unknown', () => {
    const clock = { now: 1000 };
    const sessions = sessionsAt(clock);
    const session = sessions.login(TOKEN);
    if (session === null) throw new Error('no session');
    const header = `theme=dark; ${SESSION_COOKIE}=${session.id}; other=1`;
    expect(sessions.fromCookie(header)).toBe(session);
    expect(sessions.fromCookie(undefined)).toBeNull();
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${session.id.slice(1)}x`)).toBeNull();
    clock.now = 60_999;
    expect(sessions.fromCookie(header)).toBe(session);
    clock.now = 61_000;
    expect(sessions.fromCookie(header)).toBeNull();
    const second = sessions.login(TOKEN);
    if (second === null) throw new Error('no session');
    sessions.logout(second);
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${second.id}`)).toBeNull();
  });

  it("accepts a write only with its own session's anti-CSRF token", () => {
    const sessions = sessionsAt({ now: 0 });
    const a = sessions.login(TOKEN);
    const b = sessions.login(TOKEN);
    if (a === null || b === null) throw new Error('no session');
    expect(sessions.csrfOk(a, a.csrfToken)).toBe(true);
    expect(sessions.csrfOk(a, b.csrfToken)).toBe(false);
    expect(sessions.csrfOk(a, undefined)).toBe(false);
    expect(sessions.csrfOk(a, '')).toBe(false);
    expect(sessions.csrfOk(a, [a.csrfToken, a.csrfToken])).toBe(false);
    expect(sessions.csrfOk(a, a.id)).toBe(false);
    expect(CSRF_HEADER).toBe('x-edgepeer-csrf');
  });

  it('keeps at most maxSessions: the oldest goes first', () => {
    const sessions = sessionsAt({ now: 0 }, 2);
    const first = sessions.login(TOKEN);
    const second = sessions.login(TOKEN);
    const third = sessions.login(TOKEN);
    expect(sessions.size).toBe(2);
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${first?.id}`)).toBeNull();
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${second?.id}`)).toBe(second);
    expect(sessions.fromCookie(`${SESSION_COOKIE}=${third?.id}`)).toBe(third);
  });

  it('reads one cookie out of a Cookie header', () => {
    expect(cookieValue('a=1; b=2', 'b')).toBe('2');
    expect(cookieValue('ab=1; b=2', 'a')).toBeNull();
    expect(cookieValue('', 'a')).toBeNull();
  });

  it('tells a write from another site by Sec-Fetch-Site or Origin, and leaves requests without either to the token', () => {
    expect(crossSite({ host: '127.0.0.1:5000' })).toBe(false);
    expect(crossSite({ host: '127.0.0.1:5000', origin: 'http://127.0.0.1:5000' })).toBe(false);
    expect(crossSite({ host: '127.0.0.1:5000', origin: 'http://127.0.0.1:5001' })).toBe(true);
    expect(crossSite({ host: '127.0.0.1:5000', origin: 'http://evil.example' })).toBe(true);
    expect(crossSite({ host: '127.0.0.1:5000', origin: 'null' })).toBe(true);
    expect(crossSite({ host: '127.0.0.1:5000', 'sec-fetch-site': 'same-origin' })).toBe(false);
    expect(crossSite({ host: '127.0.0.1:5000', 'sec-fetch-site': 'same-site' })).toBe(true);
    expect(crossSite({ host: '127.0.0.1:5000', 'sec-fetch-site': 'cross-site' })).toBe(true);
    // A browser's Sec-Fetch-Site decides: a same-origin form post with `Origin: null` (no-referrer pages) is fine.
    expect(crossSite({ host: '127.0.0.1:5000', origin: 'null', 'sec-fetch-site': 'same-origin' })).toBe(false);
    expect(crossSite({ host: '127.0.0.1:5000', origin: 'http://127.0.0.1:5000', 'sec-fetch-site': 'cross-site' })).toBe(
      true,
    );
  });
});
