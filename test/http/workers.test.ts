import { once } from 'node:events';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpWorkers, objectUrls, startHttpWorkers } from '../../src/http/index.ts';
import type { Metainfo } from '../../src/metainfo/index.ts';
import { openStore, type StagingStore, type Store } from '../../src/store/index.ts';
import { metainfoFor, testBytes } from './memory-store.ts';

const PIECE = 16384;

describe('HTTP worker threads sharing one port', () => {
  const data = testBytes(PIECE * 6, 31);
  const metainfo: Metainfo = metainfoFor('w.bin', PIECE, [{ path: [], length: data.length }], data);
  let dir: string;
  let store: Store & StagingStore;
  let origin: Server;
  let workers: HttpWorkers;
  let urls: ReturnType<typeof objectUrls>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-workers-'));
    origin = createServer((req, res) => {
      const [, first, last] = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '') ?? [];
      const body = data.subarray(Number(first), Number(last) + 1);
      res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${data.length}`, 'content-length': body.length });
      res.end(body);
    });
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    const source = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/w.bin`;
    store = await openStore(join(dir, 'store'), { mode: 'write' });
    await store.addObject(metainfo, { source });
    for (const index of [0, 1, 2, 3]) {
      await store.writePiece(metainfo.infoHash, index, data.subarray(index * PIECE, (index + 1) * PIECE));
    }
    workers = await startHttpWorkers({
      dataDir: join(dir, 'store'),
      threads: 2,
      cacheBytes: 1024 * 1024,
      host: '127.0.0.1',
      port: 0,
      policy: 'pull-through',
      writer: store,
    });
    urls = objectUrls(`http://127.0.0.1:${workers.port}`, { infoHash: metainfo.infoHash, metainfo });
  });
  afterAll(async () => {
    await workers?.close(100);
    await store?.close();
    origin?.closeAllConnections();
    origin?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function get(url: string, range?: string) {
    // a fresh connection each time, so the kernel spreads them over both workers
    const dispatcher = new Agent({ pipelining: 0 });
    const response = await request(url, { dispatcher, ...(range === undefined ? {} : { headers: { range } }) });
    const body = Buffer.from(await response.body.arrayBuffer());
    await dispatcher.close();
    return { status: response.statusCode, body };
  }

  it('serves held pieces from every worker', async () => {
    for (let i = 0; i < 8; i += 1) {
      const answer = await get(urls.files[0]!, `bytes=${i * 1000}-${i * 1000 + 99}`);
      expect(answer.status).toBe(206);
      expect(answer.body.equals(data.subarray(i * 1000, i * 1000 + 100))).toBe(true);
    }
    const stats = await workers.stats();
    expect(stats.responses['2xx']).toBe(8);
  });

  it('pulls missing pieces through, and the writer thread stores them', async () => {
    const answer = await get(urls.files[0]!, `bytes=${PIECE * 4}-`);
    expect(answer.status).toBe(206);
    expect(answer.body.equals(data.subarray(PIECE * 4))).toBe(true);
    await expect.poll(() => store.get(metainfo.infoHash)!.complete).toBe(true);
    expect((await workers.stats()).piecesPulled).toBe(2);
  });

  it('reports a piece a worker finds corrupt on disk, and the writer takes it out of the store', async () => {
    // bit rot in piece 2 (held, and never read yet by any worker's cache)
    const path = join(dir, 'store', 'objects', metainfo.infoHash, 'data', 'w.bin');
    const handle = await open(path, 'r+');
    await handle.write(Buffer.from([data[PIECE * 2 + 3]! ^ 0xff]), 0, 1, PIECE * 2 + 3);
    await handle.close();
    const answer = await get(urls.pieceUrlTemplate.replace('{index}', '2'));
    // served all the same: pulled through from the origin, never the corrupt bytes
    expect(answer.body.equals(data.subarray(PIECE * 2, PIECE * 3))).toBe(true);
    await expect.poll(() => store.get(metainfo.infoHash)!.bitfield.get(2)).toBe(true);
    expect((await workers.stats()).piecesPulled).toBeGreaterThanOrEqual(3);
  });
});
