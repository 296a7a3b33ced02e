// `edgepeer tracker` (the built CLI) with the announce client on a real store and the agent's real HTTP
// server, and python3-libtorrent leechers that know only the tracker URL: peers over HTTP and UDP
// announces, the agent's web seed URL through url-list with no peers at all, and swarm statistics that
// follow a leecher from its first announce to completion. A libtorrent seeder stands in for the agent's
// peer wire server (the client announces its port).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnnounceClient, SwarmStats } from '../../src/tracker/index.ts';
import {
  differingFiles,
  freshDir,
  MULTI_FILE,
  type ServedSet,
  SINGLE_FILE,
  serveObjects,
  stopServed,
} from '../http/interop-fixtures.ts';
import {
  announceFromStore,
  followStats,
  type LtSeeder,
  ltLeech,
  type RunningEdgepeerTracker,
  startLtLeecher,
  startLtSeeder,
  startTrackerCommand,
  writeBareTorrent,
  writeContent,
} from './tracker-support.ts';

describe('edgepeer tracker', () => {
  let dir: string;
  let served: ServedSet;
  let tracker: RunningEdgepeerTracker;
  let seeder: LtSeeder;
  let client: AnnounceClient;
  let announced: ReturnType<typeof announceFromStore>['announced'];
  const torrents: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-tracker-edgepeer-'));
    served = await serveObjects(dir, [SINGLE_FILE, MULTI_FILE]);
    tracker = await startTrackerCommand(['--interval', '60', '--min-interval', '1']);
    for (const object of served.objects)
      torrents.push(await writeBareTorrent(await freshDir(dir, 'torrents'), object.metainfo));
    const seedDir = await freshDir(dir, 'seed');
    await writeContent(seedDir, served.objects[0]!.metainfo, served.objects[0]!.data);
    seeder = await startLtSeeder(torrents[0]!, seedDir);
    ({ client, announced } = announceFromStore(served.store, {
      port: seeder.port,
      httpBaseUrls: [served.base],
      trackers: [tracker.announceUrl, tracker.udpAnnounceUrl],
    }));
  });

  afterAll(async () => {
    await client?.stop();
    await seeder?.stop();
    await tracker?.stop();
    await stopServed(served);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const stats = async (infoHash: string): Promise<SwarmStats> =>
    (await (await fetch(`${tracker.statsUrl}/${infoHash}`)).json()) as SwarmStats;

  it('keeps the bitmap and CDN URIs the agent announces, over HTTP and UDP', async () => {
    const [single, multi] = served.objects.map((object) => object.metainfo.infoHash) as [string, string];
    const everyAnnounce = Promise.all(
      [single, multi].flatMap((infoHash) =>
        [tracker.announceUrl, tracker.udpAnnounceUrl].map((url) =>
          announced((info) => info.infoHash === infoHash && info.url === url),
        ),
      ),
    );
    client.start();
    for (const info of await everyAnnounce) expect(info.result.failureReason).toBeUndefined();
    const status = client.status().find((entry) => entry.url === tracker.announceUrl);
    expect(status).toMatchObject({ extension: true, multiObject: true, lastError: null });
    const singleStats = await stats(single);
    expect(singleStats).toMatchObject({ seeds: 1, leechers: 0, pieceCount: served.objects[0]!.metainfo.pieceCount });
    expect(singleStats.pieceCopies?.every((copies) => copies === 1)).toBe(true);
    // One peer though it announced over HTTP and UDP: same peer id, same address family.
    expect(singleStats.networkPeers).toHaveLength(1);
    expect(singleStats.networkPeers[0]).toMatchObject({
      port: seeder.port,
      bitmap: '1',
      objectUrls: [`${served.base}/objects/${single}/`],
      pieceUrls: [`${served.base}/pieces/${single}/{index}`],
    });
  });

  it('gives the announced address to a libtorrent leecher, and its statistics follow the leecher to completion', async () => {
    const object = served.objects[0]!;
    const follower = followStats(tracker.statsUrl, object.metainfo.infoHash);
    try {
      await follower.until((snapshot) => snapshot.seeds === 1, 10_000);
      const downloadDir = await freshDir(dir, 'leech-peers');
      const leecher = startLtLeecher(torrents[0]!, downloadDir, { tracker: tracker.announceUrl, stay: true });
      try {
        const result = await leecher.result;
        expect(result).toMatchObject({ seeding: true, problems: [] });
        expect(result.peers).toContain(`127.0.0.1:${seeder.port}`);
        expect(await differingFiles(downloadDir, object)).toEqual([]);
        const leecherOf = (snapshot: SwarmStats) => snapshot.peers.find((peer) => !peer.network);
        const started = await follower.until((snapshot) => leecherOf(snapshot)?.progress === 0, 10_000);
        expect(started).toMatchObject({ seeds: 1, leechers: 1, peersWithUnknownPieces: 1 });
        const done = await follower.until((snapshot) => leecherOf(snapshot)?.complete === true, 15_000);
        expect(done).toMatchObject({ seeds: 2, leechers: 0, downloaded: 1 });
        expect(leecherOf(done)?.progress).toBe(1);
        expect(done.pieceCopies?.every((copies) => copies === 2)).toBe(true);
      } finally {
        await leecher.stop();
      }
      // libtorrent says stopped as it leaves: the swarm is back to the agent alone.
      const left = await follower.until((snapshot) => snapshot.downloaded === 1 && snapshot.peerCount === 1, 15_000);
      expect(left.pieceCopies?.every((copies) => copies === 1)).toBe(true);
    } finally {
      follower.close();
    }
  });

  it('finds the seeder for a libtorrent leecher announcing over UDP (BEP 15)', async () => {
    const downloadDir = await freshDir(dir, 'leech-udp');
    const result = await ltLeech(torrents[0]!, downloadDir, { tracker: tracker.udpAnnounceUrl });
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(result.peers).toContain(`127.0.0.1:${seeder.port}`);
  });

  it("hands out the agent's web seed URL in url-list: a leecher with no peers downloads from the agent's HTTP server", async () => {
    const object = served.objects[1]!;
    const downloadDir = await freshDir(dir, 'leech-web-seed');
    const result = await ltLeech(torrents[1]!, downloadDir, { webSeedsFrom: tracker.announceUrl });
    expect(result.webSeeds).toEqual([`${served.base}/objects/${object.metainfo.infoHash}/`]);
    expect(result).toMatchObject({ seeding: true, peers: [], problems: [] });
    expect(await differingFiles(downloadDir, object)).toEqual([]);
  });

  it('drops the agent from every swarm when its client stops, and exits 0 on SIGTERM', async () => {
    await client.stop();
    for (const object of served.objects) {
      expect((await stats(object.metainfo.infoHash)).networkPeers).toEqual([]);
    }
    expect(await tracker.stop()).toBe(0);
  });
});
