import type { KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyRing, signToken, UrlGate } from '../../src/auth/index.ts';
import {
  createHttpServer,
  type HttpServer,
  type HttpServerOptions,
  objectUrls,
  REASON_PHRASES,
  type ResponseEntry,
} from '../../src/http/index.ts';
import type { Metainfo } from '../../src/metainfo/index.ts';
import { Qos, resolveQos } from '../../src/qos/index.ts';
import { holdObject, MemoryStore, metainfoFor, pieceCacheOf, testBytes } from './memory-store.ts';

const PIECE = 16384;
const dispatcher = new Agent({ connections: 4 });

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const response = await request(url, { method, headers, dispatcher });
  const body = Buffer.from(await response.body.arrayBuffer());
  return { status: response.statusCode, headers: response.headers, body };
}

/** Sends raw bytes on a fresh connection; resolves with everything the server sent until it closed. */
async function raw(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  const socket = connect(port, host);
  socket.write(text);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

describe('HTTP server: complete objects', () => {
  const store = new MemoryStore();
  const cache = pieceCacheOf(store);
  const singleData = testBytes(PIECE * 5 + 1000, 7);
  const single = metainfoFor('movie file.bin', PIECE, [{ path: [], length: singleData.length }], singleData, {
    creationDate: 1_700_000_000,
  });
  const multiFiles = [
    { path: ['a.bin'], length: 20_000 },
    { path: ['empty'], length: 0 },
    { path: ['sub dir', 'b é.bin'], length: 30_000 },
  ];
  const multiData = testBytes(50_000, 9);
  const multi = metainfoFor('folder', PIECE, multiFiles, multiData);
  const oneFileData = testBytes(3000, 11);
  const oneFile = metainfoFor('only', PIECE, [{ path: ['inner.txt'], length: 3000 }], oneFileData);
  let server: HttpServer;
  let base: string;
  let port: number;
  /** Body bytes told to onSent, per object. */
  const sent = new Map<string, number>();

  beforeAll(async () => {
    await holdObject(store, single, singleData);
    await holdObject(store, multi, multiData);
    await holdObject(store, oneFile, oneFileData);
    server = createHttpServer({
      store,
      cache,
      port: 0,
      policy: 'refuse',
      limits: { maxRanges: 4 },
      onSent: (infoHash, bytes) => sent.set(infoHash, (sent.get(infoHash) ?? 0) + bytes),
    });
    ({ port } = await server.listen());
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await server.close(100);
  });

  const singleUrl = () => objectUrls(base, { infoHash: single.infoHash, metainfo: single }).files[0]!;

  it('serves a whole single-file object with CDN headers', async () => {
    const { status, headers, body } = await get(singleUrl());
    expect(status).toBe(200);
    expect(body.equals(singleData)).toBe(true);
    expect(headers['content-length']).toBe(String(singleData.length));
    expect(headers['accept-ranges']).toBe('bytes');
    expect(headers.etag).toBe(`"${single.infoHash}"`);
    expect(headers['last-modified']).toBe(new Date(1_700_000_000_000).toUTCString());
    expect(headers['cache-control']).toContain('immutable');
    expect(headers['content-type']).toBe('application/octet-stream');
  });

  it('serves single, open-ended and suffix ranges, within and across pieces', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=16000-40000', 16000, 40000],
      [`bytes=${PIECE * 5}-`, PIECE * 5, singleData.length - 1],
      ['bytes=-1500', singleData.length - 1500, singleData.length - 1],
      ['bytes=0-', 0, singleData.length - 1],
    ];
    for (const [range, first, last] of cases) {
      const { status, headers, body } = await get(singleUrl(), { range });
      expect(status, range).toBe(206);
      expect(headers['content-range']).toBe(`bytes ${first}-${last}/${singleData.length}`);
      expect(headers['content-length']).toBe(String(last - first + 1));
      expect(body.equals(singleData.subarray(first, last + 1)), range).toBe(true);
    }
  });

  it('serves several ranges as multipart/byteranges with an exact Content-Length', async () => {
    const { status, headers, body } = await get(singleUrl(), { range: 'bytes=10-19, 40000-40099, -5' });
    expect(status).toBe(206);
    const type = String(headers['content-type']);
    const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)?.[1];
    expect(boundary).toBeDefined();
    expect(headers['content-length']).toBe(String(body.length));
    const parts = parseMultipart(body, boundary!);
    expect(parts.map((part) => part.range)).toEqual([
      `bytes 10-19/${singleData.length}`,
      `bytes 40000-40099/${singleData.length}`,
      `bytes ${singleData.length - 5}-${singleData.length - 1}/${singleData.length}`,
    ]);
    expect(parts[0]!.data.equals(singleData.subarray(10, 20))).toBe(true);
    expect(parts[1]!.data.equals(singleData.subarray(40000, 40100))).toBe(true);
    expect(parts[2]!.data.equals(singleData.subarray(singleData.length - 5))).toBe(true);
  });

  it('tells onSent the content bytes it sent of each object: none for HEAD, none of multipart framing', async () => {
    const sentOf = (infoHash: string) => sent.get(infoHash) ?? 0;
    const before = sentOf(single.infoHash);
    await get(singleUrl(), {}, 'HEAD');
    expect(sentOf(single.infoHash)).toBe(before);
    await get(singleUrl());
    await get(singleUrl(), { range: 'bytes=16000-40000' });
    await get(singleUrl(), { range: 'bytes=10-19, 40000-40099' });
    expect(sentOf(single.infoHash) - before).toBe(singleData.length + 24001 + 110);
    const multiBefore = sentOf(multi.infoHash);
    const urls = objectUrls(base, { infoHash: multi.infoHash, metainfo: multi });
    await get(urls.files[2]!, { range: 'bytes=0-9' });
    expect(sentOf(multi.infoHash) - multiBefore).toBe(10);
  });

  it('coalesces overlapping ranges into one part instead of amplifying them', async () => {
    const { status, headers, body } = await get(singleUrl(), { range: 'bytes=0-999,0-999,500-1500,-0' });
    expect(status).toBe(206);
    expect(headers['content-range']).toBe(`bytes 0-1500/${singleData.length}`);
    expect(body.equals(singleData.subarray(0, 1501))).toBe(true);
  });

  it('answers 416 with Content-Range */length to unsatisfiable and to too many ranges', async () => {
    for (const range of [`bytes=${singleData.length}-`, 'bytes=0-0,2-2,4-4,6-6,8-8']) {
      const { status, headers } = await get(singleUrl(), { range });
      expect(status, range).toBe(416);
      expect(headers['content-range']).toBe(`bytes */${singleData.length}`);
    }
  });

  it('ignores a malformed Range and sends the whole object', async () => {
    const { status, body } = await get(singleUrl(), { range: 'bytes=oops' });
    expect(status).toBe(200);
    expect(body.length).toBe(singleData.length);
  });

  it('honours If-Range only when the validator matches strongly', async () => {
    const etag = `"${single.infoHash}"`;
    const lastModified = new Date(1_700_000_000_000).toUTCString();
    expect((await get(singleUrl(), { range: 'bytes=0-9', 'if-range': etag })).status).toBe(206);
    expect((await get(singleUrl(), { range: 'bytes=0-9', 'if-range': lastModified })).status).toBe(206);
    const stale = await get(singleUrl(), { range: 'bytes=0-9', 'if-range': '"other"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(singleData.length);
    expect((await get(singleUrl(), { range: 'bytes=0-9', 'if-range': `W/${etag}` })).status).toBe(200);
  });

  it('answers conditional GETs: 304 for If-None-Match and If-Modified-Since, 412 for If-Match', async () => {
    const etag = `"${single.infoHash}"`;
    const notModified = await get(singleUrl(), { 'if-none-match': etag, range: 'bytes=0-9' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe(etag);
    expect(notModified.body.length).toBe(0);
    const since = await get(singleUrl(), { 'if-modified-since': new Date().toUTCString() });
    expect(since.status).toBe(304);
    // If-None-Match wins over If-Modified-Since
    expect(
      (await get(singleUrl(), { 'if-none-match': '"x"', 'if-modified-since': new Date().toUTCString() })).status,
    ).toBe(200);
    expect((await get(singleUrl(), { 'if-match': '"x"' })).status).toBe(412);
  });

  it('answers HEAD with the headers of a GET and no body; Range is for GET only', async () => {
    const { status, headers, body } = await get(singleUrl(), { range: 'bytes=0-9' }, 'HEAD');
    expect(status).toBe(200);
    expect(headers['content-length']).toBe(String(singleData.length));
    expect(headers.etag).toBe(`"${single.infoHash}"`);
    expect(body.length).toBe(0);
  });

  it('serves each file of a multi-file object at <name>/<path>, escaped as clients escape it', async () => {
    const urls = objectUrls(base, { infoHash: multi.infoHash, metainfo: multi });
    expect(urls.webSeed).toBe(`${base}/objects/${multi.infoHash}/`);
    const a = await get(urls.files[0]!);
    expect(a.body.equals(multiData.subarray(0, 20_000))).toBe(true);
    expect(a.headers.etag).toBe(`"${multi.infoHash}-0"`);
    const empty = await get(urls.files[1]!, { range: 'bytes=0-' });
    expect(empty.status).toBe(200);
    expect(empty.body.length).toBe(0);
    const b = await get(`${urls.webSeed}folder/sub%20dir/b%20%C3%A9.bin`, { range: 'bytes=100-20099' });
    expect(b.status).toBe(206);
    expect(b.body.equals(multiData.subarray(20_100, 40_100))).toBe(true);
    expect((await get(`${urls.webSeed}folder`)).status).toBe(404);
    expect((await get(`${urls.webSeed}folder/nope.bin`)).status).toBe(404);
  });

  it('serves a one-file multi-file torrent at <name> too, as libtorrent asks for it', async () => {
    const base1 = objectUrls(base, { infoHash: oneFile.infoHash, metainfo: oneFile }).webSeed;
    expect((await get(`${base1}only`)).body.equals(oneFileData)).toBe(true);
    expect((await get(`${base1}only/inner.txt`)).body.equals(oneFileData)).toBe(true);
  });

  it('serves pieces at /pieces/<infohash>/<index>, validated by the piece hash', async () => {
    const urls = objectUrls(base, { infoHash: single.infoHash, metainfo: single });
    const last = await get(urls.pieceUrlTemplate.replace('{index}', '5'));
    expect(last.status).toBe(200);
    expect(last.body.equals(singleData.subarray(PIECE * 5))).toBe(true);
    expect(last.headers.etag).toBe(`"${single.pieceHashes.subarray(100, 120).toString('hex')}"`);
    const part = await get(urls.pieceUrlTemplate.replace('{index}', '1'), { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.body.equals(singleData.subarray(PIECE + 100, PIECE + 200))).toBe(true);
    expect((await get(urls.pieceUrlTemplate.replace('{index}', '6'))).status).toBe(404);
  });

  it('answers 404 for unknown objects and paths, 405 for other methods', async () => {
    expect((await get(`${base}/objects/${'0'.repeat(40)}/x`)).status).toBe(404);
    expect((await get(`${base}/`)).status).toBe(404);
    const post = await request(singleUrl(), { method: 'POST', body: 'x', dispatcher });
    await post.body.dump();
    expect(post.statusCode).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD, OPTIONS');
    // Without corsOrigin: OPTIONS says what is allowed, and no CORS fields anywhere.
    const options = await request(singleUrl(), { method: 'OPTIONS', dispatcher });
    await options.body.dump();
    expect(options.statusCode).toBe(204);
    expect(options.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(options.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends the RFC 9110 reason phrase on every status line (OPTIONS once said "204 Unknown")', async () => {
    const path = new URL(singleUrl()).pathname;
    const answers = [
      await raw(port, `OPTIONS ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      await raw(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\nConnection: close\r\n\r\n`),
      await raw(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nRange: bytes=99999999-\r\nConnection: close\r\n\r\n`),
      await raw(port, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`),
      await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      await raw(port, `GET ${path} HTTP/2.0\r\nHost: x\r\n\r\n`),
    ];
    expect(answers.map((answer) => answer.slice(0, answer.indexOf('\r\n')))).toEqual([
      'HTTP/1.1 204 No Content',
      'HTTP/1.1 206 Partial Content',
      'HTTP/1.1 416 Range Not Satisfiable',
      'HTTP/1.1 405 Method Not Allowed',
      'HTTP/1.1 404 Not Found',
      'HTTP/1.1 505 HTTP Version Not Supported',
    ]);
  });

  it('knows the phrase of every status RFC 9110 defines, so no status the server sends goes without one', () => {
    const rfc9110 = [
      100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405,
      406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505,
    ];
    for (const status of rfc9110) expect(REASON_PHRASES[status], String(status)).toMatch(/^[A-Z][A-Za-z -]+$/);
  });

  it('answers 400 to traversal attempts and malformed requests', async () => {
    for (const target of [
      `/objects/${single.infoHash}/../../../etc/passwd`,
      `/objects/${single.infoHash}/%2e%2e%2f%2e%2e%2fetc%2fpasswd`,
      `/objects/${single.infoHash}/a%00`,
      '/objects/nothex/x',
    ]) {
      const answer = await raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer.startsWith('HTTP/1.1 400'), target).toBe(true);
    }
    expect((await raw(port, 'GARBAGE\r\n\r\n')).startsWith('HTTP/1.1 400')).toBe(true);
    expect((await raw(port, 'GET / HTTP/1.1\r\n\r\n')).startsWith('HTTP/1.1 400')).toBe(true); // no Host
  });

  it('answers 431 to oversized headers', async () => {
    const answer = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`);
    expect(answer.startsWith('HTTP/1.1 431')).toBe(true);
  });

  it('answers a range within one piece at once, and goes through getPiece for the rest', async () => {
    // A cache that keeps nothing: a verified piece's ranges are then read from the store at once (direct).
    const uncached = pieceCacheOf(store, { maxBytes: 1 });
    const direct = createHttpServer({ store, cache: uncached, port: 0, host: '127.0.0.1', policy: 'refuse' });
    const base = (await direct.listen()).baseUrls[0]!;
    const url = objectUrls(base, { infoHash: single.infoHash, metainfo: single }).files[0]!;
    const counts = () => [uncached.stats().directReads, uncached.stats().misses];
    try {
      const first = await get(url, { range: `bytes=${PIECE + 10}-${PIECE + 5000}` });
      expect(first.body.equals(singleData.subarray(PIECE + 10, PIECE + 5001))).toBe(true);
      expect(counts()).toEqual([0, 1]); // not verified yet: read whole and hashed
      const within = await get(url, { range: `bytes=${PIECE + 20}-${PIECE + 5000}` });
      expect(within.body.equals(singleData.subarray(PIECE + 20, PIECE + 5001))).toBe(true);
      expect(counts()).toEqual([1, 1]);
      const across = await get(url, { range: `bytes=${PIECE - 10}-${PIECE + 9}` });
      expect(across.body.equals(singleData.subarray(PIECE - 10, PIECE + 10))).toBe(true);
      expect(counts()).toEqual([1, 3]);
      // many responses in a row, each read into a reused buffer: none may carry another's bytes
      const offsets = Array.from({ length: 40 }, (_, i) => (i * 7919) % (singleData.length - 100));
      const bodies = await Promise.all(offsets.map((a) => get(url, { range: `bytes=${a}-${a + 99}` })));
      for (const [i, a] of offsets.entries())
        expect(bodies[i]!.body.equals(singleData.subarray(a, a + 100))).toBe(true);
    } finally {
      await direct.close(100);
    }
  });

  it('counts requests and bytes', () => {
    const stats = server.stats();
    expect(stats.requests).toBeGreaterThan(20);
    expect(stats.responses['2xx']).toBeGreaterThan(10);
    expect(stats.responses['4xx']).toBeGreaterThan(3);
    expect(stats.bytesSent).toBeGreaterThan(singleData.length);
  });
});

describe('HTTP server: IPv6 and IPv4 on one socket', () => {
  it('answers on ::1 and 127.0.0.1 when listening on ::, and lists base URLs', async () => {
    const store = new MemoryStore();
    const data = testBytes(1000);
    const metainfo = metainfoFor('x.bin', PIECE, [{ path: [], length: 1000 }], data);
    await holdObject(store, metainfo, data);
    const server = createHttpServer({ store, cache: pieceCacheOf(store), port: 0, policy: 'refuse' });
    const { port, baseUrls } = await server.listen();
    try {
      expect(baseUrls).toContain(`http://127.0.0.1:${port}`);
      expect(baseUrls).toContain(`http://[::1]:${port}`);
      for (const host of ['127.0.0.1', '[::1]']) {
        const url = objectUrls(`http://${host}:${port}`, { infoHash: metainfo.infoHash, metainfo }).files[0]!;
        expect((await get(url)).body.equals(data), host).toBe(true);
      }
    } finally {
      await server.close(100);
    }
  });
});

describe('HTTP server: objects held in part', () => {
  const data = testBytes(PIECE * 4, 3);
  let metainfo: Metainfo;

  async function partialStore(source: string | null = 'http://origin.invalid/data.bin') {
    const store = new MemoryStore();
    metainfo = metainfoFor('data.bin', PIECE, [{ path: [], length: data.length }], data);
    await holdObject(store, metainfo, data, { held: [0, 1], ...(source === null ? {} : { source }) });
    return store;
  }

  it('refuse: serves what is held and answers 503 with Retry-After for the rest', async () => {
    const store = await partialStore();
    const server = createHttpServer({ store, cache: pieceCacheOf(store), port: 0, policy: 'refuse' });
    const { port } = await server.listen();
    try {
      const urls = objectUrls(`http://127.0.0.1:${port}`, { infoHash: metainfo.infoHash, metainfo });
      const held = await get(urls.files[0]!, { range: `bytes=0-${PIECE * 2 - 1}` });
      expect(held.status).toBe(206);
      expect(held.body.equals(data.subarray(0, PIECE * 2))).toBe(true);
      const missing = await get(urls.files[0]!, { range: `bytes=${PIECE * 2 - 10}-${PIECE * 2 + 10}` });
      expect(missing.status).toBe(503);
      expect(missing.headers['retry-after']).toBe('10');
      expect(missing.headers['cache-control']).toBe('no-store');
      expect(missing.body.toString()).toContain('piece 2');
      expect((await get(urls.files[0]!)).status).toBe(503);
      expect((await get(urls.pieceUrlTemplate.replace('{index}', '3'))).status).toBe(503);
      expect((await get(urls.files[0]!, {}, 'HEAD')).status).toBe(503);
      expect(server.stats().refused).toBe(4);
    } finally {
      await server.close(100);
    }
  });

  it('redirect: sends object requests to the origin, refuses piece requests', async () => {
    const store = await partialStore();
    const server = createHttpServer({ store, cache: pieceCacheOf(store), port: 0, policy: 'redirect' });
    const { port } = await server.listen();
    try {
      const urls = objectUrls(`http://127.0.0.1:${port}`, { infoHash: metainfo.infoHash, metainfo });
      const redirected = await get(urls.files[0]!, { range: `bytes=${PIECE * 3}-` });
      expect(redirected.status).toBe(302);
      expect(redirected.headers.location).toBe('http://origin.invalid/data.bin');
      expect((await get(urls.pieceUrlTemplate.replace('{index}', '2'))).status).toBe(503);
      expect((await get(urls.files[0]!, { range: 'bytes=0-9' })).status).toBe(206);
    } finally {
      await server.close(100);
    }
  });

  it('redirect without an http origin refuses', async () => {
    const store = await partialStore(null);
    const server = createHttpServer({ store, cache: pieceCacheOf(store), port: 0, policy: 'redirect' });
    const { port } = await server.listen();
    try {
      const url = objectUrls(`http://127.0.0.1:${port}`, { infoHash: metainfo.infoHash, metainfo }).files[0]!;
      const answer = await get(url);
      expect(answer.status).toBe(503);
      expect(answer.body.toString()).toContain('no http(s) origin');
    } finally {
      await server.close(100);
    }
  });
});

describe('HTTP server: corrupt pieces', () => {
  it('drops a corrupt piece found before the headers and answers by policy', async () => {
    const store = new MemoryStore();
    const data = testBytes(PIECE * 3, 5);
    const metainfo = metainfoFor('c.bin', PIECE, [{ path: [], length: data.length }], data);
    await holdObject(store, metainfo, data, { corruptAt: PIECE + 5 });
    const cache = pieceCacheOf(store);
    const server = createHttpServer({ store, cache, port: 0, policy: 'refuse' });
    const { port } = await server.listen();
    try {
      const url = objectUrls(`http://127.0.0.1:${port}`, { infoHash: metainfo.infoHash, metainfo }).files[0]!;
      const answer = await get(url, { range: `bytes=${PIECE}-${PIECE + 99}` });
      expect(answer.status).toBe(503);
      expect(cache.stats().corruptPieces).toBe(1);
      expect(store.get(metainfo.infoHash)!.bitfield.get(1)).toBe(false);
    } finally {
      await server.close(100);
    }
  });

  it('cuts the connection when a piece turns out corrupt mid-response, never sending its bytes', async () => {
    const store = new MemoryStore();
    const data = testBytes(PIECE * 3, 6);
    const metainfo = metainfoFor('c.bin', PIECE, [{ path: [], length: data.length }], data);
    await holdObject(store, metainfo, data, { corruptAt: PIECE * 2 + 7 });
    const server = createHttpServer({ store, cache: pieceCacheOf(store), port: 0, policy: 'refuse' });
    const { port } = await server.listen();
    try {
      const target = `/objects/${metainfo.infoHash}/c.bin`;
      const answer = await raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(answer.startsWith('HTTP/1.1 200')).toBe(true);
      expect(answer).toContain(`Content-Length: ${data.length}\r\n`);
      const body = Buffer.from(answer.slice(answer.indexOf('\r\n\r\n') + 4), 'latin1');
      // the verified pieces before it at most, never the corrupt one: the client sees a short body
      expect(body.length).toBeLessThanOrEqual(PIECE * 2);
      expect(body.equals(data.subarray(0, body.length))).toBe(true);
      expect(server.stats().aborted).toBe(1);
    } finally {
      await server.close(100);
    }
  });
});

describe('HTTP server: slow and greedy clients', () => {
  const data = testBytes(PIECE * 4, 8);
  const metainfo = metainfoFor('s.bin', PIECE, [{ path: [], length: data.length }], data);

  async function startServer(limits: Record<string, number>) {
    const store = new MemoryStore();
    await holdObject(store, metainfo, data);
    return createHttpServer({ store, cache: pieceCacheOf(store), port: 0, policy: 'refuse', limits });
  }

  it('closes a connection that does not finish its headers in time (408)', async () => {
    const server = await startServer({ requestTimeoutMs: 300 });
    const { port } = await server.listen();
    try {
      const socket = connect(port, '127.0.0.1');
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      await once(socket, 'close');
      expect(Buffer.concat(chunks).toString().startsWith('HTTP/1.1 408')).toBe(true);
      expect(server.stats().clientErrors).toBe(1);
    } finally {
      await server.close(100);
    }
  });

  it('closes an idle connection, and one whose client stops reading', async () => {
    const server = await startServer({ idleTimeoutMs: 300, keepAliveTimeoutMs: 300 });
    const { port } = await server.listen();
    try {
      const idle = connect(port, '127.0.0.1');
      await once(idle, 'connect');
      await once(idle, 'close');
      // A client that asks for more than the socket buffers hold, and never reads.
      const stalled: Socket = connect(port, '127.0.0.1');
      await once(stalled, 'connect');
      stalled.pause();
      const target = `/objects/${metainfo.infoHash}/s.bin`;
      for (let i = 0; i < 400; i += 1) stalled.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await expect.poll(() => server.stats().responses['2xx']).toBeGreaterThan(0);
      // The paused client cannot see the server's FIN; the server's side tells.
      await expect.poll(() => server.stats().connections, { timeout: 5000 }).toBe(0);
      expect(server.stats().aborted).toBeGreaterThan(0);
      stalled.destroy();
    } finally {
      await server.close(100);
    }
  });

  it('caps open connections', async () => {
    const server = await startServer({ maxConnections: 2 });
    const { port } = await server.listen();
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 2; i += 1) {
        const socket = connect(port, '127.0.0.1');
        sockets.push(socket);
        await once(socket, 'connect');
      }
      await expect.poll(() => server.stats().connections).toBe(2);
      const extra = connect(port, '127.0.0.1');
      sockets.push(extra);
      await once(extra, 'close');
      expect(server.stats().connections).toBe(2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.close(100);
    }
  });

  it('lets a response in flight finish on close, then stops', async () => {
    const server = await startServer({});
    const { port } = await server.listen();
    const url = objectUrls(`http://127.0.0.1:${port}`, { infoHash: metainfo.infoHash, metainfo }).files[0]!;
    const response = await request(url, { dispatcher: new Agent() });
    const closing = server.close(2000);
    const body = Buffer.from(await response.body.arrayBuffer());
    await closing;
    expect(body.equals(data)).toBe(true);
    await expect(request(url, { dispatcher: new Agent() })).rejects.toThrow();
  });
});

/** A server on loopback over a memory store holding one object of `pieces` pieces, and that object's URL. */
describe("HTTP server: the object's own URL (WebTorrent's web seed requests)", () => {
  it("serves a single-file object's content at /objects/<ih>/ and refuses it for a multi-file one", async () => {
    const { store, server, port, data } = await serveOneObject('single.bin', 2);
    const files = testBytes(PIECE * 2, 4);
    const multi = metainfoFor(
      'folder',
      PIECE,
      [
        { path: ['a.bin'], length: PIECE },
        { path: ['b.bin'], length: PIECE },
      ],
      files,
    );
    await holdObject(store, multi, files);
    const single = store.list().find((object) => object.infoHash !== multi.infoHash)!.infoHash;
    try {
      for (const url of [`/objects/${single}/`, `/objects/${single}`]) {
        const whole = await get(`http://127.0.0.1:${port}${url}`);
        expect(whole.status).toBe(200);
        expect(whole.body.equals(data)).toBe(true);
        const range = await get(`http://127.0.0.1:${port}${url}`, { range: 'bytes=10-19' });
        expect(range.status).toBe(206);
        expect(range.body.equals(data.subarray(10, 20))).toBe(true);
      }
      expect((await get(`http://127.0.0.1:${port}/objects/${multi.infoHash}/`)).status).toBe(404);
    } finally {
      await server.close(100);
    }
  });
});

describe('HTTP server: damaged objects', () => {
  it('answers 503 for an object whose metainfo cannot be read, and serves the others', async () => {
    const store = new MemoryStore();
    const fine = testBytes(PIECE * 2, 2);
    const fineMeta = metainfoFor('fine.bin', PIECE, [{ path: [], length: fine.length }], fine);
    await holdObject(store, fineMeta, fine);
    const data = testBytes(PIECE * 2, 9);
    const metainfo = metainfoFor('damaged.bin', PIECE, [{ path: [], length: data.length }], data);
    await holdObject(store, metainfo, data);
    // As the disk store answers when an object's metainfo.torrent cannot be read (a fault a store in memory
    // never has): the object is listed, its metainfo is not to be had.
    const catalog = {
      get: (infoHash: string) => store.get(infoHash),
      metainfoOf: (infoHash: string) => (infoHash === metainfo.infoHash ? undefined : store.metainfoOf(infoHash)),
    };
    const server = createHttpServer({ store: catalog, cache: pieceCacheOf(store), port: 0, policy: 'refuse' });
    const { port } = await server.listen();
    const url = objectUrls(`http://127.0.0.1:${port}`, { infoHash: fineMeta.infoHash, metainfo: fineMeta }).files[0]!;
    try {
      const answer = await get(`http://127.0.0.1:${port}/objects/${metainfo.infoHash}/damaged.bin`);
      expect(answer.status).toBe(503);
      expect(answer.body.toString()).toContain('damaged');
      expect((await get(url)).status).toBe(200);
      expect(server.stats()).toMatchObject({ internalErrors: 0, responses: { '5xx': 1 } });
    } finally {
      await server.close(100);
    }
  });
});

async function serveOneObject(name: string, pieces: number, options: Partial<HttpServerOptions> = {}) {
  const store = new MemoryStore();
  const data = testBytes(PIECE * pieces, pieces);
  const metainfo = metainfoFor(name, PIECE, [{ path: [], length: data.length }], data);
  await holdObject(store, metainfo, data);
  const cache = pieceCacheOf(store);
  const server = createHttpServer({ store, cache, port: 0, host: '127.0.0.1', policy: 'refuse', ...options });
  const { port, baseUrls } = await server.listen();
  const url = objectUrls(baseUrls[0]!, { infoHash: metainfo.infoHash, metainfo }).files[0]!;
  return { store, cache, server, port, baseUrls, data, url, metainfo };
}

describe('HTTP server: each response reported', () => {
  it('hands onResponse the request as sent, status, body bytes, range and how long it took', async () => {
    const entries: ResponseEntry[] = [];
    const { server, url, metainfo } = await serveOneObject('reported.bin', 4, {
      onResponse: (entry) => entries.push(entry),
    });
    try {
      const started = performance.now();
      const ranged = await get(`${url}?x=1`, { range: `bytes=${PIECE - 10}-${PIECE + 9}` });
      const whole = await get(url);
      const elapsed = performance.now() - started;
      expect([ranged.status, whole.status]).toEqual([206, 200]);
      expect(entries).toHaveLength(2);
      const [first, second] = entries as [ResponseEntry, ResponseEntry];
      expect(first).toMatchObject({
        method: 'GET',
        target: `${new URL(url).pathname}?x=1`,
        infoHash: metainfo.infoHash,
        minorVersion: 1,
        range: `bytes=${PIECE - 10}-${PIECE + 9}`,
        status: 206,
        bodyBytes: 20,
        remoteAddress: '127.0.0.1',
      });
      expect(second).toMatchObject({ status: 200, bodyBytes: 4 * PIECE, range: undefined });
      for (const entry of entries) {
        expect(entry.durationMs).toBeGreaterThan(0);
        expect(entry.durationMs).toBeLessThan(elapsed);
      }
    } finally {
      await server.close(100);
    }
  });
});

describe('HTTP server: QoS class of a signed request', () => {
  it("sends a request whose token names a subscriber in that subscriber's class, others in the object's", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-qos-'));
    await writeFile(join(dir, 'k1'), `${'11'.repeat(32)}\n`);
    const keys = await KeyRing.load([{ id: 'k1', file: join(dir, 'k1') }]);
    const qos = new Qos(
      resolveQos({
        rate: 1e11,
        classes: 'gold:3,bronze:1',
        subscriberClasses: 'sip:alice@ims.example.net=gold',
      }),
    );
    const { server, url, metainfo } = await serveOneObject('classes.bin', 2, { gate: new UrlGate({ keys }), qos });
    const sign = (subscriber?: string) =>
      signToken(
        {
          expires: Math.floor(Date.now() / 1000) + 60,
          paths: [`/objects/${metainfo.infoHash}/`],
          keyId: 'k1',
          ...(subscriber === undefined ? {} : { subscriber }),
        },
        keys.get('k1') as KeyObject,
      );
    const sent = () => Object.fromEntries(qos.status().classes.map((c) => [c.name, c.sentBytes]));
    try {
      expect((await get(`${url}?__token__=${sign('sip:alice@ims.example.net')}`)).status).toBe(200);
      expect(sent()).toEqual({ default: 0, gold: 2 * PIECE, bronze: 0 });
      expect((await get(`${url}?__token__=${sign('sip:bob@ims.example.net')}`)).status).toBe(200);
      expect((await get(`${url}?__token__=${sign()}`)).status).toBe(200);
      expect(sent()).toEqual({ default: 4 * PIECE, gold: 2 * PIECE, bronze: 0 });
    } finally {
      await server.close(100);
      qos.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('HTTP server: the egress limits of a keep-alive connection', () => {
  it("keeps one flow per connection and object: each object's bytes in its class, the flow gone with the connection", async () => {
    const store = new MemoryStore();
    const objects = [];
    for (const name of ['gold.bin', 'bronze.bin']) {
      const data = testBytes(PIECE * 64, name.length);
      const metainfo = metainfoFor(name, PIECE, [{ path: [], length: data.length }], data);
      await holdObject(store, metainfo, data);
      objects.push(metainfo);
    }
    const [gold, bronze] = objects as [Metainfo, Metainfo];
    // 200 KB/s: the first two small ranges go at once; the whole bronze object then waits.
    const qos = new Qos(
      resolveQos({
        rate: 200_000,
        classes: 'gold:3,bronze:1',
        objectClasses: `${gold.infoHash}=gold,${bronze.infoHash}=bronze`,
      }),
    );
    const server = createHttpServer({
      store,
      cache: pieceCacheOf(store),
      port: 0,
      host: '127.0.0.1',
      policy: 'refuse',
      qos,
    });
    const { port } = await server.listen();
    const path = (metainfo: Metainfo) => `/objects/${metainfo.infoHash}/${metainfo.name}`;
    const sent = () => Object.fromEntries(qos.status().classes.map((c) => [c.name, c.sentBytes]));
    try {
      // One connection, three requests in order: gold, bronze, gold again (each its object's class).
      const answered = await raw(
        port,
        `GET ${path(gold)} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n` +
          `GET ${path(bronze)} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-199\r\n\r\n` +
          `GET ${path(gold)} HTTP/1.1\r\nHost: x\r\nRange: bytes=100-149\r\nConnection: close\r\n\r\n`,
      );
      expect(answered.match(/HTTP\/1.1 206/g)).toHaveLength(3);
      expect(sent()).toEqual({ default: 0, gold: 150, bronze: 200 });
      // A body that waits for tokens (5 KB/s: seconds for its second wait); the client resets the connection:
      // the connection's flow leaves the queue as it closes, not after its next grant.
      qos.update({ rate: 5000 });
      const socket = connect(port, '127.0.0.1');
      socket.on('data', () => {});
      socket.write(`GET ${path(bronze)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await vi.waitFor(() => {
        const { delayedSends, waitingFlows } = qos.status();
        expect(delayedSends >= 2 && waitingFlows === 1).toBe(true);
      }, 5000);
      socket.resetAndDestroy();
      await vi.waitFor(() => expect(qos.status().waitingFlows).toBe(0), { timeout: 1000 });
    } finally {
      await server.close(100);
      qos.stop();
    }
  });
});

describe('HTTP server: CORS', () => {
  it('lets pages read objects and their range fields, and answers preflights', async () => {
    const { store, cache, server, port, url } = await serveOneObject('cors.bin', 1, { corsOrigin: '*' });
    try {
      const ranged = await get(url, { origin: 'https://player.example.net', range: 'bytes=0-9' });
      expect(ranged.status).toBe(206);
      expect(ranged.headers['access-control-allow-origin']).toBe('*');
      expect(String(ranged.headers['access-control-expose-headers'])).toMatch(/Content-Range.*ETag/);
      const missing = await get(`http://127.0.0.1:${port}/nothing`, { origin: 'https://player.example.net' });
      expect(missing.headers['access-control-allow-origin']).toBe('*');
      const preflight = await request(url, {
        method: 'OPTIONS',
        headers: { origin: 'https://player.example.net', 'access-control-request-headers': 'if-none-match' },
        dispatcher,
      });
      await preflight.body.dump();
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-methods']).toBe('GET, HEAD, OPTIONS');
      expect(String(preflight.headers['access-control-allow-headers'])).toContain('If-None-Match');
      expect(preflight.headers['content-length']).toBeUndefined();
    } finally {
      await server.close(100);
    }
    expect(() =>
      createHttpServer({ store, cache, port: 0, policy: 'refuse', corsOrigin: 'https://x.example/path' }),
    ).toThrow(/corsOrigin must be/);
  });
});

describe('HTTP server: HTTPS', () => {
  it('serves ranges over TLS, names https base URLs, and takes a renewed certificate', async () => {
    const cert = readFileSync(new URL('../ims/fixtures/tls-cert.pem', import.meta.url));
    const key = readFileSync(new URL('../ims/fixtures/tls-key.pem', import.meta.url));
    const { server, port, baseUrls, data, url } = await serveOneObject('secure.bin', 3, { tls: { cert, key } });
    const trusting = new Agent({ connect: { ca: cert } });
    try {
      expect(baseUrls).toEqual([`https://127.0.0.1:${port}`]);
      const response = await request(url, {
        headers: { range: `bytes=${PIECE - 5}-${PIECE + 4}` },
        dispatcher: trusting,
      });
      expect(response.statusCode).toBe(206);
      expect(Buffer.from(await response.body.arrayBuffer()).equals(data.subarray(PIECE - 5, PIECE + 5))).toBe(true);
      // A client that does not trust the certificate is refused by TLS, not served.
      await expect(request(url, { dispatcher: new Agent() })).rejects.toThrow(/self.signed|certificate/i);
      server.setCertificate({ cert, key });
      const again = await request(url, { dispatcher: new Agent({ connect: { ca: cert } }) });
      expect(again.statusCode).toBe(200);
      await again.body.dump();
    } finally {
      await trusting.close();
      await server.close(100);
    }
  });
});

describe('HTTP server: access log', () => {
  it('logs a response the client walked away from, with its status and the bytes it got', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-log-'));
    try {
      const accessLog = join(dir, 'access.log');
      // 32 MiB: more than loopback's buffers take (tcp_rmem grows to 32 MiB here; 4 MiB could all be handed
      // to the kernel before the client goes, and then the response is whole, not walked away from).
      const { server, port, url, data } = await serveOneObject('aborted.bin', 2048, { accessLog });
      // As a player's opening `bytes=0-`: read the head, then go away.
      const socket = connect(port, '127.0.0.1');
      socket.write(`GET ${new URL(url).pathname} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-\r\n\r\n`);
      await once(socket, 'data');
      socket.destroy();
      await expect.poll(() => server.stats().aborted).toBe(1);
      await server.close(100);
      const lines = (await readFile(accessLog, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(1);
      const [, status, bytes] = / (\d{3}) (\d+) "-" "-"$/.exec(lines[0]!)!;
      expect(status).toBe('206');
      expect(Number(bytes)).toBeLessThan(data.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('logs a dropped response with the bytes that left, not those still queued in the server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-log-'));
    try {
      const accessLog = join(dir, 'access.log');
      // 32 MiB: more than loopback's socket buffers take, so the server holds some of what it wrote.
      const { server, port, url } = await serveOneObject('stalled.bin', 2048, { accessLog });
      const socket = connect(port, '127.0.0.1');
      socket.pause(); // reads nothing: the kernel's buffers fill, then the server's own
      socket.write(`GET ${new URL(url).pathname} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await once(socket, 'connect');
      // Until the server stops handing bytes to its socket: waiting for the client to read.
      let handed = -1;
      for (let tries = 0; tries < 500 && handed !== server.stats().bytesSent; tries += 1) {
        handed = server.stats().bytesSent;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(handed).toBeGreaterThan(0);
      socket.destroy();
      await expect.poll(() => server.stats().aborted).toBe(1);
      await server.close(100);
      const [, status, bytes] = / (\d{3}) (\d+) "-" "-"$/.exec((await readFile(accessLog, 'utf8')).trim())!;
      expect(status).toBe('200');
      expect(Number(bytes)).toBeLessThan(handed);
      expect(Number(bytes)).toBeGreaterThan(handed - 1024 * 1024); // all but what this process still held
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('logs every response, refused requests included, with the bytes of its body', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-log-'));
    try {
      const accessLog = join(dir, 'access.log');
      const { server, port, url } = await serveOneObject('logged.bin', 2, { accessLog });
      const base = `http://127.0.0.1:${port}`;
      await get(url, { range: 'bytes=100-199', 'user-agent': 'test-agent/1', referer: 'http://ref.example/' });
      await get(url, {}, 'HEAD');
      await get(`${base}/nothing`);
      await raw(port, 'GET /x HTTP/1.1\r\nHost: x\r\nBad Field: 1\r\n\r\n');
      await server.close(100);
      const lines = (await readFile(accessLog, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(4);
      const path = new URL(url).pathname;
      expect(lines[0]).toMatch(
        new RegExp(
          `^127\\.0\\.0\\.1 - - \\[\\d{2}/\\w{3}/\\d{4}:[\\d:]{8} \\+0000\\] "GET ${path} HTTP/1\\.1" 206 100 "http://ref\\.example/" "test-agent/1"$`,
        ),
      );
      expect(lines[1]).toContain(`"HEAD ${path} HTTP/1.1" 200 0 "-"`);
      expect(lines[2]).toMatch(/"GET \/nothing HTTP\/1\.1" 404 \d+ /);
      expect(lines[3]).toMatch(/ "-" 400 \d+ "-" "-"$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function parseMultipart(body: Buffer, boundary: string): { range: string; data: Buffer }[] {
  const parts: { range: string; data: Buffer }[] = [];
  let at = 0;
  const text = body.toString('latin1');
  for (;;) {
    const start = text.indexOf(`--${boundary}`, at);
    if (start < 0) throw new Error('no boundary');
    const afterBoundary = start + boundary.length + 2;
    if (text.startsWith('--', afterBoundary)) break;
    const headerEnd = text.indexOf('\r\n\r\n', afterBoundary);
    const headers = text.slice(afterBoundary + 2, headerEnd);
    const range = /Content-Range: (.*)/.exec(headers)![1]!;
    const [, first, last] = /bytes (\d+)-(\d+)\//.exec(range)!;
    const length = Number(last) - Number(first) + 1;
    parts.push({ range, data: body.subarray(headerEnd + 4, headerEnd + 4 + length) });
    at = headerEnd + 4 + length;
  }
  return parts;
}
