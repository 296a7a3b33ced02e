// The tracker's dashboard in process over a stub of its swarm store: login with the token, the swarm list
// read once for all requests until a swarm changes, and a swarm's statistics.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendError } from '../../src/admin/index.ts';
import { createTrackerDashboard, type Dashboard, type SwarmListItem } from '../../src/dashboard/index.ts';

const TOKEN = 'tracker-token-for-tests';
const HASH = 'ab'.repeat(20);
let lists = 0;
let changed: (infoHash: string, version: number) => void = () => {};
const swarms: SwarmListItem[] = [{ infoHash: HASH, version: 3, seeds: 1, leechers: 2, networkPeers: 1, pieceCount: 4 }];
let dashboard: Dashboard;
let server: Server;
let url: string;

beforeAll(async () => {
  dashboard = createTrackerDashboard({
    token: TOKEN,
    swarms: {
      list: async () => {
        lists += 1;
        return swarms;
      },
      stats: async (infoHash) => ({ infoHash, version: 3, pieceCopies: [1, 2, 0, 1] }),
      counts: async () => ({ swarms: 1, peers: 3, bitmapBytes: 1, evictedSwarms: 0 }),
      onChange: (listener) => {
        changed = listener;
        return () => {};
      },
    },
  });
  server = createServer((req, res) => {
    dashboard.handle(req, res).then(
      (answered) => answered || res.writeHead(404).end(),
      (err) => sendError(res, err),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  dashboard.close();
  await new Promise((resolve) => server.close(resolve));
});

describe("the tracker's dashboard", () => {
  it('opens with its token only, and reads the swarm list once until a swarm changes', async () => {
    expect((await request(`${url}/dashboard/api/swarms`)).statusCode).toBe(401);
    const wrong = await request(`${url}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${TOKEN}x`,
    });
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const login = await request(`${url}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${TOKEN}`,
    });
    const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
    const get = async (path: string) =>
      (await (await request(`${url}/dashboard/api/${path}`, { headers: { cookie } })).body.json()) as {
        total?: number;
        items?: SwarmListItem[];
        pieceCopies?: number[];
      };
    expect((await get('swarms')).items?.map((s) => s.infoHash)).toEqual([HASH]);
    await get('swarms?sort=hash');
    expect(lists).toBe(1);
    changed(HASH, 4);
    await get('swarms');
    expect(lists).toBe(2);
    expect((await get(`swarms/${HASH}`)).pieceCopies).toEqual([1, 2, 0, 1]);
  });
});
