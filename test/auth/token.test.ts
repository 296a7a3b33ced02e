import type { KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyRing, keyBytes, parseKeySpec, parseToken, signToken, UrlGate } from '../../src/auth/index.ts';

const IH = 'ab'.repeat(20);
let dir: string;
let ring: KeyRing;
let now = 1_800_000_000;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-auth-'));
  await writeFile(join(dir, 'k1'), `${'11'.repeat(32)}\n`);
  await writeFile(join(dir, 'k2'), 'a passphrase long enough to be a key\n');
  ring = await KeyRing.load([
    { id: 'k1', file: join(dir, 'k1') },
    { id: 'k2', file: join(dir, 'k2') },
  ]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function gate(): UrlGate {
  return new UrlGate({ keys: ring, now: () => now });
}
function token(claims: Partial<Parameters<typeof signToken>[0]> = {}, keyId = 'k1'): string {
  return signToken({ expires: now + 60, paths: [`/objects/${IH}/`], keyId, ...claims }, ring.get(keyId) as KeyObject);
}

describe('URL tokens', () => {
  it('round-trips its fields, and reads hex key files as bytes', () => {
    const text = token({ address: '10.0.0.1', paths: [`/objects/${IH}/`, `/pieces/${IH}/`] });
    expect(text).toMatch(
      /^ip=10\.0\.0\.1~exp=\d+~acl=\/objects\/[0-9a-f]{40}\/!\/pieces\/[0-9a-f]{40}\/~kid=k1~hmac=[0-9a-f]{64}$/,
    );
    const parsed = parseToken(text);
    expect(parsed).toMatchObject({ address: '10.0.0.1', keyId: 'k1', expires: now + 60 });
    expect(parsed?.paths).toHaveLength(2);
    expect(keyBytes('11'.repeat(32))).toHaveLength(32);
    expect(parseKeySpec('k1=/etc/key')).toEqual({ id: 'k1', file: '/etc/key' });
    expect(parseKeySpec('no-equals')).toBeNull();
    expect(parseKeySpec('bad id=/x')).toBeNull();
  });

  it('lets a good token through in the query, the header or a cookie', () => {
    const g = gate();
    const t = token();
    expect(g.check(`/objects/${IH}/f.bin?__token__=${t}`, undefined, undefined, '127.0.0.1')).toBeNull();
    expect(
      g.check(`/objects/${IH}/f.bin?a=1&__token__=${encodeURIComponent(t)}&b=2`, undefined, undefined, '::1'),
    ).toBeNull();
    expect(g.check(`/objects/${IH}/f.bin`, t, undefined, '::1')).toBeNull();
    expect(g.check(`/objects/${IH}/f.bin`, undefined, `a=b; __token__=${t}`, '::1')).toBeNull();
    expect(g.counters().accepted).toBe(4);
  });

  it('refuses each bad token with 403 and its reason, an expired one with 410', () => {
    const g = gate();
    const path = `/objects/${IH}/f.bin`;
    const t = token();
    const tampered = t.replace(/exp=(\d+)/, (_m, e: string) => `exp=${Number(e) + 3600}`);
    const cases: Array<[string | undefined, string, number]> = [
      [undefined, 'missing', 403],
      ['nonsense', 'malformed', 403],
      [tampered, 'bad_signature', 403],
      [token({}, 'k2').replace('kid=k2', 'kid=k9'), 'unknown_key', 403],
      [signToken({ expires: now + 60, paths: ['/'], keyId: 'k1' }, Buffer.alloc(32, 7)), 'bad_signature', 403],
      [token({ paths: [`/pieces/${IH}/`] }), 'wrong_path', 403],
      [token({ address: '10.9.9.9' }), 'wrong_address', 403],
      [token({ expires: now - 1 }), 'expired', 410],
    ];
    for (const [value, reason, status] of cases) {
      const refusal = g.check(path, value, undefined, '::ffff:127.0.0.1');
      expect(refusal, reason).toMatchObject({ status, reason });
      expect(refusal?.message).not.toContain(value ?? '~');
    }
    expect(g.counters().refused).toMatchObject({ missing: 1, malformed: 1, bad_signature: 2, expired: 1 });
  });

  it('checks a remembered target again for the address, the time and the keys', async () => {
    const g = gate();
    const bound = `/objects/${IH}/f.bin?__token__=${token({ address: '10.0.0.1', expires: now + 5 })}`;
    expect(g.check(bound, undefined, undefined, '10.0.0.1')).toBeNull();
    expect(g.check(bound, undefined, undefined, '10.0.0.1')).toBeNull();
    expect(g.check(bound, undefined, undefined, '10.0.0.2')).toMatchObject({ reason: 'wrong_address' });
    now += 10;
    try {
      expect(g.check(bound, undefined, undefined, '10.0.0.1')).toMatchObject({ reason: 'expired', status: 410 });
    } finally {
      now -= 10;
    }
    const byK2 = `/objects/${IH}/f.bin?__token__=${token({}, 'k2')}`;
    expect(g.check(byK2, undefined, undefined, '::1')).toBeNull();
    await ring.reload([{ id: 'k1', file: join(dir, 'k1') }]);
    try {
      expect(g.check(byK2, undefined, undefined, '::1')).toMatchObject({ reason: 'unknown_key' });
    } finally {
      await ring.reload([
        { id: 'k1', file: join(dir, 'k1') },
        { id: 'k2', file: join(dir, 'k2') },
      ]);
    }
    // A header's token is not remembered by the target: another header on the same target is checked.
    const plain = `/objects/${IH}/g.bin`;
    expect(g.check(plain, token(), undefined, '::1')).toBeNull();
    expect(g.check(plain, 'nonsense', undefined, '::1')).toMatchObject({ reason: 'malformed' });
    expect(g.counters().accepted).toBe(4);
  });

  it('refuses a tampered, wrong-key or other-path use of a token it remembers as good', () => {
    const g = gate();
    const t = token();
    const good = `/objects/${IH}/f.bin?__token__=${t}`;
    expect(g.check(good, undefined, undefined, '::1')).toBeNull();
    expect(g.check(good, undefined, undefined, '::1')).toBeNull();
    const tampered = t.replace(/exp=(\d+)/, (_m, e: string) => `exp=${Number(e) + 3600}`);
    expect(g.check(`/objects/${IH}/f.bin?__token__=${tampered}`, undefined, undefined, '::1')).toMatchObject({
      reason: 'bad_signature',
    });
    const otherKey = t.replace('kid=k1', 'kid=k2');
    expect(g.check(`/objects/${IH}/f.bin?__token__=${otherKey}`, undefined, undefined, '::1')).toMatchObject({
      reason: 'bad_signature',
    });
    // The same good token (its signature remembered) on a path outside its prefix: in the query, the
    // header and a cookie.
    const elsewhere = `/objects/${'cd'.repeat(20)}/f.bin`;
    expect(g.check(`${elsewhere}?__token__=${t}`, undefined, undefined, '::1')).toMatchObject({ reason: 'wrong_path' });
    expect(g.check(elsewhere, t, undefined, '::1')).toMatchObject({ reason: 'wrong_path' });
    expect(g.check(elsewhere, undefined, `__token__=${t}`, '::1')).toMatchObject({ reason: 'wrong_path' });
    expect(g.check(good, undefined, undefined, '::1')).toBeNull();
    expect(g.counters().refused).toMatchObject({ bad_signature: 2, wrong_path: 3 });
  });

  it('on the real clock, refuses a remembered token once it expires', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const g = new UrlGate({ keys: ring });
    try {
      const start = Math.floor(Date.now() / 1000);
      const target = (expires: number) =>
        `/objects/${IH}/f.bin?__token__=${signToken({ expires, paths: ['/'], keyId: 'k1' }, ring.get('k1') as KeyObject)}`;
      const soon = target(start + 1);
      const later = target(start + 30);
      expect(g.check(soon, undefined, undefined, '::1')).toBeNull();
      expect(g.check(later, undefined, undefined, '::1')).toBeNull();
      // Remembered; then the clock passes the first one's expiry (its timer too, as on a running loop).
      vi.advanceTimersByTime(2500);
      expect(g.check(soon, undefined, undefined, '::1')).toMatchObject({ reason: 'expired', status: 410 });
      expect(g.check(later, undefined, undefined, '::1')).toBeNull();
      vi.advanceTimersByTime(30_000);
      expect(g.check(later, undefined, undefined, '::1')).toMatchObject({ reason: 'expired', status: 410 });
    } finally {
      g.close();
      vi.useRealTimers();
    }
  });

  it('binds to an IPv4 client seen as IPv4-mapped IPv6', () => {
    expect(gate().check(`/objects/${IH}/f`, token({ address: '127.0.0.1' }), undefined, '::ffff:127.0.0.1')).toBeNull();
  });

  it('forgets keys removed by a reload, and a reload that fails keeps the old keys', async () => {
    const g = gate();
    const t = token({}, 'k2');
    expect(g.check(`/objects/${IH}/f`, t, undefined, '::1')).toBeNull();
    await ring.reload([{ id: 'k1', file: join(dir, 'k1') }]);
    expect(g.check(`/objects/${IH}/f`, t, undefined, '::1')).toMatchObject({ reason: 'unknown_key' });
    await expect(ring.reload([{ id: 'k3', file: join(dir, 'absent') }])).rejects.toMatchObject({
      code: 'EDGEPEER_SIGNING_KEY_INVALID',
    });
    expect(ring.ids()).toEqual(['k1']);
    await writeFile(join(dir, 'short'), 'short');
    await expect(KeyRing.load([{ id: 's', file: join(dir, 'short') }])).rejects.toThrow(/at least 16/);
    await ring.reload([
      { id: 'k1', file: join(dir, 'k1') },
      { id: 'k2', file: join(dir, 'k2') },
    ]);
  });

  it('re-signs a redirect for its own path, short-lived, and redacts tokens for the access log', () => {
    const g = gate();
    const location = g.resign(`http://edge:8080/pieces/${IH}/3?__token__=old`);
    expect(location).toMatch(new RegExp(`^http://edge:8080/pieces/${IH}/3\\?__token__=exp=`));
    const fresh = parseToken(location.split('__token__=')[1] as string);
    expect(fresh).toMatchObject({ paths: [`/pieces/${IH}/3`], keyId: 'k2', expires: now + 30 });
    expect(g.check(location.slice('http://edge:8080'.length), undefined, undefined, '::1')).toBeNull();
    expect(g.redact('/objects/x?a=1&__token__=exp=1~hmac=2&b=3')).toBe('/objects/x?a=1&__token__=-&b=3');
    now += 31;
    expect(g.check(location.slice('http://edge:8080'.length), undefined, undefined, '::1')).toMatchObject({
      status: 410,
    });
  });
});
