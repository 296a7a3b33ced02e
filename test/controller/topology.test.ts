// The controller with ALTO maps, over three real agents in this process, each edge on its own loopback
// /24 standing for a PID: an HTTP client is redirected to the holder nearest to it (cost first), pieces
// for peers come from the holder nearest to the controller's home address, and bytes are counted within
// and across PIDs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { DEFAULT_CONTROLLER_CONFIG } from '../../src/config/index.ts';
import { Controller } from '../../src/controller/index.ts';
import { TestOrigin } from '../helpers/origin.ts';
import { connectPeer, requestBlock, waitFor } from '../wire/helpers.ts';

const PIECE = 16 * 1024;
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });
const content = Buffer.alloc(6 * PIECE + 77);
for (let i = 0; i < content.length; i += 1) content[i] = (i * 13 + (i >> 10)) & 0xff;
// a, b, c hold an edge each; d holds none, and is nearest to c.
const PIDS = { a: '127.0.1', b: '127.0.2', c: '127.0.3', d: '127.0.4' };

let dir: string;
let origin: TestOrigin;
let controller: Controller;
const edges: Agent[] = [];
let infoHash: string;

/** GET from `sourceIp`: the status and the Location. */
function getFrom(url: string, sourceIp: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress: sourceIp, headers: { range: 'bytes=0-20000' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-controller-topology-'));
  await writeFile(
    join(dir, 'networkmap.json'),
    JSON.stringify({
      'network-map': Object.fromEntries(
        Object.entries(PIDS).map(([pid, prefix]) => [pid, { ipv4: [`${prefix}.0/24`] }]),
      ),
    }),
  );
  const costs = { a: { b: 5, c: 9, d: 9 }, b: { a: 5, c: 5, d: 9 }, c: { a: 9, b: 5, d: 2 }, d: { a: 7, b: 9, c: 2 } };
  await writeFile(
    join(dir, 'costmap.json'),
    JSON.stringify({
      meta: { 'cost-type': { 'cost-mode': 'numerical', 'cost-metric': 'routingcost' } },
      'cost-map': costs,
    }),
  );
  origin = new TestOrigin();
  origin.files.set('/video.bin', content);
  const originUrl = await origin.start();
  controller = await Controller.start(
    {
      ...DEFAULT_CONTROLLER_CONFIG,
      dataDir: join(dir, 'controller'),
      peer: { port: 0, host: '127.0.0.1' },
      http: { port: 0, host: '127.0.0.1' },
      edges: { host: '127.0.0.1', port: 0, heartbeatMs: 500, replicas: 3 },
      admin: null,
      announce: false,
      shutdownGraceMs: 500,
      topology: {
        networkMap: join(dir, 'networkmap.json'),
        costMap: join(dir, 'costmap.json'),
        refreshS: 300,
        homeAddress: `${PIDS.b}.9`,
      },
    },
    silent,
  );
  for (const [index, prefix] of [PIDS.a, PIDS.b, PIDS.c].entries()) {
    const { token } = await controller.registry.createToken(60_000, `edge${index}`);
    edges.push(
      await Agent.start(
        {
          ...DEFAULT_AGENT_CONFIG,
          dataDir: join(dir, `edge${index}`),
          peer: { port: 0, host: `${prefix}.1` },
          http: { ...DEFAULT_AGENT_CONFIG.http!, port: 0, host: `${prefix}.1` },
          admin: null,
          hashThreads: 1,
          scrub: { ...DEFAULT_AGENT_CONFIG.scrub, bytesPerSecond: 0 },
          controller: { urls: [controller.where().edgeUrl], enrolToken: token },
        },
        silent,
      ),
    );
  }
  await vi.waitFor(() => expect(controller.status().edges.up).toBe(3), { timeout: 10_000, interval: 50 });
  const results: Array<{ infoHash?: string | null }> = [];
  await controller.operations.ingest(
    { sources: [`${originUrl}/video.bin`], options: { pieceLength: PIECE } },
    (result) => results.push(result),
  );
  infoHash = results[0]!.infoHash!;
  await vi.waitFor(() => expect(controller.catalog.copies(infoHash)?.every((copies) => copies === 3)).toBe(true), {
    timeout: 10_000,
    interval: 20,
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.stop()));
  await controller?.stop();
  await origin?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('controller with ALTO maps', () => {
  it('redirects each client to the holder nearest to it, cost before load and affinity', async () => {
    const base = controller.where().httpBaseUrls[0]!;
    for (const [client, expected] of [
      [`${PIDS.a}.50`, PIDS.a],
      [`${PIDS.b}.50`, PIDS.b],
      [`${PIDS.c}.50`, PIDS.c],
      [`${PIDS.d}.50`, PIDS.c],
    ] as const) {
      // Several pieces: rendezvous alone would spread them over the three holders.
      for (let piece = 0; piece < 6; piece++) {
        const answer = await getFrom(`${base}/pieces/${infoHash}/${piece}`, client);
        expect(answer.status).toBe(302);
        expect(answer.location, `${client} piece ${piece}`).toMatch(
          new RegExp(`^http://${expected.replaceAll('.', '\\.')}\\.1:`),
        );
      }
    }
    const topology = controller.status().topology!;
    expect(topology.redirectedBytes.within).toBe(3 * 6 * PIECE);
    expect(topology.redirectedBytes.across).toBe(6 * PIECE);
    expect(topology.homePid).toBe('b');
  });

  it('fetches pieces for peers from the holder nearest to the controller', async () => {
    const peer = await connectPeer(controller.where().peerPort, infoHash);
    try {
      await waitFor(peer.wire, 'have-all');
      peer.wire.interested();
      await waitFor(peer.wire, 'unchoke');
      for (let piece = 0; piece < 6; piece++) {
        expect(await requestBlock(peer.wire, piece, 0, PIECE)).toEqual(
          content.subarray(piece * PIECE, (piece + 1) * PIECE),
        );
      }
    } finally {
      peer.close();
    }
    const { fetchedBytes } = controller.status().topology!;
    expect(fetchedBytes).toEqual({ within: 6 * PIECE, across: 0, unmapped: 0 });
  });
});
