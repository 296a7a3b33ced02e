// The tracker over both ways of accepting connections (rawAccept: libuv handles, src/http/raw-accept.ts;
// and node:net): one contract, the same answers. One connection per announce (Connection: close, as
// BitTorrent clients send them) is what raw accepting answers itself; everything else is handed to the
// HTTP/1.1 layer as a net.Socket, which these cases also cross.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawAcceptSupported } from '../../src/http/raw-accept.ts';
import { createTracker, type Tracker } from '../../src/tracker/index.ts';
import { decodeBencode, isDictionary } from '../../src/tracker/protocol/bencode.ts';
import { decodeCompactPeers } from '../../src/tracker/protocol/compact.ts';
import { percentEncode } from '../../src/tracker/protocol/query.ts';
import { getOnNewConnection } from '../helpers/http.ts';
import { announceQueryOf, getBencoded, peerId } from './helpers.ts';

/** Writes `request` on a connection of its own, resolves with all it got back when the tracker closes it. */
async function exchange(port: number, request: string | string[]): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let seen = '';
  socket.on('data', (chunk: Buffer) => {
    seen += chunk.toString('latin1');
  });
  const closed = once(socket, 'close');
  for (const part of Array.isArray(request) ? request : [request]) {
    socket.write(part);
    // Separate reads: the first read does not hold the whole request.
    if (Array.isArray(request)) await new Promise((resolve) => setTimeout(resolve, 30));
  }
  await closed;
  return seen;
}

function bodyOf(response: string): Record<string, unknown> {
  const body = decodeBencode(Buffer.from(response.slice(response.indexOf('\r\n\r\n') + 4), 'latin1'));
  if (!isDictionary(body)) throw new Error(`not a dictionary: ${response}`);
  return body;
}

it('raw accepting works on the pinned Node (else the tracker silently falls back to node:net)', () => {
  expect(rawAcceptSupported()).toBe(true);
});

describe.each([
  { name: 'raw accept', rawAccept: true },
  { name: 'node:net', rawAccept: false },
])('tracker HTTP, one connection per request ($name)', ({ rawAccept }) => {
  let tracker: Tracker;
  let port: number;
  beforeAll(async () => {
    tracker = createTracker({ port: 0, host: '127.0.0.1', udp: false, rawAccept, requestTimeoutMs: 500 });
    port = (await tracker.listen()).port;
  });
  afterAll(async () => {
    await tracker.close();
  });

  const url = (values: Record<string, string | number | Uint8Array | undefined>) =>
    `http://127.0.0.1:${port}/announce?${announceQueryOf(values)}`;

  it('announces and scrapes with Connection: close, as keep-alive ones see them', async () => {
    const infoHash = randomBytes(20);
    const first = await getOnNewConnection(url({ info_hash: infoHash, peer_id: peerId(1), port: 7001, left: 0 }));
    expect(first.status).toBe(200);
    const second = await getOnNewConnection(url({ info_hash: infoHash, peer_id: peerId(2), port: 7002 }));
    const body = decodeBencode(second.body) as Record<string, unknown>;
    expect(body).toMatchObject({ complete: 1, incomplete: 1 });
    expect(decodeCompactPeers(body['peers'] as Buffer, 4)).toEqual([{ ip: '127.0.0.1', port: 7001 }]);
    // The same swarm over a keep-alive connection (fetch) and a scrape on a connection of its own.
    const kept = await getBencoded(url({ info_hash: infoHash, peer_id: peerId(3), port: 7003 }));
    expect(kept.body).toMatchObject({ complete: 1, incomplete: 2 });
    const scrape = await getOnNewConnection(`http://127.0.0.1:${port}/scrape?info_hash=${percentEncode(infoHash)}`);
    expect(scrape.body.toString('latin1')).toContain('8:completei1e10:downloadedi0e10:incompletei2e');
  });

  it('answers the same head and failure reasons, HTTP/1.0 included, and closes after', async () => {
    const answer = await exchange(port, 'GET /announce?info_hash=%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(
      /^HTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\nContent-Length: \d+\r\nDate: .+ GMT\r\nConnection: close\r\n\r\n/,
    );
    expect(String(bodyOf(answer)['failure reason'])).toContain('malformed percent-encoding');
    const old = await exchange(port, `GET ${new URL(url({ info_hash: randomBytes(20) })).pathname}?x HTTP/1.0\r\n\r\n`);
    expect(old).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(String(bodyOf(old)['failure reason'])).toBe('info_hash is missing');
    const post = await exchange(
      port,
      'POST /announce HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    );
    expect(post).toMatch(/^HTTP\/1\.1 405 /);
  });

  it('serves a request split over reads, pipelined requests, other routes and garbage as before', async () => {
    const infoHash = randomBytes(20);
    const target = `/announce?${announceQueryOf({ info_hash: infoHash, peer_id: peerId(5), port: 7005 })}`;
    const split = await exchange(port, [`GET ${target} HTTP/1.1\r\nHo`, 'st: t\r\nConnection: close\r\n\r\n']);
    expect(bodyOf(split)).toMatchObject({ incomplete: 1 });
    // Two requests in the first read, the last closing: both answered in order.
    const pipelined = await exchange(
      port,
      `GET ${target} HTTP/1.1\r\nHost: t\r\n\r\nGET /stats/${infoHash.toString('hex')} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
    );
    expect(pipelined.match(/HTTP\/1\.1 200 OK\r\n/g)).toHaveLength(2);
    expect(pipelined).toContain('"leechers":1');
    const garbage = await exchange(port, 'GARBAGE\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    for (let i = 0; i < 10; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.end(randomBytes(1 + i * 97));
      socket.resume();
      await once(socket, 'close');
    }
    expect((await getOnNewConnection(url({ info_hash: infoHash, peer_id: peerId(6), port: 7006 }))).status).toBe(200);
  });

  it('answers a connection whose request comes after a wait, and times out one that stalls', async () => {
    const { socket, closed } = await connectCollecting(port);
    // Past the time raw accepting waits for a first read on the handle (it then serves it as a socket).
    await new Promise((resolve) => setTimeout(resolve, 1300));
    socket.write('GET /announce HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(String(bodyOf(await closed)['failure reason'])).toBe('info_hash is missing');
    const stalled = await exchange(port, 'GET /annou');
    expect(stalled).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  it('answers a client that sends FIN right after its request (half-close)', async () => {
    const { socket, closed } = await connectCollecting(port);
    socket.end(
      `GET /scrape?info_hash=${percentEncode(randomBytes(20))} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
    );
    expect(await closed).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nd5:filesd/);
  });
});

/** A connection to `port` and everything it receives, as latin1 text, once it closes. */
async function connectCollecting(port: number): Promise<{ socket: Socket; closed: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let seen = '';
  socket.on('data', (chunk: Buffer) => {
    seen += chunk.toString('latin1');
  });
  return { socket, closed: once(socket, 'close').then(() => seen) };
}
