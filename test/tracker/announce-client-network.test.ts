// The announce client with its real transports (undici, node:dgram) against the reference tracker on
// loopback: HTTP announces with the bitmap extension, the multi-object announce, UDP with BEP 41 data,
// scrape, a tracker that is down, and stopped on shutdown.
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AnnounceClient,
  type AnnounceEventInfo,
  createAnnounceClient,
  createTracker,
  type Tracker,
} from '../../src/tracker/index.ts';
import { hold, MemoryStore, setPieces, testMetainfo } from './helpers.ts';

/** Resolves on the first announce event matching `test`. */
function nextAnnounce(client: AnnounceClient, test: (info: AnnounceEventInfo) => boolean): Promise<AnnounceEventInfo> {
  return new Promise((resolve) => {
    const listener = (info: AnnounceEventInfo): void => {
      if (!test(info)) return;
      client.off('announce', listener);
      resolve(info);
    };
    client.on('announce', listener);
  });
}

describe('announce client against the reference tracker', () => {
  const cleanup: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function startTracker(): Promise<{ tracker: Tracker; announceUrl: string; udpUrl: string }> {
    const tracker = createTracker({ port: 0, host: '127.0.0.1', intervalS: 60, minIntervalS: 1 });
    const address = await tracker.listen();
    cleanup.push(() => tracker.close());
    return { tracker, announceUrl: address.announceUrl, udpUrl: address.udpAnnounceUrl! };
  }

  function startClient(store: MemoryStore, trackers: string[]): AnnounceClient {
    const client = createAnnounceClient({
      store,
      peerId: Buffer.from('-EP0001-networktest1'),
      port: 16881,
      httpBaseUrls: ['http://127.0.0.1:18080'],
      trackers,
      changeDelayMs: 50,
      batchLingerMs: 50,
      batchWindowMs: 0,
      minSpacingS: 0,
      requestTimeoutMs: 3000,
    });
    cleanup.push(() => client.stop());
    return client;
  }

  it('announces bitmaps over HTTP, switches to the multi-object announce, and sends stopped on shutdown', async () => {
    const { tracker, announceUrl } = await startTracker();
    const store = new MemoryStore();
    const partial = await hold(store, testMetainfo({ pieceCount: 20 }), (i) => i < 5);
    const whole = await hold(store, testMetainfo({ pieceCount: 3 }), () => true);
    const client = startClient(store, [announceUrl]);
    const announced = Promise.all([
      nextAnnounce(client, (info) => info.infoHash === partial.infoHash),
      nextAnnounce(client, (info) => info.infoHash === whole.infoHash),
    ]);
    client.start();
    await announced;
    const stats = await tracker.swarms.stats(partial.infoHash, 10);
    expect(stats).toMatchObject({ leechers: 1, pieceCount: 20, size: 20 * 16_384 });
    expect(stats.pieceCopies?.slice(0, 6)).toEqual([1, 1, 1, 1, 1, 0]);
    expect(stats.networkPeers[0]).toMatchObject({
      port: 16881,
      held: 5,
      pieceUrls: [`http://127.0.0.1:18080/pieces/${partial.infoHash}/{index}`],
    });
    const wholeStats = await tracker.swarms.stats(whole.infoHash, 10);
    expect(wholeStats.networkPeers[0]?.objectUrls).toEqual([`http://127.0.0.1:18080/objects/${whole.infoHash}/`]);
    expect(client.status()[0]).toMatchObject({ extension: true, multiObject: true, lastError: null });

    // A bitmap change goes by the multi-object announce now that the tracker offered it.
    const changed = nextAnnounce(client, (info) => info.infoHash === partial.infoHash);
    await setPieces(store, partial.infoHash, [5, 6, 7], true);
    await changed;
    expect((await tracker.swarms.stats(partial.infoHash, 10)).networkPeers[0]?.held).toBe(8);

    const [scrape] = await client.scrape(whole.infoHash);
    expect(scrape).toEqual({ url: announceUrl, counts: { complete: 1, incomplete: 0, downloaded: 0 } });

    await client.stop();
    expect(await tracker.swarms.counts()).toMatchObject({ swarms: 0, peers: 0 });
  });

  it('announces over UDP with the extension in BEP 41 URL data', async () => {
    const { tracker, udpUrl } = await startTracker();
    const store = new MemoryStore();
    const object = await hold(store, testMetainfo({ pieceCount: 16 }), (i) => i % 2 === 0);
    const client = startClient(store, [udpUrl]);
    const announced = nextAnnounce(client, () => true);
    client.start();
    const info = await announced;
    expect(info).toMatchObject({
      url: udpUrl,
      event: 'started',
      bitmapSent: true,
      result: { interval: 60, incomplete: 1 },
    });
    const stats = await tracker.swarms.stats(object.infoHash, 10);
    expect(stats.networkPeers[0]).toMatchObject({
      held: 8,
      pieceUrls: [`http://127.0.0.1:18080/pieces/${object.infoHash}/{index}`],
    });
    expect(await client.scrape(object.infoHash)).toEqual([
      { url: udpUrl, counts: { complete: 0, incomplete: 1, downloaded: 0 } },
    ]);
    // UDP answers carry no offer, yet later announces still carry the bitmap.
    const changed = nextAnnounce(client, (info) => info.infoHash === object.infoHash);
    await setPieces(store, object.infoHash, [1, 3], true);
    expect(await changed).toMatchObject({ bitmapSent: true });
    expect((await tracker.swarms.stats(object.infoHash, 10)).networkPeers[0]?.held).toBe(10);
  });

  it('records a tracker that is down and keeps announcing to the others', async () => {
    const { tracker, announceUrl } = await startTracker();
    // A port nobody listens on: take one, then free it.
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const deadUrl = `http://127.0.0.1:${deadPort}/announce`;
    const store = new MemoryStore();
    const object = await hold(store, testMetainfo({ pieceCount: 2, announceList: [[deadUrl]] }), () => true);
    const client = startClient(store, [announceUrl]);
    const failed = new Promise((resolve) => client.once('announce-error', resolve));
    const announced = nextAnnounce(client, (info) => info.url === announceUrl);
    client.start();
    expect(await failed).toMatchObject({ url: deadUrl, code: 'EDGEPEER_TRACKER_UNREACHABLE', event: 'started' });
    await announced;
    expect((await tracker.swarms.stats(object.infoHash, 1)).seeds).toBe(1);
    const dead = client.status().find((status) => status.url === deadUrl)!;
    expect(dead).toMatchObject({ consecutiveFailures: 1, lastError: { code: 'EDGEPEER_TRACKER_UNREACHABLE' } });
    expect(dead.retryAt).toBeGreaterThan(Date.now());
  });
});
