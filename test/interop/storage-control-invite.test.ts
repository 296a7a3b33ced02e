// Storage control on demand with real processes (TR 23.844 6.2.3 step 2, docs/policy.md "Invitations"):
// `edgepeer tracker --invite-below 1` lists a swarm whose rarest piece has no copy while a leecher wants it;
// the agent, whose store is empty, follows the list, finds the .torrent in its catalogue (a folder; the
// url-list names the origin), joins the swarm, ingests the pieces from the origin and serves them to the
// python3-libtorrent leecher, which knows only the tracker (DHT, LSD, UPnP, NAT-PMP, PEX off).
// Every wait is on an event: the agent's log lines, the leecher's result, the tracker's answers.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMetainfo, encodeTorrent } from '../../src/metainfo/index.ts';
import { edgepeer } from '../helpers/cli.ts';
import { type FollowedLog, followLogLines } from '../helpers/log.ts';
import { TestOrigin } from '../helpers/origin.ts';
import {
  type LtLeecher,
  type RunningEdgepeerTracker,
  startLtLeecher,
  startTrackerCommand,
  writeBareTorrent,
} from './tracker-support.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const PIECE = 32 * 1024;

const data = randomBytes(6 * PIECE);
const metainfoOf = (urlList: string[]) =>
  buildMetainfo({
    name: 'invited.bin',
    pieceLength: PIECE,
    multiFile: false,
    files: [{ path: [], length: data.length }],
    pieceHashes: Buffer.concat(
      Array.from({ length: 6 }, (_, i) =>
        createHash('sha1')
          .update(data.subarray(i * PIECE, (i + 1) * PIECE))
          .digest(),
      ),
    ),
    urlList,
  });

let dir: string;
let dataDir: string;
let origin: TestOrigin;
let tracker: RunningEdgepeerTracker;
let agent: ChildProcess;
let agentLog: FollowedLog;
const leechers: LtLeecher[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-invite-'));
  dataDir = join(dir, 'store');
  origin = new TestOrigin();
  origin.files.set('/invited.bin', data);
  const originUrl = await origin.start();
  tracker = await startTrackerCommand(['--interval', '60', '--min-interval', '1', '--invite-below', '1']);
  const catalogue = join(dir, 'catalogue');
  await mkdir(catalogue);
  // The catalogue's .torrent names the origin folder (url-list ending in /): the agent appends the name.
  const metainfo = metainfoOf([`${originUrl}/`]);
  await writeFile(join(catalogue, `${metainfo.infoHash}.torrent`), encodeTorrent(metainfo));
  const configFile = join(dir, 'edgepeer.yaml');
  await writeFile(
    configFile,
    [
      `dataDir: ${dataDir}`,
      'logLevel: debug',
      `trackers: [${tracker.announceUrl}]`,
      'peer: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      'admin: { listen: "127.0.0.1:0" }',
      'storageControl:',
      '  enabled: true',
      '  lowCopies: 1',
      '  highCopies: 2',
      '  interval: 500ms',
      `  catalogue: ${catalogue}`,
      '',
    ].join('\n'),
  );
  agent = spawn(process.execPath, [RUN, 'agent', '--config', configFile, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agentLog = followLogLines(agent.stderr!, 'the agent');
  await Promise.race([
    once(createInterface({ input: agent.stdout! }), 'line'),
    once(agent, 'exit').then(([code]) => {
      throw new Error(`agent exited with ${code}: ${agentLog.lines.map((l) => l.msg).join('; ')}`);
    }),
  ]);
});

afterAll(async () => {
  for (const leecher of leechers) await leecher.stop();
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  }
  await tracker?.stop();
  await origin?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('storage control invited by the tracker', () => {
  it('lists the swarm in need, and the agent joins it from its catalogue and serves the leecher', async () => {
    const metainfo = metainfoOf([]);
    const invitationsUrl = tracker.statsUrl.replace(/\/stats$/, '/invitations');
    const before = (await (await fetch(invitationsUrl)).json()) as { version: number; invitations: unknown[] };
    expect(before).toMatchObject({ inviteBelow: 1, invitations: [] });

    const bare = await writeBareTorrent(join(dir, 'torrents'), metainfo);
    // UE2 (TR 23.844 6.2.3 step 1) joins first, alone: nobody holds a piece.
    const first = startLtLeecher(bare, join(dir, 'first'), { tracker: tracker.announceUrl, timeoutS: 120, stay: true });
    leechers.push(first);
    // The tracker names the swarm: one leecher, no copy of any piece.
    const listed = (await (await fetch(`${invitationsUrl}?since=${before.version}&wait=30`)).json()) as {
      invitations: Array<{ infoHash: string; rarestCopies: number; leechers: number }>;
    };
    expect(listed.invitations).toEqual([
      expect.objectContaining({ infoHash: metainfo.infoHash, rarestCopies: 0, leechers: 1 }),
    ]);

    const joined = await agentLog.waitFor(
      (l) => l.msg === 'storage control: joined a swarm the tracker invited it to',
      'that it joined the swarm',
    );
    expect(joined).toMatchObject({ infoHash: metainfo.infoHash, origin: expect.stringMatching(/\/invited\.bin$/) });
    await agentLog.waitFor(
      (l) => l.msg === 'storage control: ingest (rare)' && l.infoHash === metainfo.infoHash,
      'an ingest',
    );

    await agentLog.waitFor(
      (l) => l.msg === 'storage control: ingest done' && l.infoHash === metainfo.infoHash,
      'ingest done',
    );
    // UE1 (step 6) joins now and gets a peer list with the agent (the first leecher would hear of it only at
    // its next announce: libtorrent waits at least 5 min between announces). Both finish: the first through
    // the second, which connects to it.
    const second = startLtLeecher(bare, join(dir, 'second'), {
      tracker: tracker.announceUrl,
      timeoutS: 120,
      stay: true,
    });
    leechers.push(second);
    for (const [leecher, folder] of [
      [second, 'second'],
      [first, 'first'],
    ] as const) {
      const result = await leecher.result;
      expect(result.seeding, `${folder}: ${JSON.stringify(result)}`).toBe(true);
      expect(await readFile(join(dir, folder, 'invited.bin'))).toEqual(data);
    }
    // The pieces came from the origin by range, once each, through the agent.
    const ranged = origin.requests.filter((r) => r.path === '/invited.bin');
    expect(ranged.length).toBeGreaterThan(0);
    const listing = await edgepeer(['ls', '--data-dir', dataDir, '--json']);
    expect(listing.lines.map((l) => (l as { infoHash: string }).infoHash)).toContain(metainfo.infoHash);
  }, 180_000);
});
