// The dashboard behind the admin API, in process over a real store: login, the session cookie, refusals
// without it, the anti-CSRF header on writes, paging and filtering, piece maps and a purge that changes one.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, createAdminServer, ensureToken, StoreOperations } from '../../src/admin/index.ts';
import {
  CSRF_HEADER,
  createDashboard,
  type Dashboard,
  MAX_PAGE,
  ObjectPages,
  objectPage,
  SESSION_COOKIE,
  swarmPage,
} from '../../src/dashboard/index.ts';
import { createHashPool, type HashPool } from '../../src/hashing/index.ts';
import { OriginClient } from '../../src/ingest/index.ts';
import type { CatalogObject } from '../../src/store/index.ts';
import { openStore, type StagingStore, type Store } from '../../src/store/index.ts';

let dir: string;
let store: Store & StagingStore;
let pool: HashPool;
let origin: OriginClient;
let server: AdminServer;
let dashboard: Dashboard;
let url: string;
let token: string;
let infoHash: string;
let operations: StoreOperations;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-dashboard-'));
  store = await openStore(join(dir, 'store'), { mode: 'write' });
  pool = createHashPool({ threads: 1 });
  origin = new OriginClient({ timeoutMs: 2000, connections: 2 });
  token = await ensureToken(join(dir, 'admin.token'));
  operations = new StoreOperations({ store, ingestContext: () => ({ store, hashPool: pool, origin }) });
  dashboard = createDashboard({
    token,
    operations,
    store,
    status: () => ({
      objects: store.list().length,
      objectsComplete: store.list().filter((o) => o.complete).length,
      wire: { connections: 3, uploadedBytes: 1000 },
      http: { connections: 1, bytesSent: 500, requests: 2 },
      cache: { hits: 3, misses: 1, bytes: 0, maxBytes: 1 << 20, corruptPieces: 0 },
      trackers: [],
      ims: null,
      controller: null,
      addresses: {},
    }),
    peers: () => [],
    counters: () => ({ sentBytes: 0, pulledBytes: 0, connections: 0 }),
    sampleEveryMs: 200,
  });
  server = createAdminServer({
    operations,
    pages: (req, res) => dashboard.handle(req, res),
    token,
    host: '127.0.0.1',
    port: 0,
    status: () => ({}),
  });
  url = await server.listen();
  const file = join(dir, 'movie.bin');
  await writeFile(file, Buffer.alloc(16 * 16384, 3));
  const results: { infoHash: string | null }[] = [];
  await operations.ingest({ sources: [file], options: { pieceLength: 16384 } }, (r) => results.push(r));
  infoHash = results[0]?.infoHash as string;
});

afterAll(async () => {
  dashboard.close();
  await server.close();
  await origin.close();
  await pool.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function login(given: string) {
  return request(`${url}/dashboard/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: given }).toString(),
  });
}

async function session(): Promise<{ cookie: string; csrf: string }> {
  const res = await login(token);
  const setCookie = String(res.headers['set-cookie']);
  const cookie = setCookie.split(';')[0] as string;
  const info = (await (await request(`${url}/dashboard/api/session`, { headers: { cookie } })).body.json()) as {
    csrfToken: string;
  };
  return { cookie, csrf: info.csrfToken };
}

describe('the dashboard', () => {
  it('sends a browser without a session to the login page, and answers its API 401', async () => {
    for (const path of ['/dashboard', '/dashboard/', '/dashboard/objects', '/dashboard/assets/agent.js']) {
      const res = await request(`${url}${path}`);
      expect(res.statusCode, path).toBe(303);
      expect(res.headers.location).toBe('/dashboard/login');
    }
    const api = await request(`${url}/dashboard/api/objects`);
    expect(api.statusCode).toBe(401);
    expect(((await api.body.json()) as { error: { code: string } }).error.code).toBe('EDGEPEER_UNAUTHORIZED');
    // The bearer token opens the JSON API, not the dashboard: the dashboard is reached through a session only.
    const bearer = await request(`${url}/dashboard/api/objects`, { headers: { authorization: `Bearer ${token}` } });
    expect(bearer.statusCode).toBe(401);
    const login = await request(`${url}/dashboard/login`);
    expect(login.statusCode).toBe(200);
    expect(login.headers['content-security-policy']).toContain("script-src 'self'");
    expect(await login.body.text()).toContain('name="token"');
  });

  it('refuses a wrong or missing token at login and sets no cookie', async () => {
    for (const given of ['', token.slice(1), `${token}x`]) {
      const res = await login(given);
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/dashboard/login?failed=1');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    const page = await request(`${url}/dashboard/login?failed=1`);
    expect(page.statusCode).toBe(401);
    expect(await page.body.text()).toContain('Wrong token');
  });

  it('logs in with the token: an HttpOnly, SameSite=Strict cookie that opens the pages', async () => {
    const res = await login(token);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/dashboard/');
    expect(String(res.headers['set-cookie'])).toMatch(
      new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; Path=/dashboard; Max-Age=\\d+; HttpOnly; SameSite=Strict$`),
    );
    const { cookie } = await session();
    const page = await request(`${url}/dashboard/objects`, { headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(await page.body.text()).toContain('/dashboard/assets/agent.js');
    // The session cookie opens nothing of the bearer API.
    expect((await request(`${url}/v1/objects`, { headers: { cookie } })).statusCode).toBe(401);
  });

  it('serves the overview, a page of objects and a piece map', async () => {
    const { cookie } = await session();
    const overview = (await (await request(`${url}/dashboard/api/overview`, { headers: { cookie } })).body.json()) as {
      objects: number;
      bytesHeld: number;
      peers: number;
      cache: { hitRatio: number };
    };
    expect(overview).toMatchObject({ objects: 1, bytesHeld: 16 * 16384, peers: 3, cache: { hitRatio: 0.75 } });
    const page = (await (
      await request(`${url}/dashboard/api/objects?q=MOVIE&limit=10`, { headers: { cookie } })
    ).body.json()) as { total: number; items: { infoHash: string }[] };
    expect(page.total).toBe(1);
    expect(page.items[0]?.infoHash).toBe(infoHash);
    const map = (await (
      await request(`${url}/dashboard/api/objects/${infoHash}/pieces`, { headers: { cookie } })
    ).body.json()) as { pieces: number; piecesHeld: number; bitmap: string };
    expect(map).toMatchObject({ pieces: 16, piecesHeld: 16, bitmap: 'ffff' });
  });

  it('purges pieces only with the anti-CSRF header of the session and from the same site', async () => {
    const { cookie, csrf } = await session();
    const other = await session();
    const purge = (headers: Record<string, string>) =>
      request(`${url}/dashboard/api/purge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, ...headers },
        body: JSON.stringify({ infoHash, pieces: '2-3' }),
      });
    expect((await purge({})).statusCode).toBe(401);
    expect((await purge({ [CSRF_HEADER]: other.csrf })).statusCode).toBe(401);
    expect((await purge({ [CSRF_HEADER]: csrf, origin: 'http://evil.example' })).statusCode).toBe(401);
    expect((await purge({ [CSRF_HEADER]: csrf, 'sec-fetch-site': 'cross-site' })).statusCode).toBe(401);
    expect(store.get(infoHash)?.piecesHeld).toBe(16);
    const ok = await purge({ [CSRF_HEADER]: csrf });
    expect(ok.statusCode).toBe(200);
    expect(((await ok.body.json()) as { results: { status: string; piecesRemoved: number }[] }).results).toMatchObject([
      { status: 'pieces-purged', piecesRemoved: 2 },
    ]);
    const map = (await (
      await request(`${url}/dashboard/api/objects/${infoHash}/pieces`, { headers: { cookie } })
    ).body.json()) as { bitmap: string; piecesHeld: number };
    expect(map).toMatchObject({ bitmap: 'cfff', piecesHeld: 14 });
  });

  it('draws pieces dropped for a failed hash as corrupt until they are held again', async () => {
    const { cookie } = await session();
    const map = async () =>
      (await (
        await request(`${url}/dashboard/api/objects/${infoHash}/pieces`, { headers: { cookie } })
      ).body.json()) as {
        corrupt: number[];
        piecesHeld: number;
      };
    await store.removePieces(infoHash, [9], 'corrupt');
    await store.removePieces(infoHash, [10], 'purge');
    expect(await map()).toMatchObject({ corrupt: [9] });
    const file = join(dir, 'movie.bin');
    await store.writePiece(infoHash, 9, (await readFile(file)).subarray(9 * 16384, 10 * 16384));
    expect(await map()).toMatchObject({ corrupt: [] });
  });

  it('streams the overview and the objects that changed to a logged-in page, and to no one else', async () => {
    expect((await request(`${url}/dashboard/api/events`)).statusCode).toBe(401);
    const { cookie } = await session();
    const stream = await request(`${url}/dashboard/api/events?topics=overview,objects`, { headers: { cookie } });
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    let text = '';
    const seen = (pattern: RegExp) =>
      new Promise<void>((resolve) => {
        if (pattern.test(text)) return resolve();
        const onData = (chunk: Buffer) => {
          text += chunk.toString();
          if (pattern.test(text)) {
            stream.body.off('data', onData);
            resolve();
          }
        };
        stream.body.on('data', onData);
      });
    await seen(/event: overview\ndata: \{"objects":1,/);
    const file = join(dir, 'second.bin');
    await writeFile(file, Buffer.alloc(2 * 16384, 4));
    await operations.ingest({ sources: [file], options: { pieceLength: 16384 } }, () => {});
    await seen(/event: objects\ndata: \{"all":true/);
    await seen(/event: overview\ndata: \{"objects":2,/);
    stream.body.destroy();
  });

  it('ends a session at logout, and its open event stream with it', async () => {
    const { cookie, csrf } = await session();
    const stream = await request(`${url}/dashboard/api/events?topics=overview`, { headers: { cookie } });
    expect(stream.statusCode).toBe(200);
    const ended = stream.body.text();
    const out = await request(`${url}/dashboard/api/logout`, {
      method: 'POST',
      headers: { cookie, [CSRF_HEADER]: csrf, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(out.statusCode).toBe(200);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await request(`${url}/dashboard/api/overview`, { headers: { cookie } })).statusCode).toBe(401);
    await ended;
    expect((await request(`${url}/dashboard/api/events`, { headers: { cookie } })).statusCode).toBe(401);
  });
});

describe('a page of objects', () => {
  function fakeObject(i: number): CatalogObject {
    const name = `object-${String(i).padStart(6, '0')}.bin`;
    return {
      infoHash: i.toString(16).padStart(40, '0'),
      name,
      length: i * 10,
      pieceLength: 16384,
      pieceCount: 4,
      bitfield: { length: 4, get: () => i % 2 === 0, toBuffer: () => Buffer.alloc(1) } as never,
      piecesHeld: i % 2 === 0 ? 4 : 0,
      complete: i % 2 === 0,
      addedAt: 1_700_000_000_000 + i,
      expiresAt: null,
      source: null,
    };
  }
  const objects = Array.from({ length: 100_000 }, (_, i) => fakeObject(i));

  it('filters, sorts and pages 100,000 objects on the server, at most MAX_PAGE at a time', () => {
    const first = objectPage(objects, new URLSearchParams({ limit: '100000' }));
    expect(first.total).toBe(100_000);
    expect(first.items).toHaveLength(MAX_PAGE);
    expect(first.items[0]?.name).toBe('object-000000.bin');
    const filtered = objectPage(objects, new URLSearchParams({ q: 'OBJECT-0999', state: 'partial', sort: '-length' }));
    expect(filtered.total).toBe(50);
    expect(filtered.items[0]?.name).toBe('object-099999.bin');
    const paged = objectPage(objects, new URLSearchParams({ sort: 'added', offset: '99998', limit: '5' }));
    expect(paged.items.map((o) => o.name)).toEqual(['object-099998.bin', 'object-099999.bin']);
    expect(() => objectPage(objects, new URLSearchParams({ sort: 'colour' }))).toThrow(/sort/);
    expect(() => objectPage(objects, new URLSearchParams({ offset: '-1' }))).toThrow(/offset/);
  });

  it('sorts a view once for every page and request on it until the catalog changes', () => {
    const pages = new ObjectPages(() => objects);
    const view = (offset: number) => new URLSearchParams({ sort: '-length', offset: String(offset) });
    expect(pages.page(view(0)).items[0]?.name).toBe('object-099999.bin');
    expect(pages.page(view(50)).items[0]?.name).toBe('object-099949.bin');
    expect(pages.page(view(0)).items[0]?.name).toBe('object-099999.bin');
    expect(pages.sorts).toBe(1);
    pages.page(new URLSearchParams({ q: '0999' }));
    expect(pages.sorts).toBe(2);
    pages.changed();
    pages.page(view(0));
    expect(pages.sorts).toBe(3);
  });
});

describe('a page of swarms', () => {
  const swarms = Array.from({ length: 1000 }, (_, i) => ({
    infoHash: i.toString(16).padStart(40, '0'),
    version: 1,
    seeds: i % 7,
    leechers: i % 11,
    networkPeers: 0,
    pieceCount: null,
  }));

  it('filters by info hash and sorts by peers, most first by default', () => {
    const first = swarmPage(swarms, new URLSearchParams());
    expect(first.total).toBe(1000);
    expect(first.items).toHaveLength(50);
    expect(first.items[0]!.seeds + first.items[0]!.leechers).toBe(16);
    expect(swarmPage(swarms, new URLSearchParams({ q: '3e7' })).items.map((s) => s.infoHash)).toEqual([
      swarms[999]!.infoHash,
    ]);
    expect(() => swarmPage(swarms, new URLSearchParams({ sort: 'size' }))).toThrow(/sort/);
  });
});
