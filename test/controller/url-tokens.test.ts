// Signed URL tokens through the controller, over real agents in this process (loopback only): the controller
// checks a client's token before redirecting, the redirect carries a fresh short-lived token the edge
// accepts, and the controller's own piece fetches from edges (a range no single edge holds) carry one too.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { parseToken, REDIRECT_TOKEN_TTL_S, signToken } from '../../src/auth/index.ts';
import { DEFAULT_CONTROLLER_CONFIG } from '../../src/config/index.ts';
import { Controller } from '../../src/controller/index.ts';
import type { IngestResult } from '../../src/ingest/index.ts';
import { TestOrigin } from '../helpers/origin.ts';

const PIECE = 16 * 1024;
const KEY = Buffer.alloc(32, 0x5a);
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });
const clip = Buffer.alloc(8 * PIECE - 999);
for (let i = 0; i < clip.length; i += 1) clip[i] = (i * 7 + (i >> 11)) & 0xff;
let dir: string;
let origin: TestOrigin;
let controller: Controller;
const edges: Agent[] = [];
let clipHash: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-controller-tokens-'));
  const keyFile = join(dir, 'url.key');
  await writeFile(keyFile, KEY.toString('hex'));
  const tokenKeys = [{ id: 'k1', file: keyFile }];
  origin = new TestOrigin();
  origin.files.set('/clip.bin', clip);
  const originUrl = await origin.start();
  controller = await Controller.start(
    {
      ...DEFAULT_CONTROLLER_CONFIG,
      dataDir: join(dir, 'controller'),
      peer: { port: 0, host: '127.0.0.1' },
      http: { port: 0, host: '127.0.0.1', tokenKeys },
      edges: { host: '127.0.0.1', port: 0, heartbeatMs: 500, replicas: 1 },
      admin: null,
      announce: false,
      shutdownGraceMs: 500,
    },
    silent,
  );
  for (let index = 0; index < 2; index += 1) {
    const { token } = await controller.registry.createToken(60_000, `edge${index}`);
    edges.push(
      await Agent.start(
        {
          ...DEFAULT_AGENT_CONFIG,
          dataDir: join(dir, `edge${index}`),
          peer: { port: 0, host: '127.0.0.1' },
          http: { ...DEFAULT_AGENT_CONFIG.http!, port: 0, host: '127.0.0.1', tokenKeys },
          admin: null,
          hashThreads: 1,
          scrub: { ...DEFAULT_AGENT_CONFIG.scrub, bytesPerSecond: 0 },
          controller: { urls: [controller.where().edgeUrl], enrolToken: token },
        },
        silent,
      ),
    );
  }
  await vi.waitFor(() => expect(controller.status().edges.up).toBe(2), { timeout: 10_000, interval: 50 });
  // The left edge holds pieces 0-2, the right one 3-7: no edge holds the whole object.
  const [left, right] = edges as [Agent, Agent];
  const first: IngestResult[] = [];
  await left.operations.ingest({ sources: [`${originUrl}/clip.bin`], options: { pieceLength: PIECE } }, (r) =>
    first.push(r),
  );
  clipHash = first[0]!.infoHash!;
  const torrent = join(dir, 'clip.torrent');
  await writeFile(torrent, (await left.operations.torrent(clipHash)).data);
  await right.operations.ingest(
    { sources: [`${originUrl}/clip.bin`], torrentFile: torrent, options: { pieces: [3, 4, 5, 6, 7] } },
    () => {},
  );
  await left.store.removePieces(clipHash, [3, 4, 5, 6, 7], 'purge');
  await vi.waitFor(
    () => {
      expect(controller.catalog.get(clipHash)?.complete).toBe(true);
      expect(controller.catalog.holdersOfSpan(clipHash, 0, 7)).toEqual([]);
    },
    { timeout: 5000, interval: 20 },
  );
});

afterAll(async () => {
  await Promise.all(edges.map((edge) => edge.stop()));
  await controller?.stop();
  await origin?.stop();
  await rm(dir, { recursive: true, force: true });
});

function clientToken(paths: string[]): string {
  return signToken({ expires: Math.floor(Date.now() / 1000) + 60, paths, keyId: 'k1' }, KEY);
}

describe('signed URL tokens through the controller', () => {
  it('refuses a request without a token before redirecting', async () => {
    const base = controller.where().httpBaseUrls[0]!;
    const answer = await request(`${base}/pieces/${clipHash}/4`);
    await answer.body.dump();
    expect(answer.statusCode).toBe(403);
    expect(answer.headers.location).toBeUndefined();
  });

  it('redirects with a fresh short-lived token for the edge, which serves it', async () => {
    const base = controller.where().httpBaseUrls[0]!;
    const answer = await request(`${base}/pieces/${clipHash}/4?__token__=${clientToken([`/pieces/${clipHash}/`])}`);
    await answer.body.dump();
    expect(answer.statusCode).toBe(302);
    const location = String(answer.headers.location);
    expect(location.startsWith(edges[1]!.where().httpBaseUrls[0]!)).toBe(true);
    const fresh = parseToken(new URL(location).searchParams.get('__token__') ?? '');
    expect(fresh?.paths).toEqual([`/pieces/${clipHash}/4`]);
    expect(fresh!.expires - Date.now() / 1000).toBeLessThanOrEqual(REDIRECT_TOKEN_TTL_S);
    const followed = await request(location);
    expect(followed.statusCode).toBe(200);
    expect(Buffer.from(await followed.body.arrayBuffer())).toEqual(clip.subarray(4 * PIECE, 5 * PIECE));
    // The edge refuses the same URL without the token.
    const bare = await request(location.split('?')[0]!);
    await bare.body.dump();
    expect(bare.statusCode).toBe(403);
  });

  it('fetches pieces from edges that require tokens, for a range no single edge holds', async () => {
    const base = controller.where().httpBaseUrls[0]!;
    const whole = await request(
      `${base}/objects/${clipHash}/clip.bin?__token__=${clientToken([`/objects/${clipHash}/`])}`,
      { headers: { range: 'bytes=30000-100000' } },
    );
    expect(whole.statusCode).toBe(206);
    expect(Buffer.from(await whole.body.arrayBuffer())).toEqual(clip.subarray(30000, 100001));
    expect(controller.status().fetches.fetchFailures).toBe(0);
  });
});
