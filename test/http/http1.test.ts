import { execFileSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { connect, createServer, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adoptWithReadBuffer,
  createHttp1Server,
  type Http1Limits,
  type Http1Request,
  type Http1Response,
  type Http1Server,
  parseHead,
  RequestFields,
} from '../../src/http/http1.ts';

const LIMITS: Http1Limits = {
  maxHeaderSize: 2048,
  requestTimeoutMs: 300,
  maxConnectionsPerIp: 1000,
  keepAliveTimeoutMs: 300,
  idleTimeoutMs: 1000,
  maxRequestsPerSocket: 0,
  maxConnections: 100,
};

/** Emits 'held' with the answer of a `/hold/<text>` request, which waits until that is called. */
const holds = new EventEmitter();

/** Answers `/echo/<text>` with the text; `/later/<text>` the same after a turn of the event loop. */
function answer(request: Http1Request, response: Http1Response): void {
  const [, kind, text = ''] = request.url.split('/');
  const send = () => {
    const body = `${request.method} ${text} ${request.headers['if-none-match'] ?? ''}`.trimEnd();
    response.writeHead(200, ['Content-Type', 'text/plain', 'Content-Length', String(Buffer.byteLength(body))]);
    response.end(body);
  };
  if (kind === 'later') setImmediate(send);
  else if (kind === 'hold') holds.emit('held', send);
  else if (kind === 'bad-field') {
    try {
      response.writeHead(200, ['Location', 'http://x/\r\nSet-Cookie: a=b']);
    } catch (err) {
      const body = (err as Error).message;
      response.writeHead(500, ['Content-Length', String(body.length)]);
      response.end(body);
    }
  } else send();
}

async function start(limits: Partial<Http1Limits> = {}) {
  const errors: string[] = [];
  const http1 = createHttp1Server({
    limits: { ...LIMITS, ...limits },
    onRequest: answer,
    onClientError: (kind) => errors.push(kind),
  });
  http1.server.listen(0, '127.0.0.1');
  await once(http1.server, 'listening');
  const address = http1.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { http1, port, errors };
}

async function stop(http1: Http1Server): Promise<void> {
  const closed = once(http1.server, 'close');
  http1.server.close();
  http1.closeAll();
  http1.stop();
  await closed;
}

/** Everything the server sends on one connection after `text`, until it closes. */
async function exchange(port: number, text: string | string[], endAfterWrite = false): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  for (const part of Array.isArray(text) ? text : [text]) socket.write(part);
  if (endAfterWrite) socket.end();
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

/** Reads responses off an open connection until `count` bodies ended with the given marker arrived. */
async function readUntil(socket: Socket, done: (text: string) => boolean): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => (done(text) ? resolve(text) : reject(new Error(`closed after: ${text}`))));
  });
}

/** The statuses a connection got after sending `first`, then `drip` every 50 ms until the server closed it. */
async function statusesWhileDripping(port: number, first: string, drip: string): Promise<number[]> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  if (first !== '') socket.write(first);
  const dripping = setInterval(() => socket.write(drip), 50);
  await once(socket, 'close');
  clearInterval(dripping);
  return statuses(Buffer.concat(chunks).toString('latin1'));
}

const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));

describe('HTTP/1.1 transport', () => {
  let server: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await stop(server.http1);
  });

  it('answers pipelined requests in order, even when an earlier answer comes later', async () => {
    const socket = connect(server.port, '127.0.0.1');
    socket.write(
      'GET /later/one HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/two HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /later/three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const text = await readUntil(socket, (seen) => seen.includes('GET three'));
    await once(socket, 'close');
    expect(text.indexOf('GET one')).toBeLessThan(text.indexOf('GET two'));
    expect(text.indexOf('GET two')).toBeLessThan(text.indexOf('GET three'));
    expect(statuses(text)).toEqual([200, 200, 200]);
    expect(text).toMatch(/Connection: close\r\n\r\nGET three$/);
    expect(text).toMatch(/^Date: .+ GMT\r$/m);
  });

  it('stops reading from a client that floods pipelined requests while one is in progress', async () => {
    const socket = connect(server.port, '127.0.0.1');
    const held = once(holds, 'held');
    socket.write('GET /hold/first HTTP/1.1\r\nHost: x\r\n\r\n');
    const [release] = (await held) as [() => void];
    const count = 4000; // ~6 MB: more than the server may hold unparsed, and than loopback buffers take
    socket.write(`GET /echo/next HTTP/1.1\r\nHost: x\r\nPad: ${'p'.repeat(1500)}\r\n\r\n`.repeat(count));
    // Paused, the server leaves the requests in its kernel receive queue.
    const local = socket.localPort;
    let unread = 0;
    for (let tries = 0; tries < 250 && unread < 64 * 1024; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const line = execFileSync('ss', ['-tnH', 'state', 'established', `( dport = :${local} )`]).toString();
      unread = Number(line.trim().split(/\s+/)[0] ?? 0);
    }
    expect(unread).toBeGreaterThanOrEqual(64 * 1024);
    release();
    const text = await readUntil(socket, (seen) => seen.split('GET next').length - 1 === count);
    expect(text.indexOf('GET first')).toBeLessThan(text.indexOf('GET next'));
    socket.destroy();
  });

  it('keeps HTTP/1.0 connections only when asked, and says so', async () => {
    const closed = await exchange(server.port, 'GET /echo/a HTTP/1.0\r\n\r\n');
    expect(closed).toMatch(/Connection: close\r\n/);
    const socket = connect(server.port, '127.0.0.1');
    socket.write('GET /echo/b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n');
    const first = await readUntil(socket, (seen) => seen.endsWith('GET b'));
    expect(first).toMatch(/Connection: keep-alive\r\n/);
    socket.write('GET /echo/c HTTP/1.0\r\n\r\n');
    const second = await readUntil(socket, (seen) => seen.endsWith('GET c'));
    expect(second).toMatch(/Connection: close\r\n/);
    await once(socket, 'close');
  });

  it('accepts bare-LF line ends and empty lines before a request', async () => {
    const text = await exchange(
      server.port,
      '\r\n\r\nGET /echo/lf HTTP/1.1\nHost: x\nIf-None-Match: n\nConnection: close\n\n',
    );
    expect(statuses(text)).toEqual([200]);
    expect(text.endsWith('GET lf n')).toBe(true);
  });

  it('drops fields it does not act on, after checking them', async () => {
    const text = await exchange(
      server.port,
      'GET /echo/d HTTP/1.1\r\nHost: x\r\nX-Other: 1\r\nConnection: close\r\n\r\n',
    );
    expect(text.endsWith('GET d')).toBe(true);
    const bad = await exchange(server.port, 'GET /echo/d HTTP/1.1\r\nHost: x\r\nX-Other: a\x7fb\r\n\r\n');
    expect(statuses(bad)).toEqual([400]);
  });

  it('joins repeated fields and trims optional whitespace', async () => {
    const text = await exchange(
      server.port,
      'GET /echo/j HTTP/1.1\r\nHost: x\r\nIf-None-Match:  a \t\r\nif-none-match: b\r\nConnection: close\r\n\r\n',
    );
    expect(text.endsWith('GET j a, b')).toBe(true);
  });

  it('answers HEAD without a body', async () => {
    const text = await exchange(server.port, 'HEAD /echo/h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(text).toMatch(/Content-Length: 6\r\n/);
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });

  it('finishes the response to a client that half-closed after its request', async () => {
    const text = await exchange(server.port, 'GET /later/half HTTP/1.1\r\nHost: x\r\n\r\n', true);
    expect(text.endsWith('GET half')).toBe(true);
  });

  it('closes after the last response without waiting for the client to close its side', async () => {
    // A client that keeps its side open: the server's FIN comes right after the whole response.
    const socket = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.write('GET /echo/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await once(socket, 'end');
    expect(Buffer.concat(chunks).toString('latin1')).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: close\r\n[\s\S]*GET last$/,
    );
    // The server holds no half-open connection waiting for this client's FIN.
    expect(server.http1.connections).toBe(0);
    socket.destroy();
  });

  it('reads and discards a small body, so bytes in it are never taken for a request', async () => {
    const smuggled = 'GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const text = await exchange(
      server.port,
      `GET /echo/first HTTP/1.1\r\nHost: x\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}` +
        'GET /echo/second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statuses(text)).toEqual([200, 200]);
    expect(text).toContain('GET first');
    expect(text).toContain('GET second');
    expect(text).not.toContain('smuggled');
  });

  it('refuses what it cannot frame safely and closes: Transfer-Encoding, large bodies', async () => {
    const chunked = await exchange(
      server.port,
      'GET /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /echo/b HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(statuses(chunked)).toEqual([501]);
    expect(chunked).toMatch(/Connection: close/);
    const large = await exchange(server.port, 'GET /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
    expect(statuses(large)).toEqual([413]);
  });

  it.each([
    ['obsolete line folding', 'GET /echo/a HTTP/1.1\r\nHost: x\r\nIf-None-Match: a\r\n b\r\n\r\n', 400, 'folding'],
    ['no Host in HTTP/1.1', 'GET /echo/a HTTP/1.1\r\n\r\n', 400, 'Host'],
    ['two Host fields', 'GET /echo/a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', 400, 'Host'],
    ['space before the colon', 'GET /echo/a HTTP/1.1\r\nHost : x\r\n\r\n', 400, 'not a token'],
    [
      'a control character in a value',
      'GET /echo/a HTTP/1.1\r\nHost: x\r\nIf-None-Match: a\x01b\r\n\r\n',
      400,
      'control',
    ],
    ['a bare CR', 'GET /echo/a HTTP/1.1\r\nHost: x\rIf-None-Match: a\r\n\r\n', 400, 'bare CR'],
    [
      'conflicting Content-Length',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      400,
      'Content-Length',
    ],
    ['a non-numeric Content-Length', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400, 'Content-Length'],
    ['Transfer-Encoding in HTTP/1.0', 'GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'HTTP/1.0'],
    ['a raw non-ASCII byte in the target', 'GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'non-ASCII'],
    ['a request line with two spaces', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'target'],
    ['a garbage request line', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 400, 'request line'],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505, 'HTTP/1.1'],
  ])('answers %s with an error status and closes', async (_what, request, status, reason) => {
    const before = server.errors.length;
    const text = await exchange(server.port, request);
    expect(statuses(text)).toEqual([status]);
    expect(text).toMatch(/Connection: close\r\n/);
    expect(text.slice(text.indexOf('\r\n\r\n'))).toContain(reason);
    expect(server.errors.length).toBe(before + 1);
  });

  it('answers 431 to a head larger than the limit, whether or not it is complete', async () => {
    const long = `GET /echo/a HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${'a'.repeat(3000)}`;
    expect(statuses(await exchange(server.port, long))).toEqual([431]);
    expect(statuses(await exchange(server.port, `${long}\r\n\r\n`))).toEqual([431]);
  });

  it('refuses a response field that would split the response', async () => {
    const text = await exchange(server.port, 'GET /bad-field/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statuses(text)).toEqual([500]);
    expect(text).not.toContain('Set-Cookie');
  });

  it('answers 408 to a request whose head does not arrive in time, byte by byte or not', async () => {
    // keep sending a byte at a time: activity must not extend the time a head may take
    expect(await statusesWhileDripping(server.port, 'GET /echo/a HTTP/1.1\r\n', 'X')).toEqual([408]);
  });

  it('answers 408 to a request whose body trickles in, however often a byte arrives', async () => {
    // Every 50 ms a byte: never quiet for the timeout, so only a clock over the whole request ends it.
    const head = 'GET /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n';
    expect(await statusesWhileDripping(server.port, head, 'X')).toEqual([408]);
  });

  it('answers 408 to a client that sends only empty lines', async () => {
    expect(await statusesWhileDripping(server.port, '', '\r\n')).toEqual([408]);
  });

  it('closes a keep-alive connection idle for longer than the keep-alive timeout', async () => {
    const socket = connect(server.port, '127.0.0.1');
    socket.write('GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n');
    await readUntil(socket, (seen) => seen.endsWith('GET a'));
    const started = Date.now();
    await once(socket, 'close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(LIMITS.keepAliveTimeoutMs - 50);
  });
});

describe('HTTP/1.1 transport limits', () => {
  it('closes connections from one address beyond maxConnectionsPerIp, and serves other addresses', async () => {
    const { http1, port } = await start({ maxConnectionsPerIp: 2 });
    const open = async (localAddress: string) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress });
      await once(socket, 'connect');
      return socket;
    };
    const served = async (socket: Socket) => {
      socket.write('GET /echo/ok HTTP/1.1\r\nHost: x\r\n\r\n');
      return readUntil(socket, (seen) => seen.endsWith('GET ok'));
    };
    const [first, second] = [await open('127.0.0.1'), await open('127.0.0.1')];
    await served(first);
    const third = await open('127.0.0.1');
    third.on('data', () => expect.unreachable('a refused connection got an answer'));
    third.write('GET /echo/no HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(third, 'close');
    expect(http1.refusedConnections).toBe(1);
    // Another address is not affected, and a closed connection frees its address's place.
    expect(await served(await open('127.0.0.2'))).toContain('200');
    second.destroy();
    await once(second, 'close');
    await expect.poll(() => http1.connections).toBe(2);
    expect(await served(await open('127.0.0.1'))).toContain('200');
    await stop(http1);
  });

  it('closes after maxRequestsPerSocket requests, saying so on the last response', async () => {
    const { http1, port } = await start({ maxRequestsPerSocket: 2 });
    const text = await exchange(
      port,
      'GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/b HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/c HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(statuses(text)).toEqual([200, 200]);
    expect(text).toMatch(/Connection: close\r\n\r\nGET b$/);
    await stop(http1);
  });

  it('closeIdle closes idle connections at once and busy ones after their response', async () => {
    const { http1, port } = await start({ keepAliveTimeoutMs: 60_000 });
    const idle = connect(port, '127.0.0.1');
    idle.write('GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\n');
    await readUntil(idle, (seen) => seen.endsWith('GET a'));
    const busy = connect(port, '127.0.0.1');
    const held = once(holds, 'held');
    busy.write('GET /hold/b HTTP/1.1\r\nHost: x\r\n\r\n');
    const busyText = readUntil(busy, (seen) => seen.endsWith('GET b'));
    const [release] = (await held) as [() => void];
    http1.closeIdle();
    await once(idle, 'close');
    expect(busy.destroyed).toBe(false);
    release();
    await Promise.all([busyText, once(busy, 'close')]);
    await stop(http1);
  });
});

/** A socket that takes what the server writes: to feed a connection bytes split exactly as a test wants. */
class StandInSocket extends EventEmitter {
  remoteAddress = '192.0.2.1';
  destroyed = false;
  writableLength = 0;
  writableHighWaterMark = 16384;
  bytesRead = 0;
  bytesWritten = 0;
  output = '';
  setNoDelay() {}
  cork() {}
  uncork() {}
  pause() {}
  resume() {}
  end() {
    this.destroyed = true;
  }
  destroy() {
    this.destroyed = true;
  }
  write(chunk: string | Uint8Array, encodingOrDone?: unknown, done?: () => void): boolean {
    this.output += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1');
    if (typeof encodingOrDone === 'function') encodingOrDone();
    else done?.();
    return true;
  }
}

describe('HTTP/1.1 parsing of split input', () => {
  // Pipelined requests with what makes framing hard: bodies that look like requests, bare LF line ends,
  // empty lines between requests, a HEAD, an HTTP/1.0 keep-alive, repeated fields.
  const requests = [
    'GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /echo/two HTTP/1.1\r\nHost: x\r\nContent-Length: 38\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    '\r\n\nGET /echo/three HTTP/1.1\nHost: x\nIf-None-Match: "a"\nIf-None-Match: "b"\n\n',
    'HEAD /echo/four HTTP/1.1\r\nHost: x\r\nX-Long: '.concat('v'.repeat(700), '\r\n\r\n'),
    'GET /echo/five HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    'GET /echo/six HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ].join('');

  async function answers(chunks: string[]): Promise<string> {
    const { http1 } = await start({ keepAliveTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
    const socket = new StandInSocket();
    http1.server.emit('connection', socket);
    for (const chunk of chunks) {
      socket.emit('data', Buffer.from(chunk, 'latin1'));
      // Pipelined requests are parsed a microtask after the previous answer.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await stop(http1);
    return socket.output.replace(/^Date: .*\r\n/gm, '');
  }

  it('answers the same however TCP splits the bytes', async () => {
    const whole = await answers([requests]);
    expect(statuses(whole)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(whole).not.toContain('smuggled');
    expect(whole).toContain('GET three "a", "b"');
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 40; trial += 1) {
      const chunks: string[] = [];
      for (let at = 0; at < requests.length; ) {
        const size = 1 + Math.floor(random() * (trial < 5 ? 2 : 120));
        chunks.push(requests.slice(at, at + size));
        at += size;
      }
      expect(await answers(chunks), `split into ${chunks.length} chunks`).toBe(whole);
    }
  });
});

describe('HTTP/1.1 parsing of mutated input', () => {
  it('answers mutated requests with a status line or closes, and never throws', async () => {
    const { http1, errors } = await start();
    const base = Buffer.from(
      'GET /echo/a HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nContent-Length: 3\r\n\r\nabcGET /echo/b HTTP/1.1\r\nHost: y\r\n\r\n',
      'latin1',
    );
    let seed = 11;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const special = [0, 9, 10, 13, 32, 58, 127, 255, 0x2c, 0x22];
    for (let trial = 0; trial < 2000; trial += 1) {
      const bytes = Buffer.from(base);
      for (let edits = 1 + random(4); edits > 0; edits -= 1) {
        bytes[random(bytes.length)] = random(2) === 0 ? special[random(special.length)]! : random(256);
      }
      const socket = new StandInSocket();
      http1.server.emit('connection', socket);
      const cut = random(bytes.length);
      socket.emit('data', bytes.subarray(0, cut));
      socket.emit('data', bytes.subarray(cut));
      await new Promise((resolve) => setImmediate(resolve));
      socket.emit('end');
      for (const line of socket.output.split('\r\n\r\n')[0]!.split('\r\n').slice(0, 1)) {
        if (line !== '')
          expect(line, JSON.stringify(bytes.toString('latin1'))).toMatch(/^HTTP\/1\.1 \d{3} [A-Za-z ]+$/);
      }
    }
    // Mutations that broke the framing were answered 4xx/5xx and counted, never thrown.
    expect(errors.length).toBeGreaterThan(20);
    for (const kind of new Set(errors)) expect(['malformed', 'unsupported']).toContain(kind);
    await stop(http1);
  });
});

describe('adoptWithReadBuffer', () => {
  // The server's reads go into its own buffer through Node internals (see adoptWithReadBuffer). If a Node
  // release changes them, connections still work through 'data' events, and this test says so.
  it('moves an accepted connection onto a socket that reads into the given buffer', async () => {
    const buffer = Buffer.alloc(1024);
    const reads: string[] = [];
    const adopted: Socket[] = [];
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (accepted) => {
      const socket = adoptWithReadBuffer(accepted, buffer, (length) =>
        reads.push(buffer.toString('latin1', 0, length)),
      );
      adopted.push(socket);
      socket.on('end', () => socket.end('bye'));
      expect(socket).not.toBe(accepted);
      expect(accepted.destroyed).toBe(true);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    const client = connect(typeof address === 'object' && address !== null ? address.port : 0, '127.0.0.1');
    client.end('hello');
    const [answer] = (await once(client, 'data')) as [Buffer];
    expect(answer.toString()).toBe('bye');
    expect(reads.join('')).toBe('hello');
    expect(adopted).toHaveLength(1);
    expect(adopted[0]?.bytesRead).toBe(5);
    // The husk no longer counts as one of net.Server's connections: close() does not wait for it.
    await once(client, 'close');
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  it('leaves a socket without a libuv handle as it is', () => {
    const socket = new Socket();
    expect(adoptWithReadBuffer(socket, Buffer.alloc(16), () => {})).toBe(socket);
    socket.destroy();
  });
});

describe('parseHead', () => {
  it('parses a request with absolute-form target and lower-cases names', () => {
    const parsed = parseHead('GET http://h/objects/x HTTP/1.1\r\nHOST: h\r\nRange: bytes=0-1');
    expect(parsed).toEqual({
      kind: 'request',
      request: {
        method: 'GET',
        url: 'http://h/objects/x',
        headers: { host: 'h', range: 'bytes=0-1' },
        minorVersion: 1,
      },
      bodyLength: 0,
    });
    expect(parsed.kind === 'request' && parsed.request.headers).toBeInstanceOf(RequestFields);
  });

  it('checks each new target, a repeated good one by comparison, and never lets an empty or bad one through', () => {
    const kind = (head: string) => parseHead(head).kind;
    const good = `/objects/x?__token__=${'a'.repeat(200)}`;
    expect(kind(`GET ${good} HTTP/1.1\r\nHost: h`)).toBe('request');
    expect(kind(`GET ${good} HTTP/1.1\r\nHost: h`)).toBe('request');
    expect(kind(`GET ${good}\x7f HTTP/1.1\r\nHost: h`)).toBe('error');
    expect(kind(`GET /\u00e9 HTTP/1.1\r\nHost: h`)).toBe('error');
    expect(kind(`GET  HTTP/1.1\r\nHost: h`)).toBe('error');
    expect(kind(`GET ${good} HTTP/1.1\r\nHost: h`)).toBe('request');
  });
});

describe('HTTP/1.1 transport, responses reported', () => {
  it('reports each response with its start and end: the start as its end when answered in the turn it came in', async () => {
    const ended: Array<{ url: string | undefined; startedAt: number; endedAt: number }> = [];
    const http1 = createHttp1Server({
      limits: LIMITS,
      onRequest: answer,
      onResponseEnd: (request, _status, _bytes, _socket, startedAt, endedAt) =>
        ended.push({ url: request?.url, startedAt, endedAt }),
    });
    http1.server.listen(0, '127.0.0.1');
    await once(http1.server, 'listening');
    const address = http1.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    // Held 5 ms: its end is read anew (a later turn), not its start.
    holds.once('held', (send: () => void) => setTimeout(send, 5));
    const text = await exchange(
      port,
      'GET /echo/a HTTP/1.1\r\nHost: x\r\n\r\nGET /hold/b HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(statuses(text)).toEqual([200, 200, 200]);
    await stop(http1);
    expect(ended.map((e) => e.url)).toEqual(['/echo/a', '/hold/b', '/echo/c']);
    const [a, b] = ended;
    expect(a?.startedAt).toBeGreaterThan(0);
    expect(a?.endedAt).toBe(a?.startedAt);
    expect((b?.endedAt ?? 0) - (b?.startedAt ?? 0)).toBeGreaterThanOrEqual(4);
  });
});

describe('HTTP/1.1 transport: a chunk handed to end() with taken and settled', () => {
  it('calls settled with the chunk for GET and HEAD alike (a lent span is given back), taken once written', async () => {
    const calls: string[] = [];
    const chunk = Buffer.from('lent bytes');
    const http1 = createHttp1Server({
      limits: LIMITS,
      onRequest: (request, response) => {
        response.writeHead(200, ['Content-Length', String(chunk.length)]);
        response.end(
          chunk,
          () => calls.push(`${request.method} taken`),
          (given) => calls.push(`${request.method} settled ${given === chunk}`),
        );
      },
    });
    http1.server.listen(0, '127.0.0.1');
    await once(http1.server, 'listening');
    const { port } = http1.server.address() as { port: number };
    try {
      const get = await exchange(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
      expect(get.endsWith('\r\n\r\nlent bytes')).toBe(true);
      const head = await exchange(port, 'HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
      expect(head.endsWith('\r\n\r\n')).toBe(true);
      expect(calls).toEqual(['GET taken', 'GET settled true', 'HEAD taken', 'HEAD settled true']);
    } finally {
      await stop(http1);
    }
  });
});
