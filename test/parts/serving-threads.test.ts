// http.threads: serving threads on the agent's port (SO_REUSEPORT) over one shared piece slab. Real
// threads, a real disk store and real HTTP over loopback; connections are new each time, so the kernel
// spreads them over the threads.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer, pieceUrl } from '../../src/http/index.ts';
import { type ServingThreadsPart, startServingThreads, sumHttpStats } from '../../src/parts/index.ts';
import {
  createPieceSlab,
  createSharedPieceCache,
  openStore,
  type PieceCache,
  type StagingStore,
  type Store,
} from '../../src/store/index.ts';
import { getOnNewConnection } from '../helpers/http.ts';
import { makeObject, sha1Verify, tempFolder } from '../store/helpers.ts';

const PIECE = 16_384;
const object = makeObject({ name: 'served.bin', pieceLength: PIECE, fileLengths: [PIECE * 8], single: true });
const { infoHash } = object.metainfo;

let dataDir: string;
let removeFolder: () => Promise<void>;
let store: Store & StagingStore;
let cache: PieceCache;
let server: HttpServer;
let threads: ServingThreadsPart | null;
let base: string;

beforeEach(async () => {
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
  store = await openStore(dataDir, { mode: 'write' });
  await store.addObject(object.metainfo);
  for (let index = 0; index < 8; index++) await store.writePiece(infoHash, index, object.piece(index));
  const slab = createPieceSlab({ maxBytes: 1 << 20, slotBytes: PIECE });
  cache = createSharedPieceCache(store, { slab, verify: sha1Verify });
  server = createHttpServer({ store, cache, host: '127.0.0.1', port: 0, reusePort: true, policy: 'refuse' });
  const { port } = await server.listen();
  base = `http://127.0.0.1:${port}`;
  threads = await startServingThreads(
    {
      count: 1,
      dataDir,
      store,
      slab,
      verifyPolicy: 'checksum',
      verify: sha1Verify,
      http: { port, host: '127.0.0.1', policy: 'refuse', limits: {} },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    },
    1000,
  );
});

afterEach(async () => {
  await threads?.stop();
  await server.close(100);
  await store.close();
  await removeFolder();
});

/** Requests (one connection each) until both threads answered some and their counters say so. */
async function untilBothServed(
  urls: () => string,
  check: (response: { status: number; body: Buffer }, url: string) => void,
): Promise<number[]> {
  let served = [0, 0];
  for (let round = 0; round < 200 && !(served[0]! > 0 && served[1]! > 0); round++) {
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const url = urls();
        check(await getOnNewConnection(url), url);
      }),
    );
    // A thread writes its counters every 200 ms: wait for its next write once the requests are done.
    await threads!.published();
    served = [server.stats().requests, threads!.stats()[0]!.requests];
  }
  return served;
}

describe('serving threads', () => {
  it('serve on one port, both of them, from one cache: a piece read by one thread is a hit for the other', async () => {
    for (let index = 0; index < 8; index++) await cache.getPiece(infoHash, index);
    expect(cache.stats().misses).toBe(8);
    let next = 0;
    const served = await untilBothServed(
      () => pieceUrl(base, infoHash, next++ % 8),
      (response, url) => {
        expect(response.status).toBe(200);
        expect(response.body.equals(object.piece(Number(url.split('/').pop())))).toBe(true);
      },
    );
    expect(served[0]).toBeGreaterThan(0);
    expect(served[1]).toBeGreaterThan(0);
    // No thread read a piece from disk again: every answer came from the slab the agent's thread filled.
    const stats = cache.stats();
    expect(stats.misses).toBe(8);
    expect(stats.hits).toBeGreaterThanOrEqual(served[0]! + served[1]!);
    expect(sumHttpStats([server.stats(), ...threads!.stats()]).responses['2xx']).toBe(served[0]! + served[1]!);
  });

  it('never serves a piece found corrupt by either thread: it leaves the store for both', async () => {
    const file = join(dataDir, 'objects', infoHash, 'data', 'served.bin');
    const bytes = await readFile(file);
    bytes[5 * PIECE + 7]! ^= 0x40;
    await writeFile(file, bytes);
    const served = await untilBothServed(
      () => pieceUrl(base, infoHash, 5),
      (response) => expect(response.status).toBe(503),
    );
    expect(served[0]).toBeGreaterThan(0);
    expect(served[1]).toBeGreaterThan(0);
    expect(store.get(infoHash)!.bitfield.get(5)).toBe(false);
    expect(cache.holds!(infoHash, 5)).toBe(false);
    // The other pieces are still served.
    expect((await getOnNewConnection(pieceUrl(base, infoHash, 4))).body.equals(object.piece(4))).toBe(true);
  });
});
