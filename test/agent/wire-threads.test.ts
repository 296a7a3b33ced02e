// The agent with peer.threads: 2: peers land on both threads of the peer port (SO_REUSEPORT) and both serve
// from the one store and slab; a piece one thread finds corrupt on disk leaves every thread's bitfield and is
// refused by the other; a purge reaches every thread's peers (lt_donthave, connections closed, handshakes for
// the object refused). Which thread a connection landed on is read from the per-thread accepted counters.
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultTokenFile } from '../../src/admin/index.ts';
import { Agent } from '../../src/agent/index.ts';
import { loopbackHttp, testAgentConfig } from '../helpers/agent.ts';
import { getOnNewConnection } from '../helpers/http.ts';
import { tempFolder } from '../store/helpers.ts';
import {
  closed,
  connectPeer,
  handshakeBytes,
  rawConnect,
  requestBlock,
  type TestPeer,
  waitFor,
} from '../wire/helpers.ts';

const PIECE = 32 * 1024;
const BLOCK = 16 * 1024;
const PIECES = 8;

let dir: string;
let removeDir: () => Promise<void>;
let agent: Agent;
let port: number;

beforeAll(async () => {
  ({ path: dir, remove: removeDir } = await tempFolder());
  agent = await Agent.start(
    testAgentConfig(dir, { peer: { port: 0, host: '127.0.0.1', threads: 2 }, admin: { host: '127.0.0.1', port: 0 } }),
    pino({ level: 'silent' }),
  );
  port = agent.where().peerPort;
});
afterAll(async () => {
  await agent?.stop();
  await removeDir?.();
});

/** An object of its own for each test, ingested through the agent after start (the threads follow). */
async function ingest(name: string): Promise<{ infoHash: string; content: Buffer; file: string }> {
  const content = Buffer.alloc(PIECES * PIECE);
  for (let offset = 0; offset < content.length; offset++)
    content[offset] = (offset * 13 + name.length + (offset >> 11)) & 0xff;
  const source = join(dir, name);
  await writeFile(source, content);
  let infoHash = '';
  await agent.operations.ingest({ sources: [source], options: { pieceLength: PIECE } }, (r) => {
    infoHash = String(r.infoHash);
  });
  return { infoHash, content, file: join(dir, 'store', 'objects', infoHash, 'data', name) };
}

function acceptedPerThread(): number[] {
  return agent.status().wire.acceptedPerThread ?? [];
}

/** Waits until a thread's accepted counter grew past `before` (a thread writes its row every 200 ms). */
async function landedOn(before: number[]): Promise<number> {
  let thread = -1;
  await vi.waitFor(
    () => {
      const now = acceptedPerThread();
      thread = now.findIndex((count, index) => count > (before[index] ?? 0));
      expect(thread).toBeGreaterThanOrEqual(0);
    },
    { timeout: 10_000, interval: 20 },
  );
  return thread;
}

/** Peers, one connection at a time, until one landed on each of the two threads; the others are closed. */
async function peerOnEachThread(infoHash: string, ready: (p: TestPeer) => Promise<unknown>): Promise<TestPeer[]> {
  const byThread: (TestPeer | undefined)[] = [undefined, undefined];
  for (let attempt = 0; attempt < 60 && byThread.some((p) => p === undefined); attempt++) {
    const before = acceptedPerThread();
    const p = await connectPeer(port, infoHash, { extensions: ['lt_donthave'] });
    await ready(p);
    const thread = await landedOn(before);
    if (byThread[thread] === undefined) byThread[thread] = p;
    else p.close();
  }
  expect(byThread.every((p) => p !== undefined)).toBe(true);
  return byThread as TestPeer[];
}

async function unchoked(p: TestPeer): Promise<void> {
  const unchoke = waitFor(p.wire, 'unchoke');
  p.wire.interested();
  await unchoke;
}

async function fetchPiece(p: TestPeer, index: number): Promise<Buffer> {
  const blocks: Promise<Buffer>[] = [];
  for (let begin = 0; begin < PIECE; begin += BLOCK) blocks.push(requestBlock(p.wire, index, begin, BLOCK));
  return Buffer.concat(await Promise.all(blocks));
}

function donthave(p: TestPeer, piece: number): Promise<unknown> {
  return waitFor<[string, Uint8Array]>(
    p.wire,
    'extended',
    (kind, payload) => kind === 'lt_donthave' && Buffer.from(payload).readUInt32BE(0) === piece,
    10_000,
  );
}

describe('agent with peer.threads 2', () => {
  it('serves every piece on both threads and counts each thread', async () => {
    const { infoHash, content } = await ingest('both.bin');
    const peers = await peerOnEachThread(infoHash, (p) => waitFor(p.wire, 'have-all'));
    try {
      for (const p of peers) {
        await unchoked(p);
        for (let index = 0; index < PIECES; index++) {
          expect((await fetchPiece(p, index)).equals(content.subarray(index * PIECE, (index + 1) * PIECE))).toBe(true);
        }
      }
      await vi.waitFor(
        () => {
          const wire = agent.status().wire;
          expect(wire.requestsPerThread).toHaveLength(2);
          expect(wire.requestsPerThread!.every((requests) => requests >= PIECES * (PIECE / BLOCK))).toBe(true);
          expect(wire.blocksSent).toBeGreaterThanOrEqual(2 * PIECES * (PIECE / BLOCK));
        },
        { timeout: 10_000, interval: 50 },
      );
    } finally {
      for (const p of peers) p.close();
    }
  });

  it('refuses on the agent thread a piece a serving thread found corrupt on disk, and drops it everywhere', async () => {
    const { infoHash, content, file } = await ingest('rot.bin');
    const [onAgent, onWorker] = await peerOnEachThread(infoHash, (p) => waitFor(p.wire, 'have-all'));
    try {
      await unchoked(onAgent!);
      await unchoked(onWorker!);
      // Bit rot in piece 5 (never read yet, so no verified copy of it is in the slab).
      const handle = await open(file, 'r+');
      await handle.write(Buffer.from([content[5 * PIECE + 100]! ^ 0x20]), 0, 1, 5 * PIECE + 100);
      await handle.close();
      const goneOnAgent = donthave(onAgent!, 5);
      const goneOnWorker = donthave(onWorker!, 5);
      // The serving thread reads it, finds it corrupt and rejects; not one byte of it is sent.
      await expect(requestBlock(onWorker!.wire, 5, 0, BLOCK)).rejects.toThrow(/rejected/);
      await Promise.all([goneOnAgent, goneOnWorker]);
      expect(agent.store.get(infoHash)!.bitfield.get(5)).toBe(false);
      // The agent's thread refuses it too, and serves the rest.
      await expect(requestBlock(onAgent!.wire, 5, 0, BLOCK)).rejects.toThrow(/rejected/);
      expect((await fetchPiece(onAgent!, 4)).equals(content.subarray(4 * PIECE, 5 * PIECE))).toBe(true);
      // New peers on either thread are told the object lacks it.
      const fresh = await peerOnEachThread(infoHash, async (p) => {
        const [bitfield] = await waitFor<[{ get(index: number): boolean }]>(p.wire, 'bitfield');
        expect(bitfield.get(5)).toBe(false);
        expect(bitfield.get(4)).toBe(true);
      });
      for (const p of fresh) p.close();
      expect(await readFile(file)).not.toEqual(content);
    } finally {
      onAgent?.close();
      onWorker?.close();
    }
  });

  it('stops serving a purged piece and a purged object on every thread', async () => {
    const { infoHash } = await ingest('purged.bin');
    const peers = await peerOnEachThread(infoHash, (p) => waitFor(p.wire, 'have-all'));
    try {
      for (const p of peers) await unchoked(p);
      const pieceGone = peers.map((p) => donthave(p, 2));
      await agent.operations.purge({ ids: [infoHash], pieces: [2] });
      await Promise.all(pieceGone);
      for (const p of peers) await expect(requestBlock(p.wire, 2, 0, BLOCK)).rejects.toThrow(/rejected/);

      await agent.operations.purge({ ids: [infoHash] });
      await Promise.all(peers.map((p) => closed(p.socket, 10_000)));
      // A handshake for it is refused on each thread: closed, with nothing sent back.
      const refusedOn = new Set<number>();
      for (let attempt = 0; attempt < 60 && refusedOn.size < 2; attempt++) {
        const before = acceptedPerThread();
        const socket = await rawConnect(port);
        const received: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => received.push(chunk));
        const ended = closed(socket, 10_000);
        socket.write(handshakeBytes(infoHash));
        await ended;
        expect(Buffer.concat(received).length).toBe(0);
        refusedOn.add(await landedOn(before));
      }
      expect([...refusedOn].sort()).toEqual([0, 1]);
    } finally {
      for (const p of peers) p.close();
    }
  });

  it("lists both threads' peers on the dashboard", async () => {
    const { infoHash } = await ingest('listed.bin');
    const peers = await peerOnEachThread(infoHash, (p) => waitFor(p.wire, 'have-all'));
    try {
      const base = agent.where().adminUrl as string;
      const token = (await readFile(defaultTokenFile(agent.status().dataDir), 'utf8')).trim();
      const login = await request(`${base}/dashboard/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      await login.body.dump();
      const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
      const ours = new Set(peers.map((p) => p.socket.localPort));
      // The serving thread's list comes at the next look (the pages poll).
      await vi.waitFor(
        async () => {
          const res = await request(`${base}/dashboard/api/peers`, { headers: { cookie } });
          const listed = (await res.body.json()) as { peers: Array<{ port: number; infoHash: string }> };
          expect(listed.peers.filter((peer) => peer.infoHash === infoHash && ours.has(peer.port))).toHaveLength(2);
        },
        { timeout: 10_000, interval: 100 },
      );
    } finally {
      for (const p of peers) p.close();
    }
  });

  it('refuses QoS limits set through the admin API (the other thread would not keep to them)', () => {
    expect(() => agent.setQos({ rate: 1_000_000 })).toThrow(/serving on threads/);
    expect(agent.qosStatus().settings.rate).toBe(0);
  });
});

describe('agent with http.threads 2 and peer.threads 3', () => {
  it('serves HTTP on two threads and the peer wire on three (one thread serving both)', async () => {
    const both = await Agent.start(
      testAgentConfig(join(dir, 'both'), {
        peer: { port: 0, host: '127.0.0.1', threads: 3 },
        http: { ...loopbackHttp(), threads: 2 },
      }),
      pino({ level: 'silent' }),
    );
    try {
      const content = Buffer.alloc(2 * PIECE, 7);
      const source = join(dir, 'mixed.bin');
      await writeFile(source, content);
      let infoHash = '';
      await both.operations.ingest({ sources: [source], options: { pieceLength: PIECE } }, (r) => {
        infoHash = String(r.infoHash);
      });
      const base = both.where().httpBaseUrls[0]!;
      const peers: TestPeer[] = [];
      await vi.waitFor(
        async () => {
          expect((await getOnNewConnection(`${base}/pieces/${infoHash}/1`)).status).toBe(200);
          const p = await connectPeer(both.where().peerPort, infoHash);
          peers.push(p);
          await waitFor(p.wire, 'have-all');
          const status = both.status();
          expect(status.http?.requestsPerThread).toHaveLength(2);
          expect(status.http!.requestsPerThread!.every((n) => n > 0)).toBe(true);
          expect(status.wire.acceptedPerThread).toHaveLength(3);
          expect(status.wire.acceptedPerThread!.every((n) => n > 0)).toBe(true);
        },
        { timeout: 15_000, interval: 100 },
      );
      for (const p of peers) p.close();
    } finally {
      await both.stop();
    }
  });
});
