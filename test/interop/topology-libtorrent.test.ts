// python3-libtorrent leechers in two PIDs (loopback /24s), six seeds in each, one edgepeer tracker with a
// network map: each leecher asks for 6 peers and is given 5 of its own PID and 1 drawn at random (random
// share 0.2), so it downloads mostly from its own PID. Without the map, a random 6 of the 13 others give it
// about half its bytes from its own PID. Bytes are counted per source by libtorrent.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkMapJson, PIDS, pidOf } from './topology-support.ts';
import { type RunningEdgepeerTracker, startTrackerCommand } from './tracker-support.ts';

const SCRIPT = fileURLToPath(new URL('./topology_lt.py', import.meta.url));
const SIZE = 4 * 1024 * 1024;

interface SwarmResult {
  leechers: Record<string, { seeding: boolean; bytes_from: Record<string, number>; payload_downloaded: number }>;
}

describe('libtorrent leechers in two PIDs with an edgepeer tracker and a network map', () => {
  let dir: string;
  let tracker: RunningEdgepeerTracker;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ep-topology-lt-'));
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data', 'video.bin'), randomBytes(SIZE));
    await writeFile(join(dir, 'networkmap.json'), networkMapJson({ a: [`${PIDS.a}.0/24`], b: [`${PIDS.b}.0/24`] }));
    tracker = await startTrackerCommand([
      '--alto-network-map',
      join(dir, 'networkmap.json'),
      '--alto-random-share',
      '0.2',
    ]);
  });
  afterAll(async () => {
    await tracker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('each leecher downloads most of its bytes from seeds in its own PID', async () => {
    const seeds = [PIDS.a, PIDS.b].flatMap((prefix) => [11, 12, 13, 14, 15, 16].map((host) => `${prefix}.${host}`));
    const leechers = [`${PIDS.a}.100`, `${PIDS.b}.100`];
    const child = spawn(
      '/usr/bin/python3',
      [
        SCRIPT,
        join(dir, 'data', 'video.bin'),
        dir,
        tracker.announceUrl,
        seeds.join(','),
        leechers.join(','),
        '6',
        String(512 * 1024),
        '90',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as SwarmResult;
    const shares: number[] = [];
    for (const leecher of leechers) {
      const { seeding, bytes_from: bytesFrom, payload_downloaded: downloaded } = result.leechers[leecher]!;
      expect(seeding, leecher).toBe(true);
      expect(downloaded).toBeGreaterThanOrEqual(SIZE);
      const total = Object.values(bytesFrom).reduce((sum, bytes) => sum + bytes, 0);
      const own = Object.entries(bytesFrom)
        .filter(([source]) => pidOf(source) === pidOf(leecher))
        .reduce((sum, [, bytes]) => sum + bytes, 0);
      // Sampled every 50 ms from the peers' totals: the last bytes of a peer that left may be missing.
      expect(total).toBeGreaterThan(SIZE * 0.75);
      console.log(`${leecher}: ${((own / total) * 100).toFixed(0)} % of ${total} bytes from its own PID`);
      shares.push(own / total);
      expect(own / total, JSON.stringify(bytesFrom)).toBeGreaterThan(0.6);
    }
    expect((shares[0]! + shares[1]!) / 2).toBeGreaterThan(0.7);
    const stats = JSON.parse(await (await fetch(tracker.statsUrl)).text()) as {
      topology: { peersListed: { within: number; across: number } };
    };
    expect(stats.topology.peersListed.within).toBeGreaterThan(stats.topology.peersListed.across);
  });
});
