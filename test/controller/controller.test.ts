// The controller over real agents in this process (loopback only): enrolment, holdings in the union,
// placement of an ingest on two of three edges, redirects to a holder, pieces fetched from edges and
// verified, an edge leaving, purge on every holder, and refused tokens.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { type ControllerConfig, DEFAULT_CONTROLLER_CONFIG } from '../../src/config/index.ts';
import { Controller } from '../../src/controller/index.ts';
import type { IngestResult } from '../../src/ingest/index.ts';
import { TestOrigin } from '../helpers/origin.ts';
import { connectPeer, requestBlock, waitFor } from '../wire/helpers.ts';

const PIECE = 16 * 1024;
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });
let dir: string;
let origin: TestOrigin;
let originUrl: string;
let controller: Controller;
const edges: Agent[] = [];
/** Edges a test stopped (the others run until afterAll). */
const stopped = new Set<Agent>();
const content = Buffer.alloc(10 * PIECE + 123);
for (let i = 0; i < content.length; i += 1) content[i] = (i * 31 + (i >> 9)) & 0xff;
const clip = Buffer.alloc(8 * PIECE - 999);
for (let i = 0; i < clip.length; i += 1) clip[i] = (i * 7 + (i >> 11)) & 0xff;

async function startEdge(index: number, token: string | null): Promise<Agent> {
  return Agent.start(
    {
      ...DEFAULT_AGENT_CONFIG,
      dataDir: join(dir, `edge${index}`),
      peer: { port: 0, host: '127.0.0.1' },
      http: { ...DEFAULT_AGENT_CONFIG.http!, port: 0, host: '127.0.0.1' },
      admin: null,
      hashThreads: 1,
      scrub: { ...DEFAULT_AGENT_CONFIG.scrub, bytesPerSecond: 0 },
      controller: { urls: [controller.where().edgeUrl], enrolToken: token },
    },
    silent,
  );
}

/** The controller on loopback; `edgePort` 0 picks one (a restart passes the one the edges know). */
function controllerConfig(edgePort: number): ControllerConfig {
  return {
    ...DEFAULT_CONTROLLER_CONFIG,
    dataDir: join(dir, 'controller'),
    peer: { port: 0, host: '127.0.0.1' },
    http: { port: 0, host: '127.0.0.1' },
    // Down after three missed heartbeats: 1.5 s, so that a loaded machine's pauses do not take edges down.
    edges: { host: '127.0.0.1', port: edgePort, heartbeatMs: 500, replicas: 2 },
    admin: null,
    announce: false,
    shutdownGraceMs: 500,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-controller-'));
  origin = new TestOrigin();
  origin.files.set('/video.bin', content);
  origin.files.set('/clip.bin', clip);
  originUrl = await origin.start();
  controller = await Controller.start(controllerConfig(0), silent);
  for (let index = 0; index < 3; index += 1) {
    const { token } = await controller.registry.createToken(60_000, `edge${index}`);
    edges.push(await startEdge(index, token));
  }
  await vi.waitFor(() => expect(controller.status().edges.up).toBe(3), { timeout: 10_000, interval: 50 });
});

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.stop()));
  await controller?.stop();
  await origin?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('controller over three edges', () => {
  let infoHash: string;
  let results: IngestResult[];

  it('places an ingest on two of the three edges, which fetch from the origin themselves', async () => {
    results = [];
    await controller.operations.ingest(
      { sources: [`${originUrl}/video.bin`], options: { pieceLength: PIECE } },
      (result) => results.push(result),
    );
    expect(results).toHaveLength(2);
    expect(results.map((r) => r.status)).toEqual(['ingested', 'ingested']);
    expect(new Set(results.map((r) => r.edge)).size).toBe(2);
    infoHash = results[0]!.infoHash!;
    expect(results[1]!.infoHash).toBe(infoHash);
    const holders = edges.filter((edge) => edge.store.get(infoHash)?.complete);
    expect(holders).toHaveLength(2);
  });

  it('holds the union of its edges and knows the metainfo', async () => {
    // Each holder's delta comes on its own: wait for both.
    await vi.waitFor(() => expect(controller.catalog.copies(infoHash)?.every((copies) => copies === 2)).toBe(true), {
      timeout: 5000,
      interval: 20,
    });
    expect(controller.catalog.get(infoHash)?.complete).toBe(true);
    expect(controller.catalog.metainfoOf(infoHash)?.name).toBe('video.bin');
  });

  it('redirects object and piece URLs to an edge holding every byte asked for', async () => {
    const base = controller.where().httpBaseUrls[0]!;
    const answer = await request(`${base}/objects/${infoHash}/video.bin`, { headers: { range: 'bytes=100-40000' } });
    await answer.body.dump();
    expect(answer.statusCode).toBe(302);
    const location = String(answer.headers.location);
    const holderUrls = edges
      .filter((edge) => edge.store.get(infoHash)?.complete)
      .map((edge) => edge.where().httpBaseUrls[0]);
    expect(holderUrls.some((url) => location.startsWith(`${url}/objects/${infoHash}/`))).toBe(true);
    const followed = await request(location, { headers: { range: 'bytes=100-40000' } });
    expect(followed.statusCode).toBe(206);
    expect(Buffer.from(await followed.body.arrayBuffer())).toEqual(content.subarray(100, 40001));
    // The same piece goes to the same edge (cache affinity).
    const again = await request(`${base}/objects/${infoHash}/video.bin`, { headers: { range: 'bytes=100-40000' } });
    await again.body.dump();
    expect(again.headers.location).toBe(location);
  });

  it('serves its peers pieces fetched from the edges, verified, through its cache', async () => {
    const peer = await connectPeer(controller.where().peerPort, infoHash);
    try {
      // Every piece is held somewhere: the fast extension's have-all (BEP 6) instead of a bitfield.
      await waitFor(peer.wire, 'have-all');
      peer.wire.interested();
      await waitFor(peer.wire, 'unchoke');
      const block = await requestBlock(peer.wire, 3, 0, PIECE);
      expect(block).toEqual(content.subarray(3 * PIECE, 4 * PIECE));
      const last = await requestBlock(peer.wire, 10, 0, 123);
      expect(last).toEqual(content.subarray(10 * PIECE));
    } finally {
      peer.close();
    }
    const { fetches, cache } = controller.status();
    expect(fetches.fetched).toBe(2);
    expect(fetches.corruptPieces).toBe(0);
    expect(cache.misses).toBe(2);
  });

  it('refuses a used enrolment token and an unknown one', async () => {
    const { token } = await controller.registry.createToken(60_000, null);
    // Enrolled: the token is spent.
    edges.push(await startEdge(7, token));
    await expect(startEdge(8, token)).rejects.toMatchObject({ code: 'EDGEPEER_ENROLMENT_REFUSED' });
    await expect(startEdge(9, `ept_${'A'.repeat(43)}`)).rejects.toMatchObject({ code: 'EDGEPEER_ENROLMENT_REFUSED' });
    expect(controller.registry.stats().refusedEnrolments).toMatchObject({ used: 1, unknown: 1 });
  });

  it('drops the pieces of an edge that leaves from the union, and keeps those another edge holds', async () => {
    const holders = edges.filter((edge) => edge.store.get(infoHash)?.complete);
    await holders[0]!.stop();
    stopped.add(holders[0]!);
    await vi.waitFor(() => expect(controller.catalog.copies(infoHash)?.every((copies) => copies === 1)).toBe(true), {
      timeout: 5000,
      interval: 20,
    });
    expect(controller.catalog.get(infoHash)?.complete).toBe(true);
    expect(controller.status().edges.up).toBe(3);
  });

  it('serves a range no single edge holds itself, from several edges, verified', async () => {
    // Two live edges hold halves of another object (each ingests some pieces of it from the origin).
    const [left, right] = edges.filter((edge) => !stopped.has(edge)).slice(-2) as [Agent, Agent];
    const first: IngestResult[] = [];
    await left.operations.ingest({ sources: [`${originUrl}/clip.bin`], options: { pieceLength: PIECE } }, (r) =>
      first.push(r),
    );
    const clipHash = first[0]!.infoHash!;
    const torrent = join(dir, 'clip.torrent');
    await writeFile(torrent, (await left.operations.torrent(clipHash)).data);
    await right.operations.ingest(
      { sources: [`${originUrl}/clip.bin`], torrentFile: torrent, options: { pieces: [3, 4, 5, 6, 7] } },
      () => {},
    );
    await left.store.removePieces(clipHash, [3, 4, 5, 6, 7], 'purge');
    // Both edges' deltas in: the union complete, and no edge holding it all.
    await vi.waitFor(
      () => {
        expect(controller.catalog.get(clipHash)?.complete).toBe(true);
        expect(controller.catalog.holdersOfSpan(clipHash, 0, 7)).toEqual([]);
      },
      { timeout: 5000, interval: 20 },
    );
    const base = controller.where().httpBaseUrls[0]!;
    const fetchedBefore = controller.status().fetches.fetched;
    const whole = await request(`${base}/objects/${clipHash}/clip.bin`, { headers: { range: 'bytes=30000-100000' } });
    expect(whole.statusCode).toBe(206);
    expect(Buffer.from(await whole.body.arrayBuffer())).toEqual(clip.subarray(30000, 100001));
    expect(controller.status().fetches.fetched).toBeGreaterThan(fetchedBefore);
    // A range within one edge's half is still redirected there.
    const piece = await request(`${base}/pieces/${clipHash}/4`);
    await piece.body.dump();
    expect(piece.statusCode).toBe(302);
    expect(String(piece.headers.location).startsWith(right.where().httpBaseUrls[0]!)).toBe(true);

    // Connected peers follow the union: lt_donthave when its last holder drops a piece, have when it is back.
    const peer = await connectPeer(controller.where().peerPort, clipHash, { extensions: ['lt_donthave'] });
    try {
      await waitFor(peer.wire, 'have-all');
      const donthave = waitFor<[string, Uint8Array]>(peer.wire, 'extended', (name) => name === 'lt_donthave');
      await right.store.removePieces(clipHash, [5], 'purge');
      expect(Buffer.from((await donthave)[1]).readUInt32BE(0)).toBe(5);
      // As a client does on lt_donthave: piece 5 no longer held (bittorrent-protocol, which knows nothing of
      // lt_donthave, would drop a have of a piece its have-all still counts).
      Object.assign(peer.wire, { peerPieces: { get: (index: number) => index !== 5, set: () => {} } });
      const have = waitFor<[number]>(peer.wire, 'have', (index) => index === 5);
      await left.operations.ingest(
        { sources: [`${originUrl}/clip.bin`], infoHash: clipHash, options: { pieces: [5] } },
        () => {},
      );
      await have;
    } finally {
      peer.close();
    }
  });

  it('ingests some pieces of a known object on its edges (--info-hash with --pieces), the metainfo sent along', async () => {
    const clipHash = controller.catalog.list().find((object) => object.name === 'clip.bin')!.infoHash;
    const results: IngestResult[] = [];
    await controller.operations.ingest(
      { sources: [`${originUrl}/clip.bin`], infoHash: clipHash, options: { pieces: [6, 7] } },
      (result) => results.push(result),
    );
    expect(results).toHaveLength(2);
    for (const result of results) {
      expect(result.status, JSON.stringify(result)).not.toBe('failed');
      const url = controller.catalog.edge(result.edge!)?.liveness?.address.httpBaseUrl;
      const edge = edges.find((agent) => !stopped.has(agent) && agent.where().httpBaseUrls[0] === url);
      expect(
        edge,
        `${url} of ${result.edge} among ${edges.map((agent) => agent.where().httpBaseUrls[0])}`,
      ).toBeDefined();
      expect([6, 7].map((piece) => edge!.store.get(clipHash)?.bitfield.get(piece))).toEqual([true, true]);
    }
  });

  it('reloads: replicas and trackers apply at once, listening addresses at the next start', async () => {
    const config = controller.config;
    const outcome = await controller.reload(
      { ...config, edges: { ...config.edges, replicas: 3, port: 1 }, peer: { ...config.peer, port: 1 } },
      'silent',
      pino({ level: 'silent' }),
    );
    expect(outcome).toEqual({ applied: ['edges.replicas'], restartNeeded: ['peer', 'edges.port'], failed: [] });
    expect(controller.config.edges).toMatchObject({ replicas: 3, port: config.edges.port });
    await controller.reload(
      { ...controller.config, edges: { ...controller.config.edges, replicas: 2 } },
      'silent',
      silent,
    );
  });

  it('restarts: edges resync their holdings and metainfo, their credentials still good', async () => {
    const edgePort = Number(new URL(controller.where().edgeUrl).port);
    await controller.stop();
    controller = await Controller.start(controllerConfig(edgePort), silent);
    // No holdings and no metainfo survive in memory: both come back from the edges.
    expect(controller.catalog.get(infoHash)).toBeUndefined();
    await vi.waitFor(() => expect(controller.catalog.get(infoHash)?.complete).toBe(true), {
      timeout: 10_000,
      interval: 50,
    });
    await vi.waitFor(() => expect(controller.status().edges).toMatchObject({ enrolled: 4, up: 3 }), {
      timeout: 10_000,
      interval: 50,
    });
    expect(controller.registry.stats().unauthorized).toBe(0);
  });

  it('purges through every holder; the object leaves the union; the edge that is down has it queued', async () => {
    const purged = await controller.operations.purge({ ids: [infoHash] });
    const down = controller.catalog.edges().filter((edge) => edge.liveness === undefined);
    expect(purged.map((result) => result.status).sort()).toEqual(['purged', ...down.map(() => 'queued')].sort());
    await vi.waitFor(() => expect(controller.catalog.get(infoHash)).toBeUndefined(), { timeout: 5000, interval: 20 });
    // The edge stopped earlier still holds it: it was down when the purge came.
    const [away] = [...stopped];
    expect(edges.filter((edge) => edge.store.get(infoHash) !== undefined)).toEqual([away]);
    expect(await controller.fleet.queuedPurges(idOf(away!))).toEqual([
      { infoHash, pieces: null, queuedAt: expect.any(Number) },
    ]);
  });

  it('purges an object on an edge that was down when the purge came, when it is back', async () => {
    const [away] = [...stopped] as [Agent];
    const index = edges.indexOf(away);
    const sentBefore = controller.registry.stats().queuedPurgesSent;
    edges[index] = await startEdge(index, null);
    stopped.delete(away);
    await vi.waitFor(() => expect(controller.registry.stats().queuedPurgesSent).toBe(sentBefore + 1), {
      timeout: 10_000,
      interval: 20,
    });
    expect(edges[index]!.store.get(infoHash)).toBeUndefined();
    expect(await controller.fleet.queuedPurges(idOf(edges[index]!))).toEqual([]);
    // Never counted back into the union for good, and the tracker is not told of it.
    await vi.waitFor(() => expect(controller.catalog.known(infoHash)?.piecesHeld ?? 0).toBe(0), {
      timeout: 5000,
      interval: 20,
    });
  });
});

/** The controller's id of an edge (its link's status keeps it, stopped or not). */
function idOf(agent: Agent): string {
  return agent.status().controller?.edgeId as string;
}
