// Two `edgepeer tracker` processes (the built CLI) on one real redis-server: a libtorrent leecher that knows
// only the second tracker downloads from a seeder announced to the first; statistics and the change feed
// of one follow announces made through the other; a stopped through one removes the peer for both; one
// tracker at a time runs the expiry sweep; kill -9 of one leaves the other serving and sweeping; a Redis
// outage gets failure reasons and the tracker serves again when Redis is back; a Redis that is not there
// at start stops the command with EDGEPEER_STATE_UNREACHABLE.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeBencode, isDictionary, type SwarmStats } from '../../src/tracker/index.ts';
import { type RedisServer, startRedis } from '../fixtures/redis.ts';
import { freshDir, type ServedSet, SINGLE_FILE, serveObjects, stopServed } from '../http/interop-fixtures.ts';
import {
  followStats,
  type LtSeeder,
  ltLeech,
  type RunningEdgepeerTracker,
  startLtSeeder,
  startTrackerCommand,
  writeBareTorrent,
  writeContent,
} from './tracker-support.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

/** One HTTP announce from 127.0.0.1 (the trackers see every test peer at that address): the decoded answer. */
async function announce(
  url: string,
  infoHash: string,
  port: number,
  extra: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const query = new URLSearchParams({ port: String(port), left: '0', compact: '1', numwant: '50', ...extra });
  const hash = infoHash.replace(/../g, '%$&');
  const peerId = `-XX0001-${String(port).padStart(12, '0')}`;
  const response = await fetch(`${url}?info_hash=${hash}&peer_id=${peerId}&${query}`);
  const answer = decodeBencode(Buffer.from(await response.arrayBuffer()));
  if (!isDictionary(answer)) throw new Error('announce answer is not a dictionary');
  return answer as Record<string, unknown>;
}

/** `edgepeer tracker --port 0 --json ARGS` run to its exit (a start that fails). */
async function runTracker(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [RUN, 'tracker', '--port', '0', '--host', '127.0.0.1', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout };
}

const statsOf = async (tracker: RunningEdgepeerTracker, infoHash: string): Promise<SwarmStats> =>
  (await (await fetch(`${tracker.statsUrl}/${infoHash}`)).json()) as SwarmStats;

const listOf = async (tracker: RunningEdgepeerTracker) =>
  (await (await fetch(tracker.statsUrl)).json()) as { peerCount: number; sweeping: boolean; stateFailures: number };

describe('two edgepeer trackers on one Redis', () => {
  let dir: string;
  let redis: RedisServer;
  let served: ServedSet;
  let seeder: LtSeeder;
  let torrent: string;
  let infoHash: string;
  let one: RunningEdgepeerTracker;
  let two: RunningEdgepeerTracker;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-tracker-redis-'));
    redis = await startRedis();
    // Peers time out after 2 s: the sweep runs every 0.5 s, its lease lapses 1.5 s after its holder's last.
    const args = ['--state', redis.url, '--interval', '60', '--min-interval', '1', '--peer-timeout', '2'];
    [one, two] = [await startTrackerCommand(args), await startTrackerCommand(args)];
    served = await serveObjects(dir, [SINGLE_FILE]);
    const object = served.objects[0]!;
    infoHash = object.metainfo.infoHash;
    const seedDir = await freshDir(dir, 'seed');
    await writeContent(seedDir, object.metainfo, object.data);
    torrent = await writeBareTorrent(await freshDir(dir, 'torrent'), object.metainfo);
    seeder = await startLtSeeder(torrent, seedDir);
  });

  afterAll(async () => {
    await seeder?.stop();
    await one?.stop();
    await two?.stop();
    await stopServed(served);
    await redis?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives a libtorrent leecher of the second tracker the seeder announced to the first', async () => {
    // Announced on the seeder's behalf (it knows no tracker), refreshed so it outlives the 2 s timeout.
    const keepSeeder = setInterval(() => void announce(one.announceUrl, infoHash, seeder.port).catch(() => {}), 500);
    try {
      const first = await announce(one.announceUrl, infoHash, seeder.port);
      expect(first['failure reason']).toBeUndefined();
      const result = await ltLeech(torrent, await freshDir(dir, 'leech'), { tracker: two.announceUrl, timeoutS: 60 });
      expect(result.seeding).toBe(true);
      expect(result.peers).toContain(`127.0.0.1:${seeder.port}`);
    } finally {
      clearInterval(keepSeeder);
    }
  });

  it("shows one tracker's announces and stopped in the other's statistics and change feed, within a second", async () => {
    const hash = 'ab'.repeat(20);
    const follower = followStats(two.statsUrl, hash);
    try {
      await follower.until((stats) => stats.version === 0, 5000);
      const started = Date.now();
      const first = await announce(one.announceUrl, hash, 40001, { left: '100' });
      const seen = await follower.until((stats) => stats.peerCount === 1, 1000);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(seen).toMatchObject({ seeds: 0, leechers: 1 });
      expect((await statsOf(two, hash)).peers.map((peer) => peer.port)).toEqual([40001]);
      // Both answer with the state's tracker id: a client moving between them resends no bitmap.
      const second = await announce(two.announceUrl, hash, 40002, { left: '100' });
      expect(String(second['tracker id'])).toBe(String(first['tracker id']));
      await announce(two.announceUrl, hash, 40002, { event: 'stopped' });
      // Stopped through the second: gone for both.
      await announce(two.announceUrl, hash, 40001, { event: 'stopped' });
      await follower.until((stats) => stats.peerCount === 0 && stats.version === 0, 1000);
      expect((await statsOf(one, hash)).peerCount).toBe(0);
    } finally {
      follower.close();
    }
  });

  it('expires peers once, from the tracker holding the sweep lease; kill -9 of one leaves the other serving and sweeping', async () => {
    // The trackers' own sweeps decide the holder: exactly one sweeps.
    await vi.waitFor(
      async () => expect([(await listOf(one)).sweeping, (await listOf(two)).sweeping].sort()).toEqual([false, true]),
      { timeout: 5000, interval: 100 },
    );
    const hash = 'ef'.repeat(20);
    const followOne = followStats(one.statsUrl, hash);
    const followTwo = followStats(two.statsUrl, hash);
    try {
      for (const port of [41001, 41002, 41003]) await announce(two.announceUrl, hash, port, { left: '5' });
      for (const follower of [followOne, followTwo]) await follower.until((stats) => stats.peerCount === 3, 2000);
      const fullAt = [followOne.snapshots.length, followTwo.snapshots.length];
      // Both feeds see the three go at once, in one change (one sweep), never one at a time.
      const gone = (snapshots: SwarmStats[], from: number) => snapshots.slice(from).find((s) => s.peerCount === 0);
      await vi.waitFor(() => expect(gone(followOne.snapshots, fullAt[0]!)).toBeDefined(), { timeout: 8000 });
      await vi.waitFor(() => expect(gone(followTwo.snapshots, fullAt[1]!)).toBeDefined(), { timeout: 2000 });
      for (const [i, follower] of [followOne, followTwo].entries()) {
        expect(follower.snapshots.slice(fullAt[i]).map((stats) => stats.peerCount)).toEqual([0]);
      }
    } finally {
      followOne.close();
      followTwo.close();
    }

    const sweeper = (await listOf(one)).sweeping ? one : two;
    const survivor = sweeper === one ? two : one;
    await sweeper.kill();
    expect(sweeper.running()).toBe(false);
    // The survivor serves at once, and takes over the sweep once the lease lapses.
    const answer = await announce(survivor.announceUrl, hash, 42001);
    expect(answer['failure reason']).toBeUndefined();
    await vi.waitFor(async () => expect((await listOf(survivor)).sweeping).toBe(true), {
      timeout: 5000,
      interval: 100,
    });
    await vi.waitFor(async () => expect((await statsOf(survivor, hash)).peerCount).toBe(0), {
      timeout: 5000,
      interval: 100,
    });
    expect(survivor.running()).toBe(true);
  });

  it('answers with a failure reason while Redis is away, does not crash, and serves again when it is back', async () => {
    const tracker = one.running() ? one : two;
    await redis.stop();
    const during = await announce(tracker.announceUrl, 'cc'.repeat(20), 43001);
    expect(String(during['failure reason'])).toMatch(/state temporarily unavailable/);
    const stats = await fetch(`${tracker.statsUrl}/${'cc'.repeat(20)}`);
    expect(stats.status).toBe(503);
    await redis.restart();
    await vi.waitFor(
      async () =>
        expect((await announce(tracker.announceUrl, 'cc'.repeat(20), 43001))['failure reason']).toBeUndefined(),
      { timeout: 10_000, interval: 100 },
    );
    expect(tracker.running()).toBe(true);
    expect((await listOf(tracker)).stateFailures).toBeGreaterThan(0);
    expect(tracker.stderr()).toMatch(/Redis connection failed; retrying/);
  });

  it('stops at start with EDGEPEER_STATE_UNREACHABLE when Redis refuses it, and starts with --state-password-file', async () => {
    const guarded = await startRedis();
    const admin = createClient({ url: guarded.url });
    await admin.connect();
    await admin.configSet('requirepass', 'tracker-secret');
    await admin.close();
    try {
      const refused = await runTracker(['--state', guarded.url]);
      expect(refused.code).toBe(7);
      expect(JSON.parse(refused.stdout.trim())).toMatchObject({
        error: { code: 'EDGEPEER_STATE_UNREACHABLE', message: expect.stringMatching(/NOAUTH|WRONGPASS|auth/i) },
      });
      const passwordFile = join(dir, 'redis.pass');
      await writeFile(passwordFile, 'tracker-secret\n');
      const tracker = await startTrackerCommand(['--state', guarded.url, '--state-password-file', passwordFile]);
      try {
        expect((await announce(tracker.announceUrl, 'dd'.repeat(20), 44001))['failure reason']).toBeUndefined();
      } finally {
        await tracker.stop();
      }
    } finally {
      await guarded.dispose();
    }
  });

  it('stops at start with EDGEPEER_STATE_UNREACHABLE (exit 7) when Redis cannot be reached', async () => {
    const { code, stdout } = await runTracker(['--state', 'redis://127.0.0.1:1']);
    expect(code).toBe(7);
    expect(JSON.parse(stdout.trim())).toMatchObject({
      error: {
        code: 'EDGEPEER_STATE_UNREACHABLE',
        message: expect.stringMatching(/Redis at redis:\/\/127\.0\.0\.1:1/),
      },
    });
  });
});
