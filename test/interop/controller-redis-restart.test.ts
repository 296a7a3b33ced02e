// A restart of Redis under a controller and its edges: the controller's connections come back by themselves,
// the edges' calls that failed meanwhile make them send their whole state again, and no edge, object or
// credential is lost (Redis with an append-only file, as a deployment runs it). Without one, Redis comes back
// empty: the controller puts back the edges and the peer id it knows, and the edges resync.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { DEFAULT_CONTROLLER_CONFIG } from '../../src/config/index.ts';
import { Controller } from '../../src/controller/index.ts';
import { type RedisServer, startRedis } from '../fixtures/redis.ts';

const silent = pino({ level: 'silent' });
let dir: string;
let redis: RedisServer;
let controller: Controller;
let edge: Agent;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-redis-restart-'));
  redis = await startRedis({ persist: true });
  controller = await Controller.start(controllerConfig(join(dir, 'controller'), redis.url), silent);
  const { token } = await controller.registry.createToken(60_000, null);
  edge = await Agent.start(edgeConfig(join(dir, 'edge'), controller.where().edgeUrl, token), silent);
});

function controllerConfig(dataDir: string, redisUrl: string) {
  return {
    ...DEFAULT_CONTROLLER_CONFIG,
    dataDir,
    peer: { port: 0, host: '127.0.0.1' },
    http: { port: 0, host: '127.0.0.1' },
    edges: { host: '127.0.0.1', port: 0, heartbeatMs: 200, replicas: 1 },
    admin: null,
    announce: false,
    shutdownGraceMs: 300,
    state: { redis: { url: redisUrl } },
  };
}

function edgeConfig(dataDir: string, edgeUrl: string, token: string) {
  return {
    ...DEFAULT_AGENT_CONFIG,
    dataDir,
    peer: { port: 0, host: '127.0.0.1' },
    http: { ...DEFAULT_AGENT_CONFIG.http!, port: 0, host: '127.0.0.1' },
    admin: null,
    hashThreads: 1,
    scrub: { ...DEFAULT_AGENT_CONFIG.scrub, bytesPerSecond: 0 },
    controller: { urls: [edgeUrl], enrolToken: token },
  };
}

afterAll(async () => {
  await edge?.stop();
  await controller?.stop();
  await redis?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Redis restarts empty under a controller and an edge', () => {
  it('gets the edges and the peer id back from the controller: the edge is not refused, its holdings resync', async () => {
    const empty = await startRedis({ persist: false });
    const own = join(dir, 'empty');
    const lone = await Controller.start(controllerConfig(join(own, 'controller'), empty.url), silent);
    const peerId = Buffer.from(lone.peerId);
    const { token } = await lone.registry.createToken(60_000, null);
    const member = await Agent.start(edgeConfig(join(own, 'edge'), lone.where().edgeUrl, token), silent);
    try {
      const path = join(own, 'clip.bin');
      await writeFile(path, randomBytes(100_000));
      const results: Array<{ infoHash: string | null }> = [];
      await member.operations.ingest({ sources: [path], options: {} }, (r) => results.push(r));
      const infoHash = results[0]!.infoHash!;
      await vi.waitFor(() => expect(lone.catalog.get(infoHash)?.complete).toBe(true), { timeout: 5000, interval: 20 });

      await empty.stop();
      await empty.restart();
      await vi.waitFor(
        async () => {
          expect(await lone.fleet.listEdges()).toHaveLength(1);
          expect(await lone.fleet.holdersOf(infoHash)).toHaveLength(1);
          expect(member.status().controller).toMatchObject({ connected: true, lastError: null });
        },
        { timeout: 15_000, interval: 100 },
      );
      expect(lone.registry.stats().unauthorized).toBe(0);
      expect(Buffer.from(await lone.fleet.sharedPeerId(Buffer.alloc(20, 9)))).toEqual(peerId);
    } finally {
      await member.stop();
      await lone.stop();
      await empty.dispose();
    }
  });
});

describe('Redis restarts under a controller and an edge', () => {
  it('loses no edge, object or credential: the edge goes on, its holdings resync', async () => {
    const path = join(dir, 'clip.bin');
    await writeFile(path, randomBytes(100_000));
    const results: Array<{ infoHash: string | null }> = [];
    await edge.operations.ingest({ sources: [path], options: {} }, (r) => results.push(r));
    const infoHash = results[0]!.infoHash!;
    await vi.waitFor(() => expect(controller.catalog.get(infoHash)?.complete).toBe(true), {
      timeout: 5000,
      interval: 20,
    });

    await redis.stop();
    await redis.restart();
    // The edge's credential is still good (401 would leave it refused), and its state comes back whole.
    await vi.waitFor(
      async () => {
        expect(edge.status().controller).toMatchObject({ connected: true, lastError: null });
        expect(await controller.fleet.holdersOf(infoHash)).toHaveLength(1);
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(controller.catalog.get(infoHash)?.complete).toBe(true);
    expect(controller.registry.stats().unauthorized).toBe(0);
    expect(await controller.fleet.listEdges()).toHaveLength(1);
  });
});
