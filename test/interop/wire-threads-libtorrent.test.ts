// python3-libtorrent downloads from an agent serving the peer wire on two threads (peer.threads: 2, one port
// with SO_REUSEPORT), dialling its port directly (TCP only; no tracker, DHT, LSD, uTP, UPnP, NAT-PMP).
// Several clients at once, until connections landed on both threads: each finishes without a hash failure
// and its file matches, and the agent's per-thread counters show both threads accepted and served.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent } from '../../src/agent/index.ts';
import { testAgentConfig } from '../helpers/agent.ts';
import {
  type ContentObject,
  differingFiles,
  freshDir,
  libtorrentLeech,
  writeTorrentFile,
} from '../wire/interop-support.ts';

const PIECE = 256 * 1024;
const CLIENTS_AT_ONCE = 3;

describe('libtorrent downloads from an agent with peer.threads 2', () => {
  let dir: string;
  let agent: Agent;
  let object: ContentObject;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-wire-threads-lt-'));
    agent = await Agent.start(
      testAgentConfig(dir, { peer: { port: 0, host: '127.0.0.1', threads: 2 } }),
      pino({ level: 'silent' }),
    );
    const data = randomBytes(4 * 1024 * 1024 + 4321);
    const source = join(dir, 'threads.bin');
    await writeFile(source, data);
    let infoHash = '';
    await agent.operations.ingest({ sources: [source], options: { pieceLength: PIECE } }, (r) => {
      infoHash = String(r.infoHash);
    });
    object = { metainfo: agent.store.metainfoOf(infoHash)!, files: [data] };
  });
  afterAll(async () => {
    await agent?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the whole object to every client, with connections on both threads', async () => {
    const torrent = await writeTorrentFile(join(dir, 'torrents'), object.metainfo);
    const port = agent.where().peerPort;
    let finished = 0;
    let accepted: number[] = [];
    for (let round = 0; round < 6 && !(accepted.length === 2 && accepted.every((n) => n > 0)); round++) {
      await Promise.all(
        Array.from({ length: CLIENTS_AT_ONCE }, async (_, index) => {
          const save = await freshDir(dir, `leech-${round}-${index}`);
          const result = await libtorrentLeech(['--torrent', torrent, '--save', save, '--peer', `127.0.0.1:${port}`]);
          expect(result).toMatchObject({ done: true, problems: [] });
          expect(await differingFiles(save, object)).toEqual([]);
        }),
      );
      finished += CLIENTS_AT_ONCE;
      // A serving thread writes its counters every 200 ms: until they count every client's connection.
      await vi.waitFor(() => expect(agent.status().wire.accepted).toBeGreaterThanOrEqual(finished), {
        timeout: 10_000,
        interval: 50,
      });
      accepted = agent.status().wire.acceptedPerThread ?? [];
    }
    expect(accepted).toHaveLength(2);
    expect(accepted[0]).toBeGreaterThan(0);
    expect(accepted[1]).toBeGreaterThan(0);
    // Every client got the whole object from this agent. A thread's counters are a snapshot of up to 200 ms
    // ago: one taken after a client's connection was counted may predate its last blocks.
    await vi.waitFor(
      () => expect(agent.status().wire.uploadedBytes).toBeGreaterThanOrEqual(finished * object.files[0]!.length),
      { timeout: 10_000, interval: 50 },
    );
    const wire = agent.status().wire;
    expect(wire.requestsPerThread!.every((requests) => requests > 0)).toBe(true);
    expect(wire.internalErrors).toBe(0);
  });
});
