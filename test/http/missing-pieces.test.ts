// Missing-piece policies as strategies: the HTTP server redirects where a policy says and serves what a
// policy's fetcher brings, without knowing of origins or edges (the controller's use: another server holds
// the piece). The agent's own policies by name are test/http/server.test.ts's and pull-through.test.ts's.
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHttpServer, type HttpServer, type MissingPiecePolicy, objectUrls } from '../../src/http/index.ts';
import type { Metainfo } from '../../src/metainfo/index.ts';
import { holdObject, MemoryStore, metainfoFor, pieceCacheOf, testBytes } from './memory-store.ts';

const PIECE = 16384;
const data = testBytes(PIECE * 4, 21);
const metainfo: Metainfo = metainfoFor('elsewhere.bin', PIECE, [{ path: [], length: data.length }], data);
const servers: HttpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close(100);
});

/** A server holding pieces 0 and 1 of the object, answering the rest by `policy`; its object URLs. */
async function serve(policy: MissingPiecePolicy) {
  const store = new MemoryStore();
  await holdObject(store, metainfo, data, { held: [0, 1] });
  const server = createHttpServer({ store, cache: pieceCacheOf(store), port: 0, host: '127.0.0.1', policy });
  servers.push(server);
  const { baseUrls } = await server.listen();
  return { server, urls: objectUrls(baseUrls[0]!, { infoHash: metainfo.infoHash, metainfo }) };
}

async function get(url: string, range?: string) {
  const response = await request(url, range === undefined ? {} : { headers: { range } });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: Buffer.from(await response.body.arrayBuffer()),
  };
}

describe('HTTP server: missing-piece policies as strategies', () => {
  it('redirects object and piece URLs where the policy locates them', async () => {
    const asked: unknown[] = [];
    const { server, urls } = await serve({
      kind: 'redirect',
      locate: (missing) => {
        asked.push([missing.route, missing.fileIndex, missing.pieceIndex]);
        return { location: `http://edge-2.example${missing.route === 'piece' ? '/p' : '/o'}`, holder: 'edge-2' };
      },
    });
    const object = await get(urls.files[0]!, `bytes=${PIECE * 2}-${PIECE * 2 + 9}`);
    expect([object.status, object.headers.location]).toEqual([302, 'http://edge-2.example/o']);
    expect(object.body.toString()).toContain('piece 2 is not held here; edge-2 has it');
    const piece = await get(urls.pieceUrlTemplate.replace('{index}', '3'));
    expect([piece.status, piece.headers.location]).toEqual([302, 'http://edge-2.example/p']);
    expect(asked).toEqual([
      ['object', 0, 2],
      ['piece', -1, 3],
    ]);
    // what is held is served here
    expect((await get(urls.files[0]!, 'bytes=0-9')).status).toBe(206);
    expect(server.stats()).toMatchObject({ redirected: 2, refused: 0 });
  });

  it('refuses with the reason the policy gives when it has no place to send the request', async () => {
    const { server, urls } = await serve({ kind: 'redirect', locate: () => ({ reason: 'no edge holds it yet' }) });
    const answer = await get(urls.files[0]!);
    expect([answer.status, answer.headers['retry-after']]).toEqual([503, '10']);
    expect(answer.body.toString()).toContain('piece 2 is missing and no edge holds it yet');
    expect(server.stats().refused).toBe(1);
  });

  it("serves pieces a fetcher brings from another server's verified pieces, one fetch per piece", async () => {
    const edge = new MemoryStore();
    await holdObject(edge, metainfo, data);
    const edgePieces = pieceCacheOf(edge);
    const fetched: number[] = [];
    let pulled = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const store = new MemoryStore();
    await holdObject(store, metainfo, data, { held: [0, 1] });
    const server = createHttpServer({
      store,
      cache: pieceCacheOf(store),
      port: 0,
      host: '127.0.0.1',
      onPulled: (_infoHash, bytes) => {
        pulled += bytes;
      },
      policy: {
        kind: 'pull',
        fetcher: {
          cannotFetch: () => null,
          fetchPiece: async (object, _metainfo, pieceIndex) => {
            fetched.push(pieceIndex);
            await gate;
            return edgePieces.getPiece(object.infoHash, pieceIndex);
          },
          close: async () => {},
        },
      },
    });
    servers.push(server);
    const urls = objectUrls((await server.listen()).baseUrls[0]!, { infoHash: metainfo.infoHash, metainfo });
    const both = Promise.all([get(urls.files[0]!), get(urls.files[0]!)]);
    // both requests wait for piece 2 (read ahead of the pieces held) before any bytes come back
    await vi.waitFor(() => expect(server.stats().requests === 2 && fetched.includes(2)).toBe(true));
    open();
    const [whole, again] = await both;
    expect(whole.status).toBe(200);
    expect(whole.body.equals(data)).toBe(true);
    expect(again.body.equals(data)).toBe(true);
    expect(fetched.filter((index) => index === 2)).toEqual([2]);
    expect(server.stats()).toMatchObject({ piecesPulled: fetched.length, pullFailures: 0 });
    expect(pulled).toBe(PIECE * fetched.length);
  });

  it("refuses with the fetcher's reason when it cannot fetch the object", async () => {
    const { urls } = await serve({
      kind: 'pull',
      fetcher: {
        cannotFetch: () => 'no edge is reachable',
        fetchPiece: () => Promise.reject(new Error('not called')),
        close: async () => {},
      },
    });
    const answer = await get(urls.pieceUrlTemplate.replace('{index}', '2'));
    expect(answer.status).toBe(503);
    expect(answer.body.toString()).toContain('piece 2 is missing and no edge is reachable');
  });
});
