import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdminServer,
  createAdminServer,
  ensureToken,
  RemoteOperations,
  StoreOperations,
} from '../../src/admin/index.ts';
import { createHashPool, type HashPool } from '../../src/hashing/index.ts';
import type { IngestResult } from '../../src/ingest/index.ts';
import { OriginClient } from '../../src/ingest/index.ts';
import { openStore, type StagingStore, type Store } from '../../src/store/index.ts';

let dir: string;
let store: Store & StagingStore;
let pool: HashPool;
let origin: OriginClient;
let server: AdminServer;
let url: string;
let token: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-admin-'));
  store = await openStore(join(dir, 'store'), { mode: 'write' });
  pool = createHashPool({ threads: 1 });
  origin = new OriginClient({ timeoutMs: 2000, connections: 2 });
  token = await ensureToken(join(dir, 'admin.token'));
  server = createAdminServer({
    operations: new StoreOperations({ store, ingestContext: () => ({ store, hashPool: pool, origin }) }),
    token,
    host: '127.0.0.1',
    port: 0,
    status: () => ({ objects: store.list().length }),
    metrics: async () => ({ contentType: 'text/plain', body: 'edgepeer_up 1\n' }),
  });
  url = await server.listen();
});

afterAll(async () => {
  await server.close();
  await origin.close();
  await pool.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('admin API: /metrics behind the token', () => {
  it('answers /metrics only with the token when admin.metricsToken is on; /healthz stays open', async () => {
    const guarded = createAdminServer({
      operations: new StoreOperations({ store, ingestContext: () => ({ store, hashPool: pool, origin }) }),
      token,
      host: '127.0.0.1',
      port: 0,
      status: () => ({}),
      metrics: async () => ({ contentType: 'text/plain', body: 'edgepeer_up 1\n' }),
      metricsToken: true,
    });
    const guardedUrl = await guarded.listen();
    try {
      const anonymous = await request(`${guardedUrl}/metrics`);
      await anonymous.body.dump();
      expect(anonymous.statusCode).toBe(401);
      const withToken = await request(`${guardedUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(await withToken.body.text()).toContain('edgepeer_up 1');
      expect((await request(`${guardedUrl}/healthz`)).statusCode).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('admin API', () => {
  it('keeps the token file private and stable', async () => {
    const { stat } = await import('node:fs/promises');
    expect((await stat(join(dir, 'admin.token'))).mode & 0o777).toBe(0o600);
    expect(await ensureToken(join(dir, 'admin.token'))).toBe(token);
  });

  it('refuses requests without the right bearer token, but serves health and metrics', async () => {
    expect((await request(`${url}/v1/status`)).statusCode).toBe(401);
    const wrong = await request(`${url}/v1/objects`, { headers: { authorization: `Bearer ${token.slice(1)}x` } });
    expect(wrong.statusCode).toBe(401);
    expect((await request(`${url}/healthz`)).statusCode).toBe(200);
    expect(await (await request(`${url}/metrics`)).body.text()).toContain('edgepeer_up 1');
  });

  it('ingests, lists, shows, writes torrents and purges for a client holding the token', async () => {
    const remote = new RemoteOperations(url, token);
    try {
      const file = join(dir, 'a.bin');
      await writeFile(file, Buffer.alloc(220_000, 7));
      const results: IngestResult[] = [];
      await remote.ingest({ sources: [file, join(dir, 'missing.bin')], options: {} }, (r) => results.push(r));
      expect(results.map((r) => r.status)).toEqual(['ingested', 'failed']);
      expect(results[1]?.error?.code).toBe('EDGEPEER_SOURCE_UNREADABLE');
      // Options travel to the agent's ingest, which checks them (`ingest --timeout` through an agent).
      const timedOut: IngestResult[] = [];
      await remote.ingest({ sources: ['http://127.0.0.1:9/x.bin'], options: { originTimeoutMs: -5 } }, (r) =>
        timedOut.push(r),
      );
      expect(timedOut[0]?.error).toMatchObject({ code: 'EDGEPEER_INVALID_ARGUMENT' });
      expect(timedOut[0]?.error?.message).toMatch(/origin timeout .* got -5/);
      expect((await remote.list()).map((o) => o.name)).toEqual(['a.bin']);
      expect(await remote.show('a.bin')).toMatchObject({ name: 'a.bin', complete: true, transfer: null });
      expect((await remote.torrent('a.bin')).infoHash).toBe(results[0]?.infoHash);
      // Piece lists travel as text ("0,2-3") and arrive as indexes, checked against the object.
      expect(await remote.purge({ ids: ['a.bin'], pieces: [0, 2, 3] })).toMatchObject([
        { status: 'pieces-purged', piecesRemoved: 3 },
      ]);
      expect(await remote.show('a.bin')).toMatchObject({ piecesHeld: 4 });
      const beyond = await remote.purge({ ids: ['a.bin'], pieces: [99] });
      expect(beyond[0]).toMatchObject({ status: 'failed', error: { code: 'EDGEPEER_INVALID_ARGUMENT' } });
      expect(beyond[0]?.error?.message).toBe('piece 99 is out of range: a.bin has pieces 0 to 6');
      expect(await remote.purge({ ids: ['a.bin'] })).toMatchObject([{ status: 'purged' }]);
      expect(await remote.status()).toEqual({ objects: 0 });
    } finally {
      await remote.close();
    }
  });

  it('turns errors into their codes and HTTP statuses', async () => {
    const remote = new RemoteOperations(url, token);
    try {
      await expect(remote.show('nothing')).rejects.toMatchObject({ code: 'EDGEPEER_NOT_FOUND', exitCode: 4 });
      const garbage = await request(`${url}/v1/purge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: '{not json',
      });
      expect(garbage.statusCode).toBe(400);
      expect(await garbage.body.json()).toMatchObject({ error: { code: 'EDGEPEER_INVALID_ARGUMENT' } });
      const badList = await request(`${url}/v1/purge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ ids: ['x'], pieces: '3-1' }),
      });
      expect(badList.statusCode).toBe(400);
      expect(((await badList.body.json()) as { error: { message: string } }).error.message).toContain(
        'piece list "3-1": range "3-1" is reversed',
      );
    } finally {
      await remote.close();
    }
  });

  it('says clearly when the agent does not answer', async () => {
    const remote = new RemoteOperations('http://127.0.0.1:1', token);
    await expect(remote.list()).rejects.toMatchObject({ code: 'EDGEPEER_AGENT_UNREACHABLE', exitCode: 7 });
    await remote.close();
  });
});
