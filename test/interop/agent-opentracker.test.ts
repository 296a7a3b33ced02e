// The agent with a plain tracker: opentracker (Debian) takes its announces, bitmap extension and all, and a
// python3-libtorrent leecher that knows only opentracker's URL finds the agent and downloads from it.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';
import { type RunningTracker, startLtLeecher, startOpentracker } from './tracker-support.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

let dir: string;
let opentracker: RunningTracker | undefined;
let agent: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-agent-ot-'));
});

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  }
  await opentracker?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('edgepeer agent announcing to opentracker', () => {
  it('is found by a libtorrent leecher through opentracker and serves it the object', async () => {
    const dataDir = join(dir, 'store');
    const content = randomBytes(3 * 1024 * 1024 + 99);
    await writeFile(join(dir, 'clip.bin'), content);
    const ingested = await edgepeer([
      'ingest',
      join(dir, 'clip.bin'),
      '--piece-length',
      '64KiB',
      '--data-dir',
      dataDir,
      '--json',
    ]);
    expect(ingested.code, ingested.stderr).toBe(0);
    const infoHash = String(ingested.lines[0]?.infoHash);
    // opentracker from Debian is whitelist-only: the hash must be known before it starts.
    opentracker = await startOpentracker([infoHash]);

    agent = spawn(
      process.execPath,
      [
        RUN,
        'agent',
        '--data-dir',
        dataDir,
        '--peer-port',
        '0',
        '--peer-host',
        '127.0.0.1',
        '--http-port',
        '0',
        '--http-host',
        '127.0.0.1',
        '--admin-listen',
        '127.0.0.1:0',
        '--tracker',
        opentracker.announceUrl,
        '--log-level',
        'debug',
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const announced = new Promise<Record<string, unknown>>((resolve) => {
      createInterface({ input: agent?.stderr as NodeJS.ReadableStream }).on('line', (line) => {
        if (line.includes('"announced"') && line.includes(infoHash)) resolve(JSON.parse(line));
      });
    });
    const [first] = (await once(createInterface({ input: agent.stdout as NodeJS.ReadableStream }), 'line')) as [string];
    const listening = JSON.parse(first) as { event: string; peerPort: number };
    expect(listening.event).toBe('listening');
    // opentracker ignores the extension's parameters and takes the announce.
    expect(await announced).toMatchObject({ tracker: opentracker.announceUrl, event: 'started' });

    const torrent = join(dir, 'clip.torrent');
    expect((await edgepeer(['torrent', infoHash, '-o', torrent, '--data-dir', dataDir])).code).toBe(0);
    const save = join(dir, 'leech');
    await mkdir(save);
    const leecher = startLtLeecher(torrent, save, { tracker: opentracker.announceUrl, timeoutS: 60 });
    const result = await leecher.result;
    await leecher.stop();
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(result.peers).toContain(`127.0.0.1:${listening.peerPort}`);
    expect((await readFile(join(save, 'clip.bin'))).equals(content)).toBe(true);
  });
});
