import { afterEach, describe, expect, it } from 'vitest';
import { TrackerError } from '../../src/errors/index.ts';
import { announceUrl } from '../../src/tracker/client/http-transport.ts';
import type { AnnounceSent, ScrapeCounts, TrackerTransport } from '../../src/tracker/client/transport.ts';
import { type AnnounceClient, type AnnounceClientOptions, createAnnounceClient } from '../../src/tracker/index.ts';
import { decodeBitmap } from '../../src/tracker/protocol/bitmap.ts';
import type { AnnounceParams, AnnounceResult, BatchAnnounce } from '../../src/tracker/protocol/messages.ts';
import { hold, ManualClock, MemoryStore, setPieces, settle, testMetainfo } from './helpers.ts';

type Call = { url: string; params: AnnounceParams; at: number } | { url: string; batch: BatchAnnounce; at: number };

/** Records announces and answers them with whatever `answer` returns (an Error is thrown as is). */
class FakeTransport implements TrackerTransport {
  readonly calls: Call[] = [];
  closed = false;
  answer: (url: string, params: AnnounceParams) => Partial<AnnounceResult> | Error = () => ({ interval: 1800 });
  batchAnswer: ((url: string, batch: BatchAnnounce) => AnnounceResult[] | Error) | undefined;
  offer: AnnounceResult['extension'];
  readonly clock: ManualClock;

  constructor(clock: ManualClock) {
    this.clock = clock;
  }

  singles(url?: string): Array<{ url: string; params: AnnounceParams; at: number }> {
    return this.calls.filter(
      (call): call is { url: string; params: AnnounceParams; at: number } =>
        'params' in call && (url === undefined || call.url === url),
    );
  }

  batches(): Array<{ url: string; batch: BatchAnnounce; at: number }> {
    return this.calls.filter((call): call is { url: string; batch: BatchAnnounce; at: number } => 'batch' in call);
  }

  async announce(url: string, params: AnnounceParams): Promise<AnnounceSent> {
    this.calls.push({ url, params, at: this.clock.now() });
    const answer = this.answer(url, params);
    if (answer instanceof Error) throw answer;
    const result: AnnounceResult = { peers: [], urlList: [], pieceUrls: [], ...answer };
    if (this.offer !== undefined && params.extension !== undefined) result.extension = this.offer;
    return { result, bitmapSent: params.extension?.bitmap !== undefined };
  }

  async announceBatch(
    url: string,
    batch: BatchAnnounce,
  ): Promise<{ shared: AnnounceResult; results: AnnounceResult[] }> {
    this.calls.push({ url, batch, at: this.clock.now() });
    const results =
      this.batchAnswer?.(url, batch) ?? batch.entries.map(() => ({ peers: [], urlList: [], pieceUrls: [] }));
    if (results instanceof Error) throw results;
    return { shared: { interval: 1800, peers: [], urlList: [], pieceUrls: [], extension: this.offer }, results };
  }

  async scrape(): Promise<Map<string, ScrapeCounts>> {
    return new Map();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const TRACKER_A = 'http://tracker-a.test/announce';
const TRACKER_B = 'http://tracker-b.test/announce';
const TRACKER_C = 'udp://tracker-c.test:6969/announce';
const TRACKER_D = 'http://tracker-d.test/announce';

describe('announce client', () => {
  let client: AnnounceClient | undefined;
  const clock = new ManualClock();

  afterEach(async () => {
    await client?.stop();
    client = undefined;
  });

  function setUp(options: Partial<AnnounceClientOptions> = {}) {
    const store = new MemoryStore();
    const transport = new FakeTransport(clock);
    client = createAnnounceClient({
      store,
      peerId: Buffer.from('-EP0001-abcdefghijkl'),
      port: 6881,
      httpBaseUrls: ['http://edge.test:8080'],
      transport,
      clock,
      stopTimeoutMs: 1000,
      ...options,
    });
    return { store, transport, client };
  }

  it('announces started with bitmap, size and CDN base URL, then again on the tracker interval with jitter', async () => {
    const { store, transport, client } = setUp();
    const object = await hold(store, testMetainfo({ pieceCount: 10, announceList: [[TRACKER_A]] }), (i) => i < 4);
    transport.answer = () => ({ interval: 600, complete: 3, incomplete: 2 });
    client.start();
    await clock.advance(5000);
    const [first] = transport.singles();
    expect(first?.params).toMatchObject({
      event: 'started',
      port: 6881,
      left: 6 * 16_384,
      numWant: 0,
      extension: { pieceCount: 10, size: 10 * 16_384, urls: ['http://edge.test:8080'] },
    });
    expect(Buffer.from(decodeBitmap(first!.params.extension!.bitmap!, 10))).toEqual(object.bitfield.toBuffer());
    await clock.advance(600_000);
    const second = transport.singles()[1]!;
    expect(second.params.event).toBeUndefined();
    expect(second.at - first!.at).toBeGreaterThanOrEqual(540_000);
    expect(second.at - first!.at).toBeLessThanOrEqual(600_000);
    expect(client.status()[0]).toMatchObject({
      url: TRACKER_A,
      peersSeen: 5,
      announces: { ok: 2, failed: 0 },
      objects: 1,
    });
  });

  it('computes left with a short last piece', async () => {
    const { store, transport, client } = setUp();
    await hold(
      store,
      testMetainfo({ pieceCount: 3, lastPieceLength: 100, announceList: [[TRACKER_A]] }),
      (i) => i === 2,
    );
    client.start();
    await clock.advance(5000);
    expect(transport.singles()[0]?.params.left).toBe(2 * 16_384);
  });

  it('fails over within a tier and to the next tier (BEP 12), moving the tracker that answered to the front', async () => {
    const { store, transport, client } = setUp({ backoffInitialMs: 150_000 });
    const infoHash = (
      await hold(
        store,
        testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A, TRACKER_B], [TRACKER_C]] }),
        () => true,
      )
    ).infoHash;
    transport.answer = (url) =>
      url === TRACKER_C ? { interval: 100 } : new TrackerError('EDGEPEER_TRACKER_UNREACHABLE', `${url}: refused`);
    client.start();
    await clock.advance(5000);
    const order = transport.singles().map((call) => call.url);
    expect(order.slice(0, 2).sort()).toEqual([TRACKER_A, TRACKER_B]);
    expect(order[2]).toBe(TRACKER_C);
    // Both first-tier trackers are backing off; the next announce goes to the second tier again.
    transport.answer = () => ({ interval: 100 });
    await clock.advance(100_000);
    expect(transport.singles().at(-1)?.url).toBe(TRACKER_C);
    expect(client.objectStatus(infoHash)?.groups[0]?.lastUrl).toBe(TRACKER_C);
    // Once tier one is back (after its backoff), it is preferred again.
    await clock.advance(100_000);
    expect([TRACKER_A, TRACKER_B]).toContain(transport.singles().at(-1)?.url);
  });

  it('announces to extra trackers on their own schedule, once per URL', async () => {
    const { store, transport, client } = setUp({ trackers: [TRACKER_B, TRACKER_A] });
    await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true);
    client.start();
    await clock.advance(5000);
    expect(
      transport
        .singles()
        .map((call) => call.url)
        .sort(),
    ).toEqual([TRACKER_A, TRACKER_B]);
  });

  it('announces a private object (BEP 27) only to its own trackers, never to extra ones, even added later', async () => {
    const { store, transport, client } = setUp({ trackers: [TRACKER_B] });
    const secret = testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]], private: true });
    const open = testMetainfo({ pieceCount: 2, announceList: [[TRACKER_A]] });
    await hold(store, secret, () => true);
    await hold(store, open, () => true);
    client.start();
    await clock.advance(5000);
    client.setTrackers([TRACKER_B, TRACKER_C]);
    await clock.advance(5000);
    const urlsOf = (infoHash: string) =>
      transport
        .singles()
        .filter((call) => Buffer.from(call.params.infoHash).toString('hex') === infoHash)
        .map((call) => call.url)
        .sort();
    expect(urlsOf(secret.infoHash)).toEqual([TRACKER_A]);
    expect(urlsOf(open.infoHash)).toEqual([TRACKER_A, TRACKER_B, TRACKER_C]);
  });

  it('takes a new list of extra trackers without disturbing the trackers that stay', async () => {
    const { store, transport, client } = setUp({ trackers: [TRACKER_B, TRACKER_C], changeDelayMs: 1000 });
    await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true);
    await hold(store, testMetainfo({ pieceCount: 2, announceList: [[TRACKER_A]] }), () => true);
    client.start();
    await clock.advance(5000);
    const calls = () => transport.singles().map((call) => `${call.url} ${call.params.event ?? 'regular'}`);
    expect(calls().sort()).toEqual(
      [TRACKER_A, TRACKER_A, TRACKER_B, TRACKER_B, TRACKER_C, TRACKER_C].map((url) => `${url} started`),
    );
    const before = calls().length;
    // TRACKER_A is also the metainfo's: dropping it from the extras leaves the metainfo's group alone.
    client.setTrackers([TRACKER_C, TRACKER_D, TRACKER_A]);
    await clock.advance(5000);
    expect(calls().slice(before).sort()).toEqual([
      `${TRACKER_B} stopped`,
      `${TRACKER_B} stopped`,
      `${TRACKER_D} started`,
      `${TRACKER_D} started`,
    ]);
    const middle = calls().length;
    client.setTrackers([TRACKER_C]);
    await clock.advance(5000);
    expect(calls().slice(middle).sort()).toEqual([`${TRACKER_D} stopped`, `${TRACKER_D} stopped`]);
    expect(client.status().map((tracker) => tracker.url)).toEqual([TRACKER_A, TRACKER_C]);
    expect(() => client.setTrackers(['wss://tracker.example/announce'])).toThrow(/http, https or udp/);
  });

  it('announces a bitmap change after the change delay, coalesced, and not sooner than the min interval', async () => {
    const { store, transport, client } = setUp({ changeDelayMs: 2000, minSpacingS: 10 });
    transport.offer = { version: 1 };
    const infoHash = (await hold(store, testMetainfo({ pieceCount: 8, announceList: [[TRACKER_A]] }), () => false))
      .infoHash;
    transport.answer = () => ({ interval: 1800, minInterval: 60 });
    client.start();
    await clock.advance(2000);
    expect(transport.singles()).toHaveLength(1);
    await setPieces(store, infoHash, [0], true);
    await clock.advance(1000);
    await setPieces(store, infoHash, [1], true);
    await clock.advance(30_000);
    expect(transport.singles()).toHaveLength(1);
    await clock.advance(30_000);
    const calls = transport.singles();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - calls[0]!.at).toBe(60_000);
    expect(Buffer.from(decodeBitmap(calls[1]!.params.extension!.bitmap!, 8))).toEqual(Buffer.from([0xc0]));
  });

  it('sends completed once when the object becomes complete, at once despite the min interval', async () => {
    const { store, transport, client } = setUp({ changeDelayMs: 1000 });
    const infoHash = (await hold(store, testMetainfo({ pieceCount: 2, announceList: [[TRACKER_A]] }), () => false))
      .infoHash;
    transport.answer = () => ({ interval: 1800, minInterval: 900 });
    client.start();
    await clock.advance(1000);
    await setPieces(store, infoHash, [0, 1], true);
    await clock.advance(1000);
    expect(transport.singles().map((call) => [call.params.event, call.params.left])).toEqual([
      ['started', 2 * 16_384],
      ['completed', 0],
    ]);
    await clock.advance(1800_000);
    expect(transport.singles()[2]?.params.event).toBeUndefined();
  });

  it('sends no completed for an object complete from the start', async () => {
    const { store, transport, client } = setUp();
    const infoHash = (await hold(store, testMetainfo({ pieceCount: 2, announceList: [[TRACKER_A]] }), () => true))
      .infoHash;
    client.start();
    await clock.advance(5000);
    await setPieces(store, infoHash, [1], false);
    await setPieces(store, infoHash, [1], true);
    await clock.advance(3600_000);
    expect(transport.singles().map((call) => call.params.event)).not.toContain('completed');
  });

  it('announces new objects and sends stopped for removed ones', async () => {
    const { store, transport, client } = setUp({ changeDelayMs: 500 });
    client.start();
    const infoHash = (await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }))).infoHash;
    await clock.advance(500);
    await store.removeObject(infoHash, 'purge');
    await clock.advance(3600_000);
    expect(transport.singles().map((call) => call.params.event)).toEqual(['started', 'stopped']);
    expect(client.objectStatus(infoHash)).toBeUndefined();
  });

  it('reports the transfer counts it is given, and those at removal in stopped', async () => {
    const counts = new Map<string, { uploaded: number; downloaded: number }>();
    const { store, transport, client } = setUp({ changeDelayMs: 500, transferStats: (h) => counts.get(h) });
    client.start();
    const infoHash = (await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }))).infoHash;
    await clock.advance(500);
    counts.set(infoHash, { uploaded: 5000, downloaded: 7 });
    client.announceNow(infoHash);
    await clock.advance(100);
    await store.removeObject(infoHash, 'purge');
    counts.delete(infoHash); // the agent forgets a removed object's counts right after
    await clock.advance(3600_000);
    expect(transport.singles().map(({ params }) => [params.event, params.uploaded, params.downloaded])).toEqual([
      ['started', 0, 0],
      [undefined, 5000, 7],
      ['stopped', 5000, 7],
    ]);
  });

  it('still sends stopped on shutdown for an object removed while its stopped waited for a batch', async () => {
    const { store, transport, client: started } = setUp({ batchWindowMs: 10_000, changeDelayMs: 100 });
    transport.offer = { version: 1, batchPath: '/announce/batch', maxBatch: 40 };
    const infoHash = (await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }))).infoHash;
    started.start();
    await clock.advance(2000);
    await store.removeObject(infoHash, 'purge');
    await started.stop();
    client = undefined;
    const events = [
      ...transport.singles().map((call) => call.params),
      ...transport.batches().flatMap((call) => call.batch.entries),
    ];
    expect(events.filter((entry) => entry.event === 'stopped')).toHaveLength(1);
  });

  it('sends stopped for every started object on stop and closes the transport', async () => {
    const { store, transport, client: started } = setUp({ trackers: [TRACKER_B] });
    for (let i = 0; i < 3; i++)
      await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true);
    started.start();
    await clock.advance(5000);
    await started.stop();
    client = undefined;
    const stopped = transport.singles().filter((call) => call.params.event === 'stopped');
    expect(stopped).toHaveLength(6);
    expect(stopped.every((call) => call.params.extension?.bitmap === undefined)).toBe(true);
    expect(transport.closed).toBe(true);
  });

  it('sends stopped on stop to a tracker whose started was under way: the tracker may have counted it', async () => {
    const { store, transport, client: started } = setUp();
    await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true);
    let release!: () => void;
    const answered = new Promise<void>((resolve) => {
      release = resolve;
    });
    let underWay = false;
    const answer = transport.announce.bind(transport);
    transport.announce = async (url, params) => {
      if (params.event === 'started') {
        underWay = true;
        await answered;
      }
      return answer(url, params);
    };
    started.start();
    await clock.advance(5000);
    expect(underWay).toBe(true);
    const stopping = started.stop();
    release();
    await stopping;
    client = undefined;
    expect(transport.singles().map((call) => call.params.event)).toEqual(['started', 'stopped']);
  });

  it('backs off exponentially with a cap while a tracker is down, one probe at a time, and recovers', async () => {
    const { store, transport, client } = setUp({ backoffInitialMs: 10_000, backoffMaxMs: 40_000 });
    for (let i = 0; i < 50; i++)
      await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true);
    transport.answer = () => new TrackerError('EDGEPEER_TRACKER_TIMEOUT', 'no answer within 15000 ms');
    client.start();
    await clock.advance(5000);
    const attempts = (): number[] => transport.singles().map((call) => call.at);
    expect(attempts()).toHaveLength(1);
    await clock.advance(200_000);
    const gaps = attempts()
      .slice(1)
      .map((at, i) => at - attempts()[i]!);
    expect(gaps.slice(0, 3)).toEqual([10_000, 20_000, 40_000]);
    expect(Math.max(...gaps)).toBe(40_000);
    const status = client.status()[0]!;
    expect(status).toMatchObject({
      consecutiveFailures: attempts().length,
      lastError: { code: 'EDGEPEER_TRACKER_TIMEOUT' },
    });
    expect(status.retryAt).toBeGreaterThan(clock.now());
    transport.answer = () => ({ interval: 1800 });
    await clock.advance(60_000);
    const started = new Set(
      transport.singles().filter((call) => call.params.event === 'started' && call.at > clock.now() - 60_000),
    );
    expect(started.size).toBeGreaterThanOrEqual(50);
    expect(client.status()[0]).toMatchObject({ consecutiveFailures: 0, retryAt: null });
  });

  it('tries stopped once for an object removed while its tracker is down, and carries on', async () => {
    const { store, transport, client } = setUp({ backoffInitialMs: 10_000, changeDelayMs: 100 });
    const gone = (await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true)).infoHash;
    const kept = (await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true)).infoHash;
    client.start();
    await clock.advance(1000);
    transport.answer = () => new TrackerError('EDGEPEER_TRACKER_UNREACHABLE', 'refused');
    client.announceNow();
    await clock.advance(10);
    await store.removeObject(gone, 'purge');
    await clock.advance(100_000);
    const calls = (hex: string, event?: string) =>
      transport.singles().filter((call) => call.params.infoHash.toString('hex') === hex && call.params.event === event);
    expect(calls(gone, 'stopped')).toHaveLength(1);
    transport.answer = () => ({ interval: 1800 });
    await clock.advance(100_000);
    expect(client.status()[0]?.consecutiveFailures).toBe(0);
    expect(calls(kept).at(-1)?.at).toBeGreaterThan(clock.now() - 100_000);
  });

  it('backs off one object after a failure reason, stops on retry in never, and keeps warnings', async () => {
    const { store, transport, client } = setUp({ backoffInitialMs: 10_000 });
    const refused = (await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true))
      .infoHash;
    const never = (await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true))
      .infoHash;
    const fine = (await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true)).infoHash;
    transport.answer = (_url, params) => {
      const hex = params.infoHash.toString('hex');
      if (hex === refused) return { failureReason: 'not whitelisted' };
      if (hex === never) return { failureReason: 'banned', retryIn: 'never' };
      return { interval: 1800, warning: 'be nice' };
    };
    client.start();
    await clock.advance(60_000);
    const byObject = (hex: string) =>
      transport.singles().filter((call) => call.params.infoHash.toString('hex') === hex).length;
    expect(byObject(refused)).toBe(3);
    expect(byObject(never)).toBe(1);
    expect(byObject(fine)).toBe(1);
    expect(client.objectStatus(refused)?.groups[0]?.lastError).toBe('not whitelisted');
    expect(client.status()[0]).toMatchObject({ lastWarning: 'be nice', consecutiveFailures: 0 });
  });

  it('stops sending the bitmap to a tracker that does not speak the extension', async () => {
    const { store, transport, client } = setUp();
    const infoHash = (await hold(store, testMetainfo({ pieceCount: 4, announceList: [[TRACKER_A]] }), () => false))
      .infoHash;
    client.start();
    await clock.advance(5000);
    client.announceNow(infoHash);
    await clock.advance(1);
    const [first, second] = transport.singles();
    expect(first?.params.extension).toMatchObject({ pieceCount: 4, bitmap: '0' });
    expect(second?.params.extension).toEqual({ urls: [] });
    expect(client.status()[0]).toMatchObject({ extension: false, multiObject: false });
  });

  it('uses the multi-object announce of a tracker that offers it, aligned to the batch window', async () => {
    const { store, transport, client } = setUp({ batchWindowMs: 10_000, changeDelayMs: 100 });
    transport.offer = { version: 1, batchPath: '/announce/batch', maxBatch: 40 };
    for (let i = 0; i < 100; i++)
      await hold(store, testMetainfo({ pieceCount: 8, announceList: [[TRACKER_A]] }), (p) => p < i % 8);
    client.start();
    // The first announce probes the tracker; the rest wait up to the 1 s linger for company.
    await clock.advance(2000);
    expect(transport.singles()).toHaveLength(1);
    const batches = transport.batches();
    expect(batches.map((call) => call.batch.entries.length)).toEqual([40, 40, 19]);
    expect(batches[0]?.url).toBe('http://tracker-a.test/announce/batch');
    expect(batches[0]?.batch.urls).toEqual(['http://edge.test:8080']);
    expect(batches[0]?.batch.entries[0]).toMatchObject({ event: 'started', extension: { pieceCount: 8 } });
    await clock.advance(1820_000);
    // Regular announces keep to the 10 s grid (plus the linger), so objects keep travelling together.
    const regular = transport.batches().slice(3);
    expect(new Set(regular.map((call) => call.at % 10_000)).size).toBe(1);
    expect(regular.reduce((sum, call) => sum + call.batch.entries.length, 0)).toBe(100);
    expect(client.status()[0]).toMatchObject({ multiObject: true, extension: true });
  });

  it('handles per-entry failures of a multi-object answer and falls back to single announces on HTTP errors', async () => {
    const { store, transport, client } = setUp({ changeDelayMs: 100 });
    transport.offer = { version: 1, batchPath: '/announce/batch' };
    const infoHashes: string[] = [];
    for (let i = 0; i < 3; i++) {
      infoHashes.push((await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }))).infoHash);
    }
    transport.answer = (_url, params) =>
      params.infoHash.toString('hex') === infoHashes[2] ? { failureReason: 'nope' } : { interval: 1800 };
    transport.batchAnswer = (_url, batch) =>
      batch.entries.map((entry) =>
        entry.infoHash.toString('hex') === infoHashes[2]
          ? { failureReason: 'nope', peers: [], urlList: [], pieceUrls: [] }
          : { complete: 1, incomplete: 0, peers: [], urlList: [], pieceUrls: [] },
      );
    client.start();
    await clock.advance(2000);
    expect(client.objectStatus(infoHashes[2]!)?.groups[0]?.lastError).toBe('nope');
    expect(client.objectStatus(infoHashes[0]!)?.groups[0]?.lastError).toBeNull();
    transport.batchAnswer = () => new TrackerError('EDGEPEER_TRACKER_STATUS', 'HTTP 404', { statusCode: 404 });
    transport.offer = undefined;
    client.announceNow();
    await clock.advance(2000);
    expect(transport.singles().length).toBeGreaterThan(1);
    expect(client.status()[0]?.multiObject).toBe(false);
  });

  it('leaves an acknowledged, unchanged bitmap out, but sends it every 4th time, after a restart and after a failure', async () => {
    const { store, transport, client } = setUp({ changeDelayMs: 100, jitter: 0 });
    transport.offer = { version: 1 };
    let trackerId = 'first';
    transport.answer = () => ({ interval: 100, trackerId });
    await hold(store, testMetainfo({ pieceCount: 8, announceList: [[TRACKER_A]] }), (i) => i < 3);
    client.start();
    await clock.advance(100 + 5 * 100_000);
    const withBitmap = () => transport.singles().map((call) => call.params.extension?.bitmap !== undefined);
    expect(withBitmap()).toEqual([true, false, false, false, true, false]);
    expect(transport.singles()[1]?.params.extension).toEqual({ urls: ['http://edge.test:8080'] });
    // The tracker restarted (new tracker id): the partial object's bitmap goes again at once.
    trackerId = 'second';
    await clock.advance(100_000);
    await clock.advance(31_000);
    expect(withBitmap().slice(6)).toEqual([false, true]);
    // A failed announce forgets the acknowledgement.
    transport.answer = () => new TrackerError('EDGEPEER_TRACKER_TIMEOUT', 'slow');
    await clock.advance(100_000);
    transport.answer = () => ({ interval: 100, trackerId });
    await clock.advance(100_000);
    expect(withBitmap().at(-1)).toBe(true);
  });

  it('keeps within the request rate per tracker', async () => {
    const { store, transport, client } = setUp({ maxRequestsPerSecond: 10 });
    for (let i = 0; i < 200; i++)
      await hold(store, testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A]] }), () => true);
    client.start();
    await clock.advance(10_000);
    // A burst of 10, then 10 per second.
    expect(transport.singles().length).toBeGreaterThanOrEqual(95);
    expect(transport.singles().length).toBeLessThanOrEqual(111);
  });

  it('leaves the bitmap out of a GET that would be too long, and sends it by multi-object announce once offered', async () => {
    const params: AnnounceParams = {
      infoHash: Buffer.alloc(20),
      peerId: Buffer.alloc(20),
      port: 1,
      uploaded: 0,
      downloaded: 0,
      left: 1,
      extension: { pieceCount: 80_000, size: 1, bitmap: `b${'A'.repeat(13_334)}`, urls: [] },
    };
    const short = announceUrl(TRACKER_A, params, 6144);
    expect(short.bitmapSent).toBe(false);
    expect(short.url.length).toBeLessThan(6144);
    expect(short.url).toContain('ep_pieces=80000');
    expect(
      announceUrl(`${TRACKER_A}?passkey=x`, { ...params, extension: { ...params.extension!, bitmap: 'rAA' } }, 6144),
    ).toMatchObject({
      bitmapSent: true,
      url: expect.stringMatching(/\?passkey=x&info_hash=/),
    });

    const { store, transport, client } = setUp({ changeDelayMs: 100, minSpacingS: 1 });
    await hold(store, testMetainfo({ pieceCount: 4, announceList: [[TRACKER_A]] }), () => false);
    transport.offer = { version: 1, batchPath: '/announce/batch' };
    const original = transport.announce.bind(transport);
    transport.announce = async (url, sent) => ({ ...(await original(url, sent)), bitmapSent: false });
    client.start();
    await clock.advance(15_000);
    expect(transport.batches()[0]?.batch.entries[0]?.extension?.bitmap).toBe('0');
  });

  it('never throws into the caller on garbage from the transport, and reports it', async () => {
    const { store, transport, client } = setUp();
    await hold(
      store,
      testMetainfo({ pieceCount: 1, announceList: [[TRACKER_A], ['wss://unsupported.test/announce']] }),
      () => true,
    );
    transport.answer = (url) =>
      url === TRACKER_A ? new Error('socket hang up') : new TrackerError('EDGEPEER_TRACKER_UNSUPPORTED', 'no');
    const errors: string[] = [];
    client.on('announce-error', (info) => errors.push(info.code));
    client.start();
    await clock.advance(5000);
    await settle();
    expect(errors).toEqual(['EDGEPEER_TRACKER_UNREACHABLE', 'EDGEPEER_TRACKER_UNSUPPORTED']);
  });

  it('checks its options', () => {
    const store = new MemoryStore();
    expect(() => createAnnounceClient({ store, peerId: Buffer.alloc(19), port: 1 })).toThrow(
      /peer id must be 20 bytes/,
    );
    expect(() => createAnnounceClient({ store, peerId: Buffer.alloc(20), port: 0 })).toThrow(/port must be 1-65535/);
    expect(() => createAnnounceClient({ store, peerId: Buffer.alloc(20), port: 1, trackers: ['ftp://x'] })).toThrow(
      /http, https or udp/,
    );
    expect(() =>
      createAnnounceClient({ store, peerId: Buffer.alloc(20), port: 1, httpBaseUrls: ['http://x/?a'] }),
    ).toThrow(/HTTP base URL/);
  });
});
