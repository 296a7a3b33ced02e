// Load shedding on the real peer wire and HTTP servers over loopback: over the connection threshold a new
// HTTP request gets 503 with Retry-After and a new peer wire request a BEP 6 reject, while the response and
// the requests admitted before finish; below 90 % of the threshold requests are served again.
import { once } from 'node:events';
import { connect } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../src/http/index.ts';
import { Qos, resolveQos } from '../../src/qos/index.ts';
import { createPeerWireServer, type PeerWireServer } from '../../src/wire/index.ts';
import { connectPeer, GatedCache, hold, MemoryStore, makeObject, requestBlock, waitFor } from '../wire/helpers.ts';

const PIECE = 256 * 1024;
const BLOCK = 16 * 1024;

/** Resolves once `accept` holds (checked every 10 ms; the test's timeout bounds it). */
async function until(accept: () => boolean): Promise<void> {
  while (!accept()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('load shedding', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups.length = 0;
  });

  it('refuses new HTTP requests (503, Retry-After) and new wire requests (reject) over the threshold; admitted ones finish', async () => {
    const store = new MemoryStore();
    const object = makeObject('shed.bin', 32 * 1024 * 1024, PIECE);
    await hold(store, object);
    const cache = new GatedCache(store);
    const qos = new Qos(resolveQos({ shedConnections: 1, retryAfterMs: 7000 }));
    cleanups.push(() => qos.stop());
    const wire: PeerWireServer = createPeerWireServer({ store, cache, port: 0, host: '127.0.0.1', qos });
    const wirePort = (await wire.listen()).port;
    cleanups.push(() => wire.close(100));
    const http: HttpServer = createHttpServer({
      store,
      cache: cache.cache,
      port: 0,
      host: '127.0.0.1',
      policy: 'refuse',
      qos,
    });
    const httpPort = (await http.listen()).port;
    cleanups.push(() => http.close(100));
    qos.watchLoad(() => ({ connections: wire.stats().connections + http.stats().connections, queuedBytes: 0 }));
    const url = `http://127.0.0.1:${httpPort}/objects/${object.infoHash}/shed.bin`;

    // Admitted before: a peer with requests queued (its reads held back), and a large response in flight
    // to a client that does not read yet.
    const peer = await connectPeer(wirePort, object.infoHash);
    cleanups.push(() => peer.close());
    await waitFor(peer.wire, 'have-all');
    const unchoke = waitFor(peer.wire, 'unchoke');
    peer.wire.interested();
    await unchoke;
    let openGate!: () => void;
    cache.gate = new Promise((resolve) => {
      openGate = resolve;
    });
    const admittedBlocks = [0, 1, 2].map((i) => requestBlock(peer.wire, 1, i * BLOCK, BLOCK));
    await until(() => wire.stats().requestsReceived === 3);
    const slow = connect({ port: httpPort, host: '127.0.0.1' });
    await once(slow, 'connect');
    slow.pause();
    slow.write(`GET /objects/${object.infoHash}/shed.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    await until(() => http.stats().bytesSent > 0);

    qos.sampleLoad();
    expect(qos.status().shedding).toMatchObject({ active: 'connections 2 > 1', episodes: 1 });

    // New requests are refused, in the ways clients understand.
    const refused = await request(url, { reset: true });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('7');
    await refused.body.text();
    await expect(requestBlock(peer.wire, 2, 0, BLOCK)).rejects.toThrow(/rejected/);

    // What was admitted finishes: the queued blocks, byte for byte, and the whole response.
    openGate();
    const blocks = await Promise.all(admittedBlocks);
    expect(Buffer.concat(blocks).equals(object.content.subarray(PIECE, PIECE + 3 * BLOCK))).toBe(true);
    let received = 0;
    slow.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    slow.resume();
    await once(slow, 'end');
    expect(received).toBeGreaterThan(object.content.length);
    expect(qos.status().shedding.shed).toMatchObject({ http: 1, wire: 1 });

    // Below 90 % of the threshold: served again.
    peer.close();
    await until(() => wire.stats().connections + http.stats().connections === 0);
    qos.sampleLoad();
    expect(qos.status().shedding.active).toBeNull();
    const served = await request(url, { headers: { range: 'bytes=0-99' } });
    expect(served.statusCode).toBe(206);
    expect(Buffer.from(await served.body.arrayBuffer()).equals(object.content.subarray(0, 100))).toBe(true);
  });
});

describe('load shedding and trackers', () => {
  it('withdraws from trackers after 10 s of shedding and lists again after 30 s of calm', () => {
    let now = 0;
    let connections = 0;
    const listing: boolean[] = [];
    const qos = new Qos(resolveQos({ shedConnections: 10 }), { clock: () => now });
    try {
      qos.watchLoad(
        () => ({ connections, queuedBytes: 0 }),
        (withdrawn) => listing.push(withdrawn),
      );
      connections = 11;
      qos.sampleLoad();
      now = 9_000;
      qos.sampleLoad();
      expect(listing).toEqual([]);
      now = 10_000;
      qos.sampleLoad();
      expect(listing).toEqual([true]);
      expect(qos.status().shedding).toMatchObject({ trackerListing: 'withdrawn', withdrawals: 1 });
      // 10 is not below 90 % of 10: still shedding; 9 is.
      connections = 10;
      now = 50_000;
      qos.sampleLoad();
      expect(qos.shedding).toBe(true);
      connections = 9;
      qos.sampleLoad();
      expect(qos.shedding).toBe(false);
      now = 79_000;
      qos.sampleLoad();
      expect(listing).toEqual([true]);
      now = 80_000;
      qos.sampleLoad();
      expect(listing).toEqual([true, false]);
      expect(qos.status().shedding.trackerListing).toBe('listed');
    } finally {
      qos.stop();
    }
  });
});
