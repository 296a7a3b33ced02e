// Storage control following a tracker that has nothing but scrape (BEP 48): opentracker (Debian), the agent
// with storageControl.scrapeUrl, and python3-libtorrent peers that know only opentracker (DHT, LSD, UPnP,
// NAT-PMP, PEX off). The agent's own seed is never taken for another copy (it would purge the only one),
// and seeds that opentracker counts make pieces plentiful, purged after the hold time.
// Every wait is on an event: the agent's log lines, the leechers' results.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  type RunningTracker,
  startLtLeecher,
  startOpentracker,
  writeBareTorrent,
} from './tracker-support.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const PIECE = 32 * 1024;
const HOLD_MS = 2000;

const data = randomBytes(4 * PIECE);
const object = buildMetainfo({
  name: 'clip.bin',
  pieceLength: PIECE,
  multiFile: false,
  files: [{ path: [], length: data.length }],
  pieceHashes: Buffer.concat(
    Array.from({ length: 4 }, (_, i) =>
      createHash('sha1')
        .update(data.subarray(i * PIECE, (i + 1) * PIECE))
        .digest(),
    ),
  ),
});

let dir: string;
let dataDir: string;
let origin: TestOrigin;
let opentracker: RunningTracker;
let agent: ChildProcess;
let agentLog: FollowedLog;
const leechers: LtLeecher[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-storage-control-scrape-'));
  dataDir = join(dir, 'store');
  origin = new TestOrigin();
  origin.files.set('/clip.bin', data);
  const originUrl = await origin.start();
  const torrent = join(dir, 'clip.torrent');
  await writeFile(torrent, encodeTorrent(object));
  const ingest = await edgepeer([
    'ingest',
    `${originUrl}/clip.bin`,
    '--torrent',
    torrent,
    '--data-dir',
    dataDir,
    '--json',
  ]);
  expect(ingest.code, ingest.stderr).toBe(0);
  opentracker = await startOpentracker([object.infoHash]);
  const configFile = join(dir, 'edgepeer.yaml');
  await writeFile(
    configFile,
    [
      `dataDir: ${dataDir}`,
      'logLevel: debug',
      `trackers: [${opentracker.announceUrl}]`,
      'peer: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      'admin: { listen: "127.0.0.1:0" }',
      'storageControl:',
      '  enabled: true',
      `  scrapeUrl: ${opentracker.announceUrl.replace(/\/announce$/, '/scrape')}`,
      '  scrapeInterval: 1s',
      '  lowCopies: 1',
      '  highCopies: 2',
      `  hold: ${HOLD_MS}ms`,
      '  interval: 500ms',
      '  stale: 30s',
      '',
    ].join('\n'),
  );
  agent = spawn(process.execPath, [RUN, 'agent', '--config', configFile, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agentLog = followLogLines(agent.stderr!, 'the agent');
  await once(createInterface({ input: agent.stdout! }), 'line');
});

afterAll(async () => {
  for (const leecher of leechers) await leecher.stop();
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  }
  await opentracker?.stop();
  await origin?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('storage control on the scrape of opentracker', () => {
  it("keeps the object while opentracker's only seed is the agent itself, then purges it once two others seed", async () => {
    const infoHash = object.infoHash;
    // The agent announced as a seed and read that from the scrape: one seed, and none outside the CDN.
    await agentLog.waitFor((l) => l.msg === 'announced' && l.infoHash === infoHash, 'its announce to opentracker');
    const alone = await agentLog.waitFor(
      (l) => l.msg === 'storage control: statistics' && l.infoHash === infoHash && (l.copies as number) >= 1,
      'the statistics of its swarm with its own seed in them',
    );
    expect(alone).toMatchObject({ copies: 1, outsideCopies: 0, leechers: 0 });
    const status = await edgepeer(['status', '--data-dir', dataDir, '--json']);
    expect(status.lines[0]?.storageControl).toMatchObject({
      statsUrl: opentracker.announceUrl.replace(/\/announce$/, '/scrape'),
    });

    // Two libtorrent peers download from the agent (found through opentracker) and stay as seeds.
    const torrent = await writeBareTorrent(join(dir, 'torrents'), object);
    for (const name of ['l1', 'l2']) {
      leechers.push(startLtLeecher(torrent, join(dir, name), { tracker: opentracker.announceUrl, stay: true }));
    }
    for (const leecher of leechers) expect(await leecher.result).toMatchObject({ seeding: true, problems: [] });
    const plentiful = await agentLog.waitFor(
      (l) => l.msg === 'storage control: statistics' && l.infoHash === infoHash && (l.outsideCopies as number) >= 2,
      'two seeds outside the CDN',
    );
    const purged = await agentLog.waitFor(
      (l) => l.msg === 'storage control: purge (plentiful)' && l.infoHash === infoHash,
      'the purge of the plentiful pieces',
    );
    expect(purged.pieces).toEqual([0, 1, 2, 3]);
    expect(purged.time - plentiful.time).toBeGreaterThanOrEqual(HOLD_MS - 600);
    // Before the seeds, no round purged anything: the agent's own seed was not counted as another copy.
    expect(agentLog.lines.filter((l) => l.msg.startsWith('storage control: purge') && l.time < plentiful.time)).toEqual(
      [],
    );
  });
});
