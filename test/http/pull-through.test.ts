import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer, objectUrls, type ResponseEntry } from '../../src/http/index.ts';
import { captureLog } from '../helpers/log.ts';
import { holdObject, MemoryStore, metainfoFor, pieceCacheOf, testBytes, watchWrites } from './memory-store.ts';

const PIECE = 16384;

/** An origin serving files with Range support, and the faults a real server will not produce on demand. */
class Origin {
  files = new Map<string, Buffer>();
  fault: 'none' | 'corrupt' | 'status' | 'ignore-range' | 'stall' = 'none';
  requests: string[] = [];
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests.push(`${req.url} ${req.headers.range ?? ''}`);
      const file = this.files.get(decodeURIComponent(req.url ?? ''));
      if (file === undefined || this.fault === 'status') {
        res.writeHead(file === undefined ? 404 : 500).end();
        return;
      }
      if (this.fault === 'stall') return; // never answers
      const match = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (match === null || this.fault === 'ignore-range') {
        res.writeHead(200, { 'content-length': file.length }).end(file);
        return;
      }
      const first = Number(match[1]);
      const last = Math.min(Number(match[2]), file.length - 1);
      const body = Buffer.from(file.subarray(first, last + 1));
      if (this.fault === 'corrupt') body[0]! ^= 1;
      res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${file.length}`, 'content-length': body.length });
      res.end(body);
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('pull-through', () => {
  const origin = new Origin();
  const single = testBytes(PIECE * 4 + 100, 21);
  const multiFiles = [
    { path: ['one.bin'], length: 10_000 },
    { path: ['two', 'two.bin'], length: 30_000 },
  ];
  const multi = testBytes(40_000, 22);
  const singleMeta = metainfoFor('s.bin', PIECE, [{ path: [], length: single.length }], single);
  const multiMeta = metainfoFor('pack', PIECE, multiFiles, multi);
  let originUrl: string;
  let store: MemoryStore;
  /** Pieces pull-through stored since the test began. */
  let written: number[];
  let server: HttpServer;
  let base: string;
  /** Bytes told to onSent and onPulled, per object. */
  let sent: Map<string, number>;
  let pulled: Map<string, number>;
  /** What onResponse was told (accounting records are made of it). */
  let responses: ResponseEntry[];
  const tally = (into: () => Map<string, number>) => (infoHash: string, bytes: number) =>
    into().set(infoHash, (into().get(infoHash) ?? 0) + bytes);

  beforeAll(async () => {
    originUrl = await origin.start();
    origin.files.set('/files/s.bin', single);
    origin.files.set('/tree/pack/one.bin', multi.subarray(0, 10_000));
    origin.files.set('/tree/pack/two/two.bin', multi.subarray(10_000));
  });
  afterAll(async () => {
    await server.close(100);
    await origin.stop();
  });
  beforeEach(async () => {
    await server?.close(100);
    origin.fault = 'none';
    origin.requests = [];
    store = new MemoryStore();
    sent = new Map();
    pulled = new Map();
    responses = [];
    await holdObject(store, singleMeta, single, { held: [0], source: `${originUrl}/files/s.bin` });
    await holdObject(store, multiMeta, multi, { held: [], source: `${originUrl}/tree/` });
    written = watchWrites(store);
    server = createHttpServer({
      store,
      cache: pieceCacheOf(store),
      port: 0,
      host: '127.0.0.1',
      policy: 'pull-through',
      origin: { timeoutMs: 500 },
      onSent: tally(() => sent),
      onPulled: tally(() => pulled),
      onResponse: (entry) => responses.push(entry),
    });
    base = `http://127.0.0.1:${(await server.listen()).port}`;
  });
  async function get(url: string, range?: string) {
    const response = await request(url, range === undefined ? {} : { headers: { range } });
    return { status: response.statusCode, body: Buffer.from(await response.body.arrayBuffer()) };
  }

  it('fetches missing pieces with range requests, verifies, stores and serves them', async () => {
    const url = objectUrls(base, { infoHash: singleMeta.infoHash, metainfo: singleMeta }).files[0]!;
    const answer = await get(url, `bytes=100-${PIECE * 3 + 5}`);
    expect(answer.status).toBe(206);
    expect(answer.body.equals(single.subarray(100, PIECE * 3 + 6))).toBe(true);
    expect([...written].sort()).toEqual([1, 2, 3]);
    expect(origin.requests).toContain(`/files/s.bin bytes=${PIECE}-${PIECE * 2 - 1}`);
    expect(server.stats().piecesPulled).toBe(3);
    expect(pulled).toEqual(new Map([[singleMeta.infoHash, 3 * PIECE]]));
    expect(sent).toEqual(new Map([[singleMeta.infoHash, PIECE * 3 + 6 - 100]]));
    // now held: no more origin traffic
    origin.requests = [];
    expect((await get(url, `bytes=${PIECE}-${PIECE + 9}`)).status).toBe(206);
    expect(origin.requests).toEqual([]);
  });

  it("tells accounting where each response's bytes came from: pull-through, then disk, then memory", async () => {
    const url = objectUrls(base, { infoHash: singleMeta.infoHash, metainfo: singleMeta }).files[0]!;
    const range = `bytes=${PIECE * 2 + 10}-${PIECE * 2 + 99}`;
    expect((await get(url, range)).status).toBe(206); // piece 2 not held: from the origin
    expect((await get(url, range)).status).toBe(206); // held now
    expect((await get(url, `bytes=0-${PIECE * 2 + 5}`)).status).toBe(206); // piece 1 is not held yet
    expect((await get(url, range)).status).toBe(206); // piece 2 is in memory since the last one
    expect((await get(url, `bytes=0-0,${PIECE * 2}-${PIECE * 2}`)).status).toBe(206); // multipart, both in memory
    expect((await get(url, `bytes=${PIECE * 3}-${PIECE * 3 + 1}`)).status).toBe(206); // piece 3: pulled
    const failed = await request(`${base}/objects/${'0'.repeat(40)}/x`);
    await failed.body.dump();
    await new Promise((resolve) => setImmediate(resolve));
    expect(responses.map((r) => r.source)).toEqual([
      'pull-through',
      'disk',
      'pull-through',
      'cache',
      'cache',
      'pull-through',
      undefined, // a 404 carries no piece bytes
    ]);
  });

  it('answers HEAD from the metainfo, without fetching anything', async () => {
    const url = objectUrls(base, { infoHash: singleMeta.infoHash, metainfo: singleMeta }).files[0]!;
    const response = await request(url, { method: 'HEAD' });
    await response.body.dump();
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBe(String(single.length));
    expect(origin.requests).toEqual([]);
  });

  it('shares one origin fetch among concurrent requests for a piece', async () => {
    const url = objectUrls(base, { infoHash: singleMeta.infoHash, metainfo: singleMeta }).pieceUrlTemplate.replace(
      '{index}',
      '4',
    );
    const answers = await Promise.all([get(url), get(url), get(url)]);
    for (const answer of answers) expect(answer.body.equals(single.subarray(PIECE * 4))).toBe(true);
    expect(origin.requests.length).toBe(1);
  });

  it('pulls a piece that spans two files of a multi-file object, one request per file', async () => {
    const urls = objectUrls(base, { infoHash: multiMeta.infoHash, metainfo: multiMeta });
    const answer = await get(urls.files[1]!);
    expect(answer.status).toBe(200);
    expect(answer.body.equals(multi.subarray(10_000))).toBe(true);
    expect(origin.requests).toContain(`/tree/pack/one.bin bytes=0-9999`);
    expect(origin.requests).toContain(`/tree/pack/two/two.bin bytes=0-6383`);
  });

  it('answers 502 and stores nothing when the origin sends bytes that fail the hash', async () => {
    origin.fault = 'corrupt';
    const url = objectUrls(base, { infoHash: singleMeta.infoHash, metainfo: singleMeta }).files[0]!;
    const answer = await get(url, `bytes=${PIECE}-${PIECE + 10}`);
    expect(answer.status).toBe(502);
    expect(answer.body.toString()).toContain('SHA-1');
    expect(written).toEqual([]);
    expect(server.stats().pullFailures).toBe(1);
  });

  it('answers 502 when the origin fails or ignores Range, 504 when it stalls', async () => {
    const url = objectUrls(base, { infoHash: singleMeta.infoHash, metainfo: singleMeta }).files[0]!;
    origin.fault = 'status';
    expect((await get(url, `bytes=${PIECE}-${PIECE + 10}`)).status).toBe(502);
    origin.fault = 'ignore-range';
    expect((await get(url, `bytes=${PIECE}-${PIECE + 10}`)).status).toBe(502);
    origin.fault = 'stall';
    expect((await get(url, `bytes=${PIECE}-${PIECE + 10}`)).status).toBe(504);
    expect(written).toEqual([]);
  });

  it('cuts a response whose later piece cannot be pulled, after sending only verified bytes', async () => {
    const url = objectUrls(base, { infoHash: singleMeta.infoHash, metainfo: singleMeta }).files[0]!;
    origin.fault = 'corrupt';
    const response = await request(url);
    expect(response.statusCode).toBe(200);
    await expect(response.body.arrayBuffer()).rejects.toThrow();
    expect(written).toEqual([]);
  });

  it("logs the failures with their fields through pino: the info hash, the piece, the origin's error", async () => {
    const log = captureLog();
    const logged = createHttpServer({
      store,
      cache: pieceCacheOf(store),
      port: 0,
      host: '127.0.0.1',
      policy: 'pull-through',
      origin: { timeoutMs: 500 },
      logger: log.logger,
    });
    const port = (await logged.listen()).port;
    try {
      const url = objectUrls(`http://127.0.0.1:${port}`, { infoHash: singleMeta.infoHash, metainfo: singleMeta })
        .files[0]!;
      origin.fault = 'status';
      expect((await get(url, `bytes=${PIECE}-${PIECE + 10}`)).status).toBe(502);
      expect(log.lines.find((l) => l.msg === 'pull-through failed')).toMatchObject({
        level: 40,
        infoHash: singleMeta.infoHash,
        pieceIndex: 1,
        error: expect.stringMatching(/500/),
      });
      // A response already under way (200 sent) and cut short: the HTTP server's own warning.
      const response = await request(url);
      await expect(response.body.arrayBuffer()).rejects.toThrow();
      expect(await log.waitFor((l) => l.msg === 'response cut short: a piece could not be read')).toMatchObject({
        level: 40,
        infoHash: singleMeta.infoHash,
        error: expect.any(String),
      });
    } finally {
      await logged.close(100);
    }
  });
});
