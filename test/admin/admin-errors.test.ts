// The admin API's answers to what it cannot take: every body and path parameter checked, 400 naming the
// field; every error code answered with its catalogue status and rebuilt by the client with its exit code.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, createAdminServer, RemoteOperations, StoreOperations } from '../../src/admin/index.ts';
import { EdgepeerError, ERRORS, type ErrorCode } from '../../src/errors/index.ts';
import { createHashPool, type HashPool } from '../../src/hashing/index.ts';
import { OriginClient } from '../../src/ingest/index.ts';
import { openStore, type StagingStore, type Store } from '../../src/store/index.ts';
import { captureLog } from '../helpers/log.ts';

const TOKEN = 'a'.repeat(64);
let dir: string;
let store: Store & StagingStore;
let pool: HashPool;
let origin: OriginClient;
let server: AdminServer;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-admin-errors-'));
  store = await openStore(join(dir, 'store'), { mode: 'write' });
  pool = createHashPool({ threads: 1 });
  origin = new OriginClient({ timeoutMs: 2000, connections: 2 });
  server = createAdminServer({
    operations: new StoreOperations({ store, ingestContext: () => ({ store, hashPool: pool, origin }) }),
    token: TOKEN,
    host: '127.0.0.1',
    port: 0,
    status: () => ({}),
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

async function post(path: string, body: string) {
  const response = await request(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body,
  });
  return { status: response.statusCode, body: (await response.body.json()) as { error?: Record<string, string> } };
}

describe('admin API request checks', () => {
  it.each([
    ['a string where the sources array goes', '/v1/ingest', '{"sources":"/etc/passwd"}', /sources must be an array/],
    ['null', '/v1/ingest', 'null', /request body: must be a JSON object/],
    ['an array', '/v1/purge', '[]', /request body: must be a JSON object/],
    ['a number among the sources', '/v1/ingest', '{"sources":["/a",7]}', /sources\.1 /],
    ['an empty source', '/v1/ingest', '{"sources":[""]}', /sources\.0 must not be empty/],
    [
      'options of the wrong type',
      '/v1/ingest',
      '{"sources":["/a"],"options":{"ttlMs":"1d"}}',
      /options\.ttlMs must be a number/,
    ],
    ['an unknown field', '/v1/ingest', '{"sources":["/a"],"manifest":"/etc/x"}', /unknown field manifest/],
    ['ids as a string', '/v1/purge', '{"ids":"abc"}', /ids must be an array/],
    ['expired as a string', '/v1/purge', '{"ids":[],"expired":"yes"}', /expired must be true or false/],
    ['no body at all', '/v1/purge', '', /not JSON/],
  ])('refuses %s with 400 naming the field', async (_what, path, body, message) => {
    const answer = await post(path, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error?.code).toBe('EDGEPEER_INVALID_ARGUMENT');
    expect(answer.body.error?.message).toMatch(message);
    expect(store.list()).toEqual([]); // nothing was ingested, character by character or otherwise
  });

  it('refuses bad percent-encoding in an object id with 400, not 500', async () => {
    for (const path of ['/v1/objects/%ZZ', '/v1/objects/%E0%A4%A/torrent']) {
      const response = await request(`${url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(response.statusCode, path).toBe(400);
      expect(await response.body.json()).toMatchObject({
        error: { code: 'EDGEPEER_INVALID_ARGUMENT', subject: 'id', message: expect.stringMatching(/percent-encoding/) },
      });
    }
  });

  it('answers a wrong token with 401 and the catalogue code', async () => {
    const response = await request(`${url}/v1/objects`, { headers: { authorization: 'Bearer nope' } });
    expect(response.statusCode).toBe(ERRORS.EDGEPEER_UNAUTHORIZED.httpStatus);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="edgepeer"');
    expect(await response.body.json()).toMatchObject({ error: { code: 'EDGEPEER_UNAUTHORIZED' } });
    const remote = new RemoteOperations(url, 'b'.repeat(64));
    await expect(remote.list()).rejects.toMatchObject({ code: 'EDGEPEER_UNAUTHORIZED', exitCode: 8 });
    await remote.close();
  });
});

describe('admin API and CLI agree on every error code', () => {
  let coded: AdminServer;
  let codedUrl: string;

  beforeAll(async () => {
    // Stand-in operations that fail with the code named by the object id: no real store produces every code.
    const failing = {
      show: async (id: string) => {
        throw new EdgepeerError(id as ErrorCode, `failed with ${id}`, { subject: id });
      },
    } as unknown as StoreOperations;
    coded = createAdminServer({ operations: failing, token: TOKEN, host: '127.0.0.1', port: 0, status: () => ({}) });
    codedUrl = await coded.listen();
  });

  afterAll(() => coded.close());

  it.each(Object.keys(ERRORS))(
    '%s: the catalogue status over HTTP, the catalogue exit code in the CLI',
    async (code) => {
      const row = ERRORS[code as ErrorCode];
      const response = await request(`${codedUrl}/v1/objects/${code}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(response.statusCode).toBe(row.httpStatus);
      await response.body.dump();
      const remote = new RemoteOperations(codedUrl, TOKEN);
      try {
        await expect(remote.show(code)).rejects.toMatchObject({
          code,
          exitCode: row.exitCode,
          details: { subject: code },
        });
      } finally {
        await remote.close();
      }
    },
  );

  it('an answer without an edgepeer error (a proxy in between) is the agent answering badly: exit 7', async () => {
    const proxy = createServer((_req, res) =>
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>'),
    );
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const remote = new RemoteOperations(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, TOKEN);
    try {
      await expect(remote.list()).rejects.toMatchObject({ code: 'EDGEPEER_AGENT_BAD_RESPONSE', exitCode: 7 });
    } finally {
      await remote.close();
      proxy.close();
    }
  });
});

describe('admin API listening address', () => {
  it('warns when it listens beyond loopback, and not on loopback', async () => {
    for (const host of ['127.0.0.1', '0.0.0.0']) {
      const log = captureLog();
      const api = createAdminServer({
        operations: {} as StoreOperations,
        token: TOKEN,
        host,
        port: 0,
        status: () => ({}),
        logger: log.logger,
      });
      await api.listen(); // no request is made: nothing leaves loopback
      await api.close();
      const warnings = log.lines.filter((l) => l.level === 40);
      if (host === '127.0.0.1') expect(warnings).toEqual([]);
      else
        expect(warnings).toEqual([
          expect.objectContaining({ address: '0.0.0.0', msg: expect.stringMatching(/beyond loopback/) }),
        ]);
    }
  });
});
