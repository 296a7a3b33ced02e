// The controller's dashboard API in process: its overview carries the rate history sampled from the
// controller's counters, and its peers route gives each peer wire connection with its rate and pieces.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, createAdminServer, ensureToken } from '../../src/admin/index.ts';
import { createControllerDashboard, type Dashboard } from '../../src/dashboard/index.ts';
import type { PeerInfo } from '../../src/wire/index.ts';

let dir: string;
let server: AdminServer;
let dashboard: Dashboard;
let url: string;
let cookie: string;
let sentBytes = 0;
let uploadedBytes = 0;

const peer = (): PeerInfo => ({
  address: '127.0.0.1',
  port: 40_000,
  infoHash: 'ab'.repeat(20),
  peerId: '-LT2080-abcdefghijkl',
  fast: true,
  choked: false,
  interested: true,
  queuedRequests: 0,
  uploadedBytes,
  connectedAt: 1,
  piecesHeld: 7,
  pieceCount: 30,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-controller-dashboard-'));
  const token = await ensureToken(join(dir, 'admin.token'));
  const refuse = () => Promise.reject(new Error('not in this test'));
  dashboard = createControllerDashboard({
    token,
    operations: { purge: refuse, ingest: refuse, show: refuse },
    fleet: {
      list: () => [],
      get: () => undefined,
      holdings: () => [],
      copies: () => undefined,
      onChange: () => undefined,
    },
    status: () => ({
      leader: true,
      edges: { enrolled: 1, up: 1, serving: 1 },
      objects: 0,
      objectsComplete: 0,
      cache: { hits: 1, misses: 1, bytes: 0, maxBytes: 1 },
      fetches: { fetched: 0, bytesFetched: 0, fetchFailures: 0, corruptPieces: 0 },
      wire: { connections: 1 },
      http: null,
      trackers: [],
      ims: null,
    }),
    edges: () => [],
    drain: async () => false,
    peers: () => [peer()],
    counters: () => ({ sentBytes, pulledBytes: sentBytes / 2, connections: 1 }),
    everyMs: 100,
  });
  server = createAdminServer({
    operations: {} as never,
    pages: (req, res) => dashboard.handle(req, res),
    token,
    host: '127.0.0.1',
    port: 0,
    status: () => ({}),
  });
  url = await server.listen();
  const login = await request(`${url}/dashboard/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  cookie = String(login.headers['set-cookie']).split(';')[0] as string;
});

afterAll(async () => {
  dashboard.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function get<T>(path: string): Promise<T> {
  const res = await request(`${url}/dashboard/api/${path}`, { headers: { cookie } });
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as T;
}

describe("the controller's dashboard API", () => {
  it('gives the overview the rates of its counters, sampled while no page is open', async () => {
    type Overview = { rates: Array<{ at: number; sentPerSecond: number; pulledPerSecond: number }> };
    sentBytes = 1_000_000;
    let overview = await get<Overview>('overview');
    while (!overview.rates.some((point) => point.sentPerSecond > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      overview = await get<Overview>('overview');
    }
    const moving = overview.rates.find((point) => point.sentPerSecond > 0);
    expect(moving?.pulledPerSecond).toBeCloseTo((moving?.sentPerSecond ?? 0) / 2);
  });

  it('lists its peers with their pieces and a rate from two looks at their byte counters', async () => {
    type Peers = { peers: Array<PeerInfo & { sentPerSecond: number | null }> };
    const first = await get<Peers>('peers');
    expect(first.peers[0]).toMatchObject({ piecesHeld: 7, pieceCount: 30, peerId: '-LT2080-abcdefghijkl' });
    uploadedBytes = 64 * 1024;
    let next = await get<Peers>('peers');
    while (next.peers[0]?.sentPerSecond === null || next.peers[0]?.sentPerSecond === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      next = await get<Peers>('peers');
    }
    expect(next.peers[0]?.sentPerSecond).toBeGreaterThan(0);
  });
});
