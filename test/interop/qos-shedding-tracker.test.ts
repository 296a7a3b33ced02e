// Load shedding that trackers hear of (issue 22), against edgepeer's reference tracker as a process: an
// agent over its connection threshold for a while tells the tracker (`stopped`), so that a new leecher's
// peer list no longer offers it; once the load is gone for a while it announces `started` and is offered
// again. The load is real: peer wire connections that completed their handshake and stay open.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/index.ts';
import { RETURN_AFTER_MS, resolveQos, WITHDRAW_AFTER_MS } from '../../src/qos/index.ts';
import { decodeBencode } from '../../src/tracker/index.ts';
import { testAgentConfig } from '../helpers/agent.ts';
import { followStats, type RunningEdgepeerTracker, startTrackerCommand } from './tracker-support.ts';

const SHED_CONNECTIONS = 2;

let dir: string;
let tracker: RunningEdgepeerTracker;
let agent: Agent;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-qos-tracker-'));
  tracker = await startTrackerCommand(['--interval', '60']);
  agent = await Agent.start(
    testAgentConfig(dir, {
      announce: true,
      trackers: [tracker.announceUrl],
      qos: resolveQos({ shedConnections: SHED_CONNECTIONS }),
    }),
    pino({ level: 'silent' }),
  );
});

afterAll(async () => {
  await agent?.stop();
  await tracker?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function percentEncode(bytes: Uint8Array): string {
  return [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}

/** A new leecher's announce (a fresh peer id each time): the peers the tracker offers it, as "ip:port". */
async function peersOfferedToNewLeecher(infoHash: string): Promise<string[]> {
  const query = [
    `info_hash=${percentEncode(Buffer.from(infoHash, 'hex'))}`,
    `peer_id=${percentEncode(Buffer.from(`-XL0001-${randomBytes(6).toString('hex')}`))}`,
    `port=${20_000 + Math.floor(Math.random() * 20_000)}`,
    'uploaded=0',
    'downloaded=0',
    'left=1000',
    'compact=1',
    'numwant=50',
    'event=started',
  ].join('&');
  const res = await request(`${tracker.announceUrl}?${query}`);
  expect(res.statusCode).toBe(200);
  const answer = decodeBencode(new Uint8Array(await res.body.arrayBuffer())) as Record<string, unknown>;
  expect(answer['failure reason']).toBeUndefined();
  const peers = answer.peers as Uint8Array;
  const offered: string[] = [];
  for (let at = 0; at + 6 <= peers.length; at += 6) {
    offered.push(`${peers.subarray(at, at + 4).join('.')}:${(peers[at + 4]! << 8) | peers[at + 5]!}`);
  }
  return offered;
}

/** A peer wire connection that completes its handshake for `infoHash` and then stays open, idle. */
async function idlePeer(port: number, infoHash: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    Buffer.concat([
      Buffer.from([19]),
      Buffer.from('BitTorrent protocol'),
      Buffer.alloc(8),
      Buffer.from(infoHash, 'hex'),
      Buffer.from(`-XX0001-${randomBytes(6).toString('hex')}`),
    ]),
  );
  // The agent's handshake back: the connection is admitted and past its handshake timeout.
  let received = 0;
  while (received < 68) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    received += chunk.length;
  }
  socket.on('data', () => undefined);
  return socket;
}

async function until(accept: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!accept()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("load shedding tells edgepeer's tracker", () => {
  it('drops out of a new leecher’s peer list while shedding for a while, and is offered again once calm', async () => {
    const file = join(dir, 'busy.bin');
    await writeFile(file, randomBytes(256 * 1024));
    let infoHash = '';
    await agent.operations.ingest({ sources: [file], options: { pieceLength: 64 * 1024 } }, (result) => {
      infoHash = result.infoHash ?? '';
    });
    const swarm = followStats(tracker.statsUrl, infoHash);
    const port = agent.where().peerPort;
    const self = `127.0.0.1:${port}`;
    const sockets: Socket[] = [];
    try {
      await swarm.until((s) => s.seeds === 1, 15_000);
      expect(await peersOfferedToNewLeecher(infoHash)).toContain(self);

      // Over the threshold: shedding at once; after WITHDRAW_AFTER_MS of it, `stopped` to the tracker.
      for (let i = 0; i <= SHED_CONNECTIONS; i++) sockets.push(await idlePeer(port, infoHash));
      await until(() => agent.qosStatus().shedding.active !== null, 'shedding', 5_000);
      const withdrawn = swarm.snapshots.length;
      await swarm.until((s) => swarm.snapshots.indexOf(s) >= withdrawn && s.seeds === 0, WITHDRAW_AFTER_MS + 10_000);
      expect(agent.qosStatus().shedding).toMatchObject({ trackerListing: 'withdrawn', withdrawals: 1 });
      expect(await peersOfferedToNewLeecher(infoHash)).not.toContain(self);

      // The load gone: after RETURN_AFTER_MS without shedding, `started` again, and offered again.
      for (const socket of sockets) socket.destroy();
      await until(() => agent.qosStatus().shedding.active === null, 'shedding to end', 5_000);
      const calm = swarm.snapshots.length;
      await swarm.until((s) => swarm.snapshots.indexOf(s) >= calm && s.seeds === 1, RETURN_AFTER_MS + 10_000);
      expect(agent.qosStatus().shedding.trackerListing).toBe('listed');
      expect(await peersOfferedToNewLeecher(infoHash)).toContain(self);
    } finally {
      for (const socket of sockets) socket.destroy();
      swarm.close();
    }
  }, 90_000);
});
