// The HTTP server over the serving threads' shared slab, which lends a range's bytes (a view of its slot)
// instead of copying them: a slot stays pinned while a response's bytes wait in the socket's stream (a
// client that does not read), so no other piece is written over them, and every span is given back once
// the client has read them (the slot then takes another piece).
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer, objectUrls } from '../../src/http/index.ts';
import { createPieceSlab, createSharedPieceCache, type PieceCache } from '../../src/store/index.ts';
import { holdObject, MemoryStore, metainfoFor, sha1Matches, testBytes } from './memory-store.ts';

const PIECE = 64 * 1024;
const data = testBytes(PIECE * 2, 5);
const metainfo = metainfoFor('lent.bin', PIECE, [{ path: [], length: data.length }], data);
const { infoHash } = metainfo;

const store = new MemoryStore();
let cache: PieceCache;
let server: HttpServer;
let port: number;
let path: string;

beforeAll(async () => {
  const object = await holdObject(store, metainfo, data);
  // One slot: while piece 0's bytes are lent, piece 1 cannot take it.
  cache = createSharedPieceCache(store, {
    slab: createPieceSlab({ maxBytes: PIECE, slotBytes: PIECE }),
    verify: sha1Matches,
  });
  server = createHttpServer({ store, cache, host: '127.0.0.1', port: 0, policy: 'refuse' });
  ({ port } = await server.listen());
  path = new URL(objectUrls('http://x', object).files[0]!).pathname;
});

afterAll(async () => {
  await server.close(0);
});

describe('HTTP server over a lending cache (the serving threads slab)', () => {
  it("keeps a response's slot pinned until the client read its bytes, then gives it back", async () => {
    await cache.getPiece(infoHash, 0);
    expect(cache.holds!(infoHash, 0)).toBe(true);
    // Enough pipelined ranges of piece 0 that the loopback's buffers fill and the stream keeps some.
    const requests = 400;
    const socket = connect(port, '127.0.0.1');
    socket.pause();
    const request = `GET ${path} HTTP/1.1\r\nHost: x\r\nRange: bytes=100-${PIECE - 1}\r\n\r\n`;
    socket.write(request.repeat(requests));
    // Served until the socket's stream holds more than it lets a pipelined request wait behind.
    const before = cache.stats().hits;
    while (cache.stats().hits - before < 20) await new Promise((resolve) => setImmediate(resolve));
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    // Piece 1 is read and served, but cannot take piece 0's slot: spans of it are still out.
    expect(await cache.getPiece(infoHash, 1)).toEqual(data.subarray(PIECE));
    expect(cache.holds!(infoHash, 1)).toBe(false);
    expect(cache.holds!(infoHash, 0)).toBe(true);

    const body = data.subarray(100, PIECE);
    let received = Buffer.alloc(0);
    let responses = 0;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        for (;;) {
          const headEnd = received.indexOf('\r\n\r\n');
          if (headEnd < 0 || received.length < headEnd + 4 + body.length) break;
          const head = received.subarray(0, headEnd).toString('latin1');
          if (!head.startsWith('HTTP/1.1 206')) reject(new Error(head));
          // Every byte is piece 0's, though piece 1 was read meanwhile.
          if (!received.subarray(headEnd + 4, headEnd + 4 + body.length).equals(body)) {
            reject(new Error(`response ${responses} has the wrong bytes`));
          }
          received = received.subarray(headEnd + 4 + body.length);
          if (++responses === requests) resolve();
        }
      });
    });
    socket.resume();
    await done;
    socket.destroy();
    // Every span given back: piece 1 now takes the slot.
    await cache.getPiece(infoHash, 1);
    await cache.getPiece(infoHash, 1);
    expect(cache.holds!(infoHash, 1)).toBe(true);
  });
});
