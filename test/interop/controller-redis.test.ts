// Two controllers on one Redis (a real redis-server) serve one fleet: an edge enrolled with a token of
// one may report to the other; both see every edge's holdings and redirect to them; exactly one, the
// holder of the lease, announces (under the fleet's one peer id); when it stops, the other takes over
// within seconds and the tracker keeps one entry for the CDN.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { type ControllerConfig, DEFAULT_CONTROLLER_CONFIG } from '../../src/config/index.ts';
import { Controller } from '../../src/controller/index.ts';
import { createTracker, type Tracker } from '../../src/tracker/index.ts';
import { type RedisServer, startRedis } from '../fixtures/redis.ts';
import { TestOrigin } from '../helpers/origin.ts';

const PIECE = 16 * 1024;
const silent = pino({ level: 'silent' });
const content = randomBytes(6 * PIECE + 77);
let dir: string;
let redis: RedisServer;
let tracker: Tracker;
let announceUrl: string;
let statsUrl: string;
let origin: TestOrigin;
let originUrl: string;
const controllers: Controller[] = [];
const edges: Agent[] = [];

function controllerConfig(name: string): ControllerConfig {
  return {
    ...DEFAULT_CONTROLLER_CONFIG,
    dataDir: join(dir, name),
    peer: { port: 0, host: '127.0.0.1' },
    http: { port: 0, host: '127.0.0.1' },
    edges: { host: '127.0.0.1', port: 0, heartbeatMs: 200, replicas: 1 },
    admin: null,
    trackers: [announceUrl],
    shutdownGraceMs: 300,
    state: { redis: { url: redis.url } },
  };
}

/** An edge reporting to `first`, and to the other controller when `first` fails. */
async function startEdge(index: number, first: Controller, token: string): Promise<Agent> {
  const urls = [first, ...controllers.filter((c) => c !== first)].map((c) => c.where().edgeUrl);
  return Agent.start(
    {
      ...DEFAULT_AGENT_CONFIG,
      dataDir: join(dir, `edge${index}`),
      peer: { port: 0, host: '127.0.0.1' },
      http: { ...DEFAULT_AGENT_CONFIG.http!, port: 0, host: '127.0.0.1' },
      admin: null,
      hashThreads: 1,
      scrub: { ...DEFAULT_AGENT_CONFIG.scrub, bytesPerSecond: 0 },
      controller: { urls, enrolToken: token },
    },
    silent,
  );
}

async function networkPeers(infoHash: string): Promise<Array<{ held: number | null }>> {
  const response = await request(`${statsUrl}/${infoHash}`);
  return ((await response.body.json()) as { networkPeers: Array<{ held: number | null }> }).networkPeers;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-controller-redis-'));
  redis = await startRedis();
  tracker = createTracker({ host: '127.0.0.1', udp: false, intervalS: 60, minIntervalS: 1 });
  ({ announceUrl, statsUrl } = await tracker.listen());
  origin = new TestOrigin();
  origin.files.set('/clip.bin', content);
  originUrl = await origin.start();
  controllers.push(await Controller.start(controllerConfig('a'), silent));
  controllers.push(await Controller.start(controllerConfig('b'), silent));
  // Tokens are the fleet's: one made on the first controller enrols an edge with the second.
  const [a, b] = controllers as [Controller, Controller];
  edges.push(await startEdge(0, a, (await a.registry.createToken(60_000, null)).token));
  edges.push(await startEdge(1, b, (await a.registry.createToken(60_000, null)).token));
});

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.stop()));
  await Promise.all(controllers.map((controller) => controller.stop()));
  await tracker?.close();
  await origin?.stop();
  await redis?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('two controllers on one Redis', () => {
  let infoHash: string;

  it('see every edge and every holding, whichever controller the edge reports to', async () => {
    const [a, b] = controllers as [Controller, Controller];
    await vi.waitFor(
      () => {
        expect(a.status().edges).toMatchObject({ enrolled: 2, up: 2 });
        expect(b.status().edges).toMatchObject({ enrolled: 2, up: 2 });
      },
      { timeout: 10_000, interval: 50 },
    );
    const results: Array<{ infoHash: string | null }> = [];
    await edges[0]!.operations.ingest({ sources: [`${originUrl}/clip.bin`], options: { pieceLength: PIECE } }, (r) =>
      results.push(r),
    );
    infoHash = results[0]!.infoHash!;
    // Reported to the first; the second knows of it (and of its metainfo) through Redis.
    await vi.waitFor(() => expect(b.catalog.get(infoHash)?.complete).toBe(true), { timeout: 5000, interval: 20 });
    const answer = await request(`${b.where().httpBaseUrls[0]}/pieces/${infoHash}/2`);
    await answer.body.dump();
    expect(answer.statusCode).toBe(302);
    expect(String(answer.headers.location).startsWith(edges[0]!.where().httpBaseUrls[0]!)).toBe(true);
  });

  it('has one leader, which alone announces, under the fleet’s one peer id', async () => {
    const [a, b] = controllers as [Controller, Controller];
    expect(a.peerId.equals(b.peerId)).toBe(true);
    await vi.waitFor(() => expect([a, b].filter((c) => c.status().leader)).toHaveLength(1), {
      timeout: 10_000,
      interval: 50,
    });
    const [follower] = [a, b].filter((c) => !c.status().leader) as [Controller];
    expect(follower.status().trackers).toEqual([]);
    await vi.waitFor(async () => expect(await networkPeers(infoHash)).toEqual([expect.objectContaining({ held: 7 })]), {
      timeout: 10_000,
      interval: 100,
    });
  });

  it('hands the lead over within seconds when the leader stops; the tracker keeps one entry', async () => {
    const leader = controllers.find((c) => c.status().leader)!;
    const follower = controllers.find((c) => c !== leader)!;
    const stoppedAt = Date.now();
    await leader.stop();
    controllers.splice(controllers.indexOf(leader), 1);
    // Handed over, not stopped: the tracker still lists the CDN before the new leader has announced.
    expect(await networkPeers(infoHash)).toEqual([expect.objectContaining({ held: 7 })]);
    await vi.waitFor(() => expect(follower.status().leader).toBe(true), { timeout: 8000, interval: 50 });
    expect(Date.now() - stoppedAt).toBeLessThan(8000);
    await vi.waitFor(async () => expect(await networkPeers(infoHash)).toEqual([expect.objectContaining({ held: 7 })]), {
      timeout: 10_000,
      interval: 100,
    });
    // The edge that reported to the stopped controller goes on with the other: both up, the object whole.
    await vi.waitFor(
      () => {
        expect(follower.status().edges).toMatchObject({ enrolled: 2, up: 2 });
        expect(follower.catalog.get(infoHash)?.complete).toBe(true);
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(edges.map((edge) => edge.status().controller?.controller)).toEqual([
      follower.where().edgeUrl,
      follower.where().edgeUrl,
    ]);
  });
});
