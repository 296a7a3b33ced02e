// The HTTP/1.1 layer's oneShot path (src/http/raw-accept.ts): which requests it answers on the libuv
// handle, which it leaves to onRequest, and that connections are counted and closed either way.
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttp1Server, type Http1Server } from '../../src/http/http1.ts';
import { getOnNewConnection } from '../helpers/http.ts';

const LIMITS = {
  maxHeaderSize: 16 * 1024,
  requestTimeoutMs: 2000,
  keepAliveTimeoutMs: 2000,
  idleTimeoutMs: 2000,
  maxRequestsPerSocket: 0,
  maxConnections: 100,
  maxConnectionsPerIp: 100,
};

let server: Http1Server | undefined;
afterEach(async () => {
  server?.closeAll();
  await new Promise<void>((resolve) => server?.server.close(() => resolve()));
  server?.stop();
  server = undefined;
});

/**
 * A server answering `/one` through oneShot (later, as an async store would), taking `/hang` and never
 * answering (a shared store that stopped answering), and anything else via onRequest.
 */
async function start(limits = LIMITS) {
  const seen: string[] = [];
  server = createHttp1Server({
    limits,
    onRequest: (request, response) => {
      seen.push(`socket ${request.url}`);
      response.writeHead(200, [], 'Content-Length: 6\r\n');
      response.end('socket');
    },
    oneShot: (request, remoteAddress, reply) => {
      if (request.url === '/hang') return true;
      if (!request.url.startsWith('/one')) return false;
      seen.push(`raw ${request.url} ${remoteAddress}`);
      setImmediate(() => reply(200, 'Content-Length: 3\r\n', Buffer.from('raw')));
      return true;
    },
  });
  await new Promise<void>((resolve) => server!.server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return { seen, port, url: (path: string) => `http://127.0.0.1:${port}${path}` };
}

async function exchange(port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let seen = '';
  socket.on('data', (chunk: Buffer) => {
    seen += chunk.toString('latin1');
  });
  const closed = once(socket, 'close');
  socket.end(request);
  await closed;
  return seen;
}

describe('HTTP/1.1 layer, oneShot on libuv handles', () => {
  it('answers a whole GET that closes its connection on the handle, with Date and Connection: close', async () => {
    const { seen, url } = await start();
    expect(server!.rawAccepting).toBe(true);
    const answer = await getOnNewConnection(url('/one?a=1'));
    expect(answer).toEqual({ status: 200, body: Buffer.from('raw') });
    expect(seen).toEqual(['raw /one?a=1 127.0.0.1']);
    // Every connection closed: nothing counted any more.
    await expect.poll(() => server!.connections).toBe(0);
  });

  it('leaves keep-alive, pipelined, HEAD and declined requests to onRequest on a socket', async () => {
    const { seen, port, url } = await start();
    const kept = await fetch(url('/one?kept'));
    expect(await kept.text()).toBe('socket');
    expect(await (await getOnNewConnection(url('/other'))).body.toString()).toBe('socket');
    const pipelined = await exchange(
      port,
      'GET /one?p1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /one?p2 HTTP/1.1\r\nHost: t\r\n\r\n',
    );
    expect(pipelined).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*socket$/);
    const head = await exchange(port, 'HEAD /one HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(seen).toEqual(['socket /one?kept', 'socket /other', 'socket /one?p1', 'socket /one']);
  });

  it('answers HTTP/1.0 without keep-alive on the handle, and refuses connections over the limit', async () => {
    const { seen, port } = await start({ ...LIMITS, maxConnections: 1 });
    const old = await exchange(port, 'GET /one HTTP/1.0\r\n\r\n');
    expect(old).toMatch(/^HTTP\/1\.1 200 OK\r\nContent-Length: 3\r\nDate: [^\r]+\r\nConnection: close\r\n\r\nraw$/);
    expect(seen).toEqual(['raw /one 127.0.0.1']);
    // One connection open and waiting on its handle: the next is closed as it arrives.
    const held = connect(port, '127.0.0.1');
    await once(held, 'connect');
    await expect.poll(() => server!.connections).toBe(1);
    const refused = await exchange(port, 'GET /one HTTP/1.0\r\n\r\n');
    expect(refused).toBe('');
    expect(server!.refusedConnections).toBe(1);
    held.destroy();
  });

  it('closes a connection whose answer does not come within the idle timeout, and counts it closed', async () => {
    const { port } = await start({ ...LIMITS, idleTimeoutMs: 300 });
    const startedAt = Date.now();
    const answer = await exchange(port, 'GET /hang HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(answer).toBe('');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    await expect.poll(() => server!.connections).toBe(0);
  });
});
