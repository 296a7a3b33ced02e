// opentracker (Debian) and the announce client: opentracker tolerates the bitmap extension over HTTP and
// UDP, and hands the announced address to a python3-libtorrent leecher that knows only the tracker URL.
// A libtorrent seeder stands in for the agent's peer wire server: the client announces the seeder's port
// for an object of a real store holding the same content.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnnounceClient, DefaultTrackerTransport, encodeBitmap } from '../../src/tracker/index.ts';
import {
  differingFiles,
  freshDir,
  type ServedSet,
  SINGLE_FILE,
  serveObjects,
  stopServed,
} from '../http/interop-fixtures.ts';
import {
  announceFromStore,
  type LtSeeder,
  ltLeech,
  type RunningTracker,
  startLtSeeder,
  startOpentracker,
  writeBareTorrent,
  writeContent,
} from './tracker-support.ts';

describe('opentracker', () => {
  let dir: string;
  let served: ServedSet;
  let opentracker: RunningTracker;
  let seeder: LtSeeder;
  let torrent: string;
  let client: AnnounceClient;
  let announced: ReturnType<typeof announceFromStore>['announced'];
  const bigInfoHash = randomBytes(20).toString('hex');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-tracker-opentracker-'));
    served = await serveObjects(dir, [SINGLE_FILE]);
    const object = served.objects[0]!;
    opentracker = await startOpentracker([object.metainfo.infoHash, bigInfoHash]);
    const seedDir = await freshDir(dir, 'seed');
    await writeContent(seedDir, object.metainfo, object.data);
    torrent = await writeBareTorrent(await freshDir(dir, 'torrent'), object.metainfo);
    seeder = await startLtSeeder(torrent, seedDir);
    ({ client, announced } = announceFromStore(served.store, {
      port: seeder.port,
      httpBaseUrls: [served.base],
      trackers: [opentracker.announceUrl, opentracker.udpAnnounceUrl],
    }));
  });

  afterAll(async () => {
    await client?.stop();
    await seeder?.stop();
    await opentracker?.stop();
    await stopServed(served);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers announces that carry the bitmap extension, over HTTP and UDP (BEP 41 URL data)', async () => {
    const overHttp = announced((info) => info.url === opentracker.announceUrl);
    const overUdp = announced((info) => info.url === opentracker.udpAnnounceUrl);
    client.start();
    const [http, udp] = await Promise.all([overHttp, overUdp]);
    for (const info of [http, udp]) {
      expect(info).toMatchObject({ event: 'started', bitmapSent: true });
      expect(info.result.failureReason).toBeUndefined();
      expect(info.result.complete).toBeGreaterThanOrEqual(1);
    }
    // opentracker offers no extension: later announces to it carry only the `ep` marker.
    const statuses = client.status();
    expect(statuses.map((status) => [status.url, status.extension, status.lastError])).toEqual([
      [opentracker.announceUrl, false, null],
      [opentracker.udpAnnounceUrl, false, null],
    ]);
  });

  it('gives the announced address to a libtorrent leecher that knows only the tracker URL', async () => {
    const downloadDir = await freshDir(dir, 'leech');
    const result = await ltLeech(torrent, downloadDir, { tracker: opentracker.announceUrl });
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(result.peers).toContain(`127.0.0.1:${seeder.port}`);
    expect(await differingFiles(downloadDir, served.objects[0]!)).toEqual([]);
  });

  it('scrapes over HTTP (BEP 48) and UDP (BEP 15)', async () => {
    const reports = await client.scrape(served.objects[0]!.metainfo.infoHash);
    expect(reports.map((report) => report.url)).toEqual([opentracker.announceUrl, opentracker.udpAnnounceUrl]);
    for (const report of reports) expect(report.counts?.complete).toBeGreaterThanOrEqual(1);
  });

  it('takes announces up to the client GET limit, which leaves out bitmaps too large for it', async () => {
    const transport = new DefaultTrackerTransport({ maxUrlLength: 6144, timeoutMs: 5000, maxUdpUrlData: 1024 });
    const base = {
      infoHash: Buffer.from(bigInfoHash, 'hex'),
      peerId: Buffer.from('-EP0001-bigbitmap000'),
      port: 7999,
      uploaded: 0,
      downloaded: 0,
      left: 1,
    };
    const signal = AbortSignal.timeout(10_000);
    try {
      // 100,000 pieces, half held at random: ~16.7 KB encoded, more than opentracker takes.
      const pieceCount = 100_000;
      const random = randomBytes(pieceCount / 8);
      const bitmap = encodeBitmap(random, pieceCount);
      expect(bitmap.length).toBeGreaterThan(8192);
      const big = await transport.announce(
        opentracker.announceUrl,
        { ...base, extension: { pieceCount, size: pieceCount * 16_384, bitmap, urls: [served.base] } },
        signal,
      );
      expect(big.bitmapSent).toBe(false);
      expect(big.result.failureReason).toBeUndefined();
      // A bitmap that just fits: the whole request line is at the client's 6144-character limit.
      const probe = await transport.announce(
        opentracker.announceUrl,
        { ...base, extension: { pieceCount: 8, size: 1, bitmap: 'b', urls: [] } },
        signal,
      );
      expect(probe.bitmapSent).toBe(true);
      const fits = `b${'A'.repeat(6144 - 60 - (opentracker.announceUrl.length + 250))}`;
      const atLimit = await transport.announce(
        opentracker.announceUrl,
        { ...base, extension: { pieceCount: 8, size: 1, bitmap: fits, urls: [] } },
        signal,
      );
      expect(atLimit).toMatchObject({ bitmapSent: true });
      expect(atLimit.result.failureReason).toBeUndefined();
      // Past ~8 KiB of request line and headers opentracker answers 500: the reason for the limit.
      const tooLong = await fetch(`${opentracker.announceUrl}?info_hash=${'%AB'.repeat(20)}&x=${'A'.repeat(9000)}`);
      expect(tooLong.status).toBe(500);
    } finally {
      await transport.close();
    }
  });

  it("names opentracker's 8-byte UDP answer for an info hash not on its whitelist as the refusal it is", async () => {
    const transport = new DefaultTrackerTransport({ maxUrlLength: 6144, timeoutMs: 5000, maxUdpUrlData: 1024 });
    try {
      const refused = await transport.announce(
        opentracker.udpAnnounceUrl,
        {
          infoHash: Buffer.alloc(20, 0x5a),
          peerId: Buffer.from('-EP0001-notlisted000'),
          port: 7998,
          uploaded: 0,
          downloaded: 0,
          left: 1,
        },
        AbortSignal.timeout(10_000),
      );
      expect(refused.result.failureReason).toMatch(/^announce refused: .*whitelist/);
    } finally {
      await transport.close();
    }
  });

  it('sends stopped on shutdown, so opentracker drops the agent', async () => {
    const infoHash = served.objects[0]!.metainfo.infoHash;
    const before = await client.scrape(infoHash);
    expect(before[0]?.counts?.complete).toBeGreaterThanOrEqual(1);
    await client.stop();
    const transport = new DefaultTrackerTransport({ maxUrlLength: 6144, timeoutMs: 5000, maxUdpUrlData: 1024 });
    try {
      const after = await transport.scrape(
        opentracker.announceUrl,
        [Buffer.from(infoHash, 'hex')],
        AbortSignal.timeout(5000),
      );
      expect(after.get(infoHash)?.complete).toBe((before[0]?.counts?.complete ?? 0) - 1);
    } finally {
      await transport.close();
    }
  });
});
