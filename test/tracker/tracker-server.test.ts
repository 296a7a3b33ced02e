import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTracker, type Tracker, type TrackerAddress } from '../../src/tracker/index.ts';
import { encodeBencode } from '../../src/tracker/protocol/bencode.ts';
import { decodeCompactPeers, encodeCompactPeer } from '../../src/tracker/protocol/compact.ts';
import { percentEncode } from '../../src/tracker/protocol/query.ts';
import { announceRequest, connectRequest, scrapeRequest, UdpAction } from '../../src/tracker/protocol/udp.ts';
import { announceQueryOf, getBencoded, peerId, text } from './helpers.ts';

async function ipv6Loopback(): Promise<boolean> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '::1', resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

describe('reference tracker over HTTP', () => {
  let tracker: Tracker;
  let address: TrackerAddress;
  let clockMs = Date.now();
  const hasIpv6 = ipv6Loopback();

  beforeAll(async () => {
    tracker = createTracker({
      port: 0,
      host: (await hasIpv6) ? '::' : '127.0.0.1',
      now: () => clockMs,
      intervalS: 120,
      peerTimeoutS: 1,
      cdnAllow: ['edge3'], // a name: only the allow-list lets an announcer claim it
    });
    address = await tracker.listen();
  });

  afterAll(async () => {
    await tracker.close();
  });

  const announce = (values: Record<string, string | number | Uint8Array | undefined>, base = address.announceUrl) =>
    getBencoded(`${base}?${announceQueryOf(values)}`);

  it('answers compact peers, counts, interval, min interval and a tracker id', async () => {
    const infoHash = randomBytes(20);
    await announce({ info_hash: infoHash, peer_id: peerId(1), port: 7001, left: 0 });
    const { body } = await announce({ info_hash: infoHash, peer_id: peerId(2), port: 7002 });
    expect(body).toMatchObject({ complete: 1, incomplete: 1, interval: 120, 'min interval': 60 });
    expect(decodeCompactPeers(body['peers'] as Buffer, 4)).toEqual([{ ip: '127.0.0.1', port: 7001 }]);
    expect(text(body['tracker id'])).toMatch(/^[0-9a-f]{12}$/);
    expect(body['ep']).toBeUndefined();
  });

  it('answers the dictionary model when asked, without peer ids on no_peer_id', async () => {
    const infoHash = randomBytes(20);
    await announce({ info_hash: infoHash, peer_id: peerId(1), port: 7001 });
    const withIds = await announce({ info_hash: infoHash, peer_id: peerId(2), compact: 0 });
    const peers = withIds.body['peers'] as Array<Record<string, unknown>>;
    expect(peers.map((peer) => [text(peer['ip']), peer['port'], text(peer['peer id'])])).toEqual([
      ['127.0.0.1', 7001, peerId(1).toString()],
    ]);
    const withoutIds = await announce({ info_hash: infoHash, peer_id: peerId(2), compact: 0, no_peer_id: 1 });
    expect((withoutIds.body['peers'] as Array<Record<string, unknown>>)[0]?.['peer id']).toBeUndefined();
  });

  it('lists IPv6 peers in peers6 (BEP 7)', async ({ skip }) => {
    if (!(await hasIpv6)) skip();
    const infoHash = randomBytes(20);
    await announce({ info_hash: infoHash, peer_id: peerId(6), port: 7006 }, `http://[::1]:${address.port}/announce`);
    const { body } = await announce({ info_hash: infoHash, peer_id: peerId(4), port: 7004 });
    expect(decodeCompactPeers(body['peers6'] as Buffer, 16)).toEqual([{ ip: '::1', port: 7006 }]);
  });

  it.each([
    ['no info_hash', { info_hash: undefined }, /info_hash is missing/],
    ['short info_hash', { info_hash: Buffer.alloc(19) }, /info_hash must be 20 bytes, got 19/],
    ['long peer_id', { peer_id: Buffer.alloc(21) }, /peer_id must be 20 bytes, got 21/],
    ['no port', { port: undefined }, /port is missing/],
    ['port out of range', { port: 70000 }, /port must be an integer 0-65535/],
    ['port 0', { port: 0 }, /port must be 1-65535/],
    ['negative left', { left: '-1' }, /left must be a 64-bit unsigned integer/],
    ['no left', { left: undefined }, /left is missing/],
    ['unknown event', { event: 'finished' }, /event must be/],
    ['text uploaded', { uploaded: 'lots' }, /uploaded must be a 64-bit unsigned integer/],
  ])('refuses an announce with %s, naming the parameter', async (_name, values, reason) => {
    const { status, body } = await announce(values);
    expect(status).toBe(200);
    expect(text(body['failure reason'])).toMatch(reason);
  });

  it('refuses a malformed query and a POST announce with a failure reason', async () => {
    const malformed = await getBencoded(`${address.announceUrl}?info_hash=%zz`);
    expect(text(malformed.body['failure reason'])).toMatch(/percent-encoding/);
    const post = await getBencoded(`${address.announceUrl}?${announceQueryOf({})}`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(text(post.body['failure reason'])).toMatch(/GET/);
  });

  it('offers the extension to announces that carry it, and turns bad extension data into warnings', async () => {
    const infoHash = randomBytes(20);
    const { body } = await announce({ info_hash: infoHash, ep: 1, ep_pieces: 8, ep_bm: 'b!!', ep_url: 'ftp://x' });
    expect(body['failure reason']).toBeUndefined();
    expect(text(body['warning message'])).toMatch(/ep_bm: bitmap data is not base64url.*ep_url must be an http/);
    const offer = body['ep'] as Record<string, unknown>;
    expect(text(offer['batch'])).toBe('/announce/batch');
    expect(offer['v']).toBe(1);
  });

  it('scrapes (BEP 48) known and unknown hashes', async () => {
    const infoHash = randomBytes(20);
    await announce({ info_hash: infoHash, left: 0 });
    const unknown = randomBytes(20);
    const { body } = await getBencoded(
      `${address.scrapeUrl}?info_hash=${percentEncode(infoHash)}&info_hash=${percentEncode(unknown)}`,
    );
    const files = body['files'] as Record<string, Record<string, number>>;
    expect(files[infoHash.toString('latin1')]).toEqual({ complete: 1, downloaded: 0, incomplete: 0 });
    expect(files[unknown.toString('latin1')]).toEqual({ complete: 0, downloaded: 0, incomplete: 0 });
  });

  it('accepts 64-bit counters (Transmission announces left=2^63-1 before it knows the size) and clamps them', async () => {
    const infoHash = randomBytes(20);
    const { body } = await announce({
      info_hash: infoHash,
      peer_id: peerId(1),
      port: 7001,
      left: '9223372036854775807',
      uploaded: '18446744073709551615',
    });
    expect(body['failure reason']).toBeUndefined();
    const stats = (await (await fetch(`${address.statsUrl}/${infoHash.toString('hex')}`)).json()) as {
      peers: { left: number; uploaded: number }[];
    };
    expect(stats.peers).toMatchObject([{ left: Number.MAX_SAFE_INTEGER, uploaded: Number.MAX_SAFE_INTEGER }]);
    const tooBig = await announce({
      info_hash: infoHash,
      peer_id: peerId(1),
      port: 7001,
      left: '18446744073709551616',
    });
    expect(text(tooBig.body['failure reason'])).toMatch(/left must be a 64-bit unsigned integer/);
  });

  it("lists an announcer's CDN URLs only at its own address", async () => {
    const infoHash = randomBytes(20);
    const claim = (url: string) =>
      announce({ info_hash: infoHash, peer_id: peerId(1), left: 0, ep: 1, ep_pieces: 4, ep_url: url });
    const mine = await claim('http://127.0.0.1:8080');
    expect(mine.body['warning message']).toBeUndefined();
    for (const url of ['http://192.0.2.7:8080', 'https://cdn.example.net']) {
      const other = await claim(url);
      expect(text(other.body['warning message'])).toContain(`ep_url ${url}`);
      expect(text(other.body['warning message'])).toContain('is not at your address 127.0.0.1');
    }
    const { body } = await announce({ info_hash: infoHash, peer_id: peerId(2), left: 10 });
    expect(body['url-list']).toBeUndefined();
  });

  it('serves swarm statistics as JSON and a long poll that returns on change', async () => {
    const infoHash = randomBytes(20);
    const hex = infoHash.toString('hex');
    await announce({
      info_hash: infoHash,
      peer_id: peerId(1),
      left: 0,
      ep: 1,
      ep_pieces: 4,
      ep_url: 'http://127.0.0.1:1',
    });
    const first = (await (await fetch(`${address.statsUrl}/${hex}`)).json()) as Record<string, unknown>;
    expect(first).toMatchObject({ seeds: 1, leechers: 0, pieceCopies: [1, 1, 1, 1] });
    const poll = fetch(`${address.statsUrl}/${hex}?since=${first['version']}&wait=20`).then(
      (response) => response.json() as Promise<Record<string, unknown>>,
    );
    await announce({ info_hash: infoHash, peer_id: peerId(2), port: 7002, left: 50 });
    const changed = await poll;
    expect(changed['version']).not.toBe(first['version']);
    expect(changed).toMatchObject({ seeds: 1, leechers: 1 });
    const list = (await (await fetch(address.statsUrl)).json()) as { swarms: Array<{ infoHash: string }> };
    expect(list.swarms.some((swarm) => swarm.infoHash === hex)).toBe(true);
    expect((await fetch(`${address.statsUrl}/nothex`)).status).toBe(400);
  });

  it('streams statistics as Server-Sent Events, including a peer expiring', async () => {
    const infoHash = randomBytes(20);
    const hex = infoHash.toString('hex');
    const controller = new AbortController();
    const response = await fetch(`${address.statsUrl}/${hex}/events`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    const events: Array<Record<string, unknown>> = [];
    let buffered = '';
    const nextEvent = async (): Promise<Record<string, unknown>> => {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (data !== undefined) {
            const event = JSON.parse(data.slice(6)) as Record<string, unknown>;
            events.push(event);
            return event;
          }
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffered += Buffer.from(value).toString('utf8');
      }
    };
    expect(await nextEvent()).toMatchObject({ version: 0, seeds: 0 });
    await announce({ info_hash: infoHash, peer_id: peerId(9), left: 0 });
    expect(await nextEvent()).toMatchObject({ seeds: 1 });
    // The peer stops announcing: two seconds later (peer timeout 1 s) the sweep drops it.
    clockMs += 2000;
    expect(await nextEvent()).toMatchObject({ seeds: 0, peerCount: 0 });
    controller.abort();
  });

  it('takes many objects in one multi-object announce', async () => {
    const hashes = [randomBytes(20), randomBytes(20)];
    const body = encodeBencode({
      'peer id': peerId(3),
      port: 7003,
      ep_url: ['http://edge3:8080'],
      announces: [
        { info_hash: hashes[0]!, left: 0, uploaded: 0, downloaded: 0, event: 'started', ep_pieces: 2, ep_bm: '1' },
        { info_hash: hashes[1]!, left: 10, uploaded: 0, downloaded: 0, ep_pieces: 2, ep_bm: 'rAAE' },
        { info_hash: Buffer.alloc(3), left: 0 },
        'not a dictionary',
      ],
    });
    const { body: answer } = await getBencoded(`http://127.0.0.1:${address.port}/announce/batch`, {
      method: 'POST',
      body,
    });
    const results = answer['results'] as Array<Record<string, unknown>>;
    expect(answer['interval']).toBe(120);
    expect(results).toHaveLength(4);
    expect(results[0]).toMatchObject({ complete: 1, incomplete: 0 });
    expect(text(results[2]?.['failure reason'])).toMatch(/info_hash must be 20 bytes/);
    expect(text(results[3]?.['failure reason'])).toMatch(/not a dictionary/);
    const stats = (await (await fetch(`${address.statsUrl}/${hashes[1]!.toString('hex')}`)).json()) as {
      pieceCopies: number[];
      networkPeers: Array<{ pieceUrls: string[] }>;
    };
    expect(stats.pieceCopies).toEqual([1, 0]);
    expect(stats.networkPeers[0]?.pieceUrls).toEqual([
      `http://edge3:8080/pieces/${hashes[1]!.toString('hex')}/{index}`,
    ]);
    const seeded = await announce({ info_hash: hashes[0]!, peer_id: peerId(4) });
    expect((seeded.body['url-list'] as Buffer[]).map(String)).toEqual([
      `http://edge3:8080/objects/${hashes[0]!.toString('hex')}/`,
    ]);
    const garbage = await getBencoded(`http://127.0.0.1:${address.port}/announce/batch`, {
      method: 'POST',
      body: 'd3:',
    });
    expect(text(garbage.body['failure reason'])).toMatch(/not bencoded/);
  });

  it('answers pipelined announces on one connection, and hands it to node:http at the first other route', async () => {
    const infoHash = randomBytes(20);
    const get = (target: string, close = false) =>
      `GET ${target} HTTP/1.1\r\nHost: tracker\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
    const announceTarget = (n: number) =>
      `/announce?${announceQueryOf({ info_hash: infoHash, peer_id: peerId(n), port: 7100 + n })}`;
    const socket = connect(address.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = once(socket, 'end');
    // Two announces on the fast layer, statistics (handed off with what follows), then an announce and a
    // scrape answered by node:http on the same connection, the last one closing it.
    socket.write(
      get(announceTarget(1)) +
        get(announceTarget(2)) +
        get(`/stats/${infoHash.toString('hex')}`) +
        get(announceTarget(3)) +
        get(`/scrape?info_hash=${percentEncode(infoHash)}`, true),
    );
    await ended;
    const all = Buffer.concat(chunks).toString('latin1');
    expect(all.match(/HTTP\/1\.1 200 OK\r\n/g)).toHaveLength(5);
    expect(all).toContain('"peerCount":2');
    expect(all).toContain('8:completei0e10:downloadedi0e10:incompletei3e');
    socket.destroy();
  });

  it('survives fuzzed announces and raw garbage, answering each with a bencoded failure or success', async () => {
    const names = [
      'info_hash',
      'peer_id',
      'port',
      'left',
      'uploaded',
      'event',
      'numwant',
      'ep',
      'ep_pieces',
      'ep_bm',
      'ep_url',
      'compact',
    ];
    for (let i = 0; i < 300; i++) {
      const parts: string[] = [];
      const count = 1 + (i % 12);
      for (let j = 0; j < count; j++) {
        const name = names[Math.floor(Math.random() * names.length)]!;
        const value =
          Math.random() < 0.5
            ? percentEncode(randomBytes(Math.floor(Math.random() * 40)))
            : String(Math.floor(Math.random() * 1e6));
        parts.push(`${name}=${value}`);
      }
      if (i % 7 === 0) parts.push(`${percentEncode(randomBytes(5))}`);
      if (i % 11 === 0) parts.push('%%%');
      const { status, body } = await getBencoded(`${address.announceUrl}?${parts.join('&')}`);
      expect(status).toBe(200);
      expect(body['failure reason'] !== undefined || body['interval'] !== undefined).toBe(true);
    }
    for (let i = 0; i < 20; i++) {
      const socket = connect(address.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.end(randomBytes(1 + i * 97));
      socket.on('error', () => undefined);
      socket.resume();
      await once(socket, 'close');
    }
    const { body } = await announce({ info_hash: randomBytes(20) });
    expect(body['interval']).toBe(120);
  });
});

describe('reference tracker over UDP (BEP 15)', () => {
  let tracker: Tracker;
  let address: TrackerAddress;
  let socket: Socket;

  beforeAll(async () => {
    tracker = createTracker({ port: 0, host: '127.0.0.1', intervalS: 300, cdnAllow: ['edge'] });
    address = await tracker.listen();
    socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    socket.close();
    await tracker.close();
  });

  /** Sends a packet and waits for the answer with the same transaction id. */
  async function exchange(packet: Buffer): Promise<Buffer> {
    const transactionId = packet.readUInt32BE(12);
    for (;;) {
      const wait = once(socket, 'message');
      socket.send(packet, address.port, '127.0.0.1');
      const [answer] = (await wait) as [Buffer];
      if (answer.readUInt32BE(4) === transactionId) return answer;
    }
  }

  async function connectionId(): Promise<Buffer> {
    const answer = await exchange(connectRequest(1234));
    expect(answer.readUInt32BE(0)).toBe(UdpAction.connect);
    return answer.subarray(8, 16);
  }

  function announcePacket(id: Buffer, infoHash: Buffer, n: number, left: number, urlData?: string): Buffer {
    return announceRequest({
      connectionId: id,
      transactionId: 5000 + n,
      infoHash,
      peerId: peerId(n),
      downloaded: 0,
      left,
      uploaded: 0,
      event: 'started',
      ip: 0,
      key: 1,
      numWant: -1,
      port: 7000 + n,
      urlData,
    });
  }

  it('connects, announces and scrapes, with the bitmap extension in BEP 41 URL data', async () => {
    const id = await connectionId();
    const infoHash = randomBytes(20);
    await exchange(announcePacket(id, infoHash, 1, 0, '/announce?ep=1&ep_pieces=3&ep_url=http%3A%2F%2Fedge%3A8080'));
    const answer = await exchange(announcePacket(id, infoHash, 2, 500));
    expect(answer.readUInt32BE(0)).toBe(UdpAction.announce);
    expect({
      interval: answer.readUInt32BE(8),
      leechers: answer.readUInt32BE(12),
      seeders: answer.readUInt32BE(16),
    }).toEqual({
      interval: 300,
      leechers: 1,
      seeders: 1,
    });
    expect(answer.subarray(20)).toEqual(encodeCompactPeer('127.0.0.1', 7001));
    const stats = await tracker.swarms.stats(infoHash.toString('hex'), 10);
    expect(stats.networkPeers.map((peer) => peer.objectUrls)).toEqual([
      [`http://edge:8080/objects/${infoHash.toString('hex')}/`],
    ]);
    const scrape = await exchange(scrapeRequest(id, 77, [infoHash, randomBytes(20)]));
    expect(scrape.readUInt32BE(0)).toBe(UdpAction.scrape);
    expect([...Array(6).keys()].map((i) => scrape.readUInt32BE(8 + 4 * i))).toEqual([1, 0, 1, 0, 0, 0]);
  });

  it('refuses a wrong connection id and a bad announce with an error naming the problem', async () => {
    const wrong = await exchange(announcePacket(Buffer.alloc(8, 9), randomBytes(20), 3, 0));
    expect(wrong.readUInt32BE(0)).toBe(UdpAction.error);
    expect(wrong.subarray(8).toString()).toMatch(/connection id/);
    const id = await connectionId();
    const zeroPort = announcePacket(id, randomBytes(20), 4, 0);
    zeroPort.writeUInt16BE(0, 96);
    const refused = await exchange(zeroPort);
    expect(refused.subarray(8).toString()).toMatch(/port must be 1-65535/);
    const badProtocol = connectRequest(99);
    badProtocol.writeUInt32BE(0, 0);
    // A 16-byte connect gets at most 16 bytes back: the message is cut to fit.
    const badAnswer = await exchange(badProtocol);
    expect(badAnswer.readUInt32BE(0)).toBe(UdpAction.error);
    expect(badAnswer.subarray(8).toString()).toBe('bad prot');
  });

  it('survives random datagrams and still answers', async () => {
    const id = await connectionId();
    for (let i = 0; i < 500; i++) {
      const packet = randomBytes(1 + (i % 200));
      if (i % 3 === 0 && packet.length >= 16) id.copy(packet, 0);
      socket.send(packet, address.port, '127.0.0.1');
    }
    const answer = await exchange(announcePacket(await connectionId(), randomBytes(20), 5, 0));
    expect(answer.readUInt32BE(0)).toBe(UdpAction.announce);
  });
});

describe('reference tracker with a CDN allow-list', () => {
  let tracker: Tracker;
  let address: TrackerAddress;
  beforeAll(async () => {
    tracker = createTracker({ port: 0, host: '127.0.0.1', cdnAllow: ['cdn.example.net', '192.0.2.0/24'] });
    address = await tracker.listen();
  });
  afterAll(async () => {
    await tracker.close();
  });

  it('lists CDN URLs of the hosts and networks it allows, from any announcer', async () => {
    const infoHash = randomBytes(20);
    for (const [n, url] of ['https://CDN.example.net', 'http://192.0.2.7:8080', 'http://198.51.100.1'].entries()) {
      await getBencoded(
        `${address.announceUrl}?${announceQueryOf({ info_hash: infoHash, peer_id: peerId(n + 1), port: 7000 + n, left: 0, ep: 1, ep_url: url })}`,
      );
    }
    const { body } = await getBencoded(
      `${address.announceUrl}?${announceQueryOf({ info_hash: infoHash, peer_id: peerId(9), port: 7009, left: 10 })}`,
    );
    const hex = infoHash.toString('hex');
    expect((body['url-list'] as Buffer[]).map((url) => url.toString()).sort()).toEqual([
      `http://192.0.2.7:8080/objects/${hex}/`,
      `https://cdn.example.net/objects/${hex}/`,
    ]);
  });

  it('refuses a malformed allow-list entry by name', () => {
    expect(() => createTracker({ port: 0, cdnAllow: ['10.0.0.0/33'] })).toThrow(/CDN allow-list entry "10.0.0.0\/33"/);
  });
});

describe('reference tracker request timeouts', () => {
  const TIMEOUT_MS = 300;
  let tracker: Tracker;
  let port: number;
  beforeAll(async () => {
    tracker = createTracker({ port: 0, host: '127.0.0.1', udp: false, requestTimeoutMs: TIMEOUT_MS });
    port = (await tracker.listen()).port;
  });
  afterAll(async () => {
    await tracker.close();
  });

  /** Sends `first`, waits for its whole answer if `answered` says how it ends, then `stalled`; resolves at close. */
  async function stallAfter(first: string, answered: RegExp | null, stalled: string) {
    const socket = connect(port, '127.0.0.1');
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
    });
    const closed = once(socket, 'close');
    socket.write(first);
    if (answered !== null) {
      while (!answered.test(seen)) await once(socket, 'data');
    }
    const stalledAt = Date.now();
    socket.write(stalled);
    await closed;
    return { seen, afterStall: Date.now() - stalledAt };
  }

  it('closes a connection handed to node:http whose next request head stalls, as node:http does', async () => {
    // /stats goes to node:http, and the connection stays there: half a request line follows, then nothing.
    const { seen, afterStall } = await stallAfter(
      'GET /stats HTTP/1.1\r\nHost: t\r\n\r\n',
      /"swarms":\[\]\}$/,
      'GET /sta',
    );
    expect(seen).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(seen).toMatch(/HTTP\/1\.1 408 Request Timeout\r\n/);
    // Well before the idle timeout (120 s) that cut it before: the request timeout and one check.
    expect(afterStall).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(afterStall).toBeLessThan(TIMEOUT_MS * 10);
  });

  it('closes a connection on the HTTP/1.1 layer whose request head stalls', async () => {
    const { seen, afterStall } = await stallAfter('', null, 'GET /annou');
    expect(seen).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(afterStall).toBeLessThan(TIMEOUT_MS * 10);
  });
});
