// Per-connection floors for scripts/bench/tracker-conn-floor.sh: a server that reads one request and
// answers a fixed 360-byte bencoded body with `Connection: close`, then closes, in one of several ways.
// usage: node scripts/bench/tracker-conn-floor.mjs VARIANT PORT
//   net            net.createServer, end() after the answer
//   net-destroy    allowHalfOpen + noDelay, write() then destroy()
//   net-pause      the same with pauseOnConnect (as src/http/http1.ts accepts)
//   http1          src/http/http1.ts (dist/), read buffer adopted (the range server's way)
//   http1-handoff  src/http/http1.ts with handOff set (the tracker's way before raw accepting)
//   raw            process.binding('tcp_wrap') handles: write, close
//   raw-shutdown   the same, but write, shutdown, close on the client's FIN
//   rawnet         net.Server listening (reusePort), accepts taken over by src/http/raw-accept.ts (dist/)
import net from 'node:net';

const variant = process.argv[2];
const port = Number(process.argv[3]);
const BODY = Buffer.from('d8:completei20e10:incompletei80e8:intervali1800e5:peers300:' + 'x'.repeat(300) + 'e');
const RESP = Buffer.concat([
  Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n`,
  ),
  BODY,
]);
const complete = (b) => b.indexOf('\r\n\r\n') >= 0;
if (variant === 'net') {
  net
    .createServer((s) => {
      s.on('data', (d) => {
        if (complete(d)) s.end(RESP);
      });
      s.on('error', () => {});
    })
    .listen(port, '127.0.0.1');
} else if (variant === 'net-destroy') {
  net
    .createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
      s.on('data', (d) => {
        if (complete(d)) {
          s.write(RESP);
          s.destroy();
        }
      });
      s.on('error', () => {});
    })
    .listen(port, '127.0.0.1');
} else if (variant === 'net-pause') {
  net
    .createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (s) => {
      s.on('data', (d) => {
        if (complete(d)) {
          s.write(RESP);
          s.destroy();
        }
      });
      s.on('error', () => {});
      s.resume();
    })
    .listen(port, '127.0.0.1');
} else if (variant === 'raw' || variant === 'raw-shutdown') {
  const { TCP, constants } = process.binding('tcp_wrap');
  const { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError, kArrayBufferOffset, kLastWriteWasAsync } =
    process.binding('stream_wrap');
  const server = new TCP(constants.SERVER);
  let err = server.bind('127.0.0.1', port);
  if (err) throw new Error('bind ' + err);
  const closeOnComplete = function () {
    this.handle.close();
  };
  function onread(ab) {
    const n = streamBaseState[kReadBytesOrError];
    if (n < 0) {
      this.close();
      return;
    }
    if (n === 0) return;
    const off = streamBaseState[kArrayBufferOffset];
    const buf = Buffer.from(ab, off, n);
    if (!complete(buf)) return;
    const req = new WriteWrap();
    req.handle = this;
    req.oncomplete = closeOnComplete;
    req.async = false;
    const e = this.writeBuffer(req, RESP);
    if (e) {
      this.close();
      return;
    }
    if (streamBaseState[kLastWriteWasAsync]) return; // closed by oncomplete
    if (variant === 'raw-shutdown') {
      const sr = new ShutdownWrap();
      sr.handle = this;
      sr.oncomplete = () => {};
      this.shutdown(sr);
    } else this.close();
  }
  server.onconnection = (e, client) => {
    if (e) return;
    client.onread = onread;
    client.setNoDelay?.(true);
    client.readStart();
  };
  err = server.listen(511);
  if (err) throw new Error('listen ' + err);
}
if (variant.startsWith('http1')) {
  const { createHttp1Server } = await import(new URL('../../dist/src/http/http1.js', import.meta.url).href);
  const limits = {
    maxHeaderSize: 16384,
    requestTimeoutMs: 10000,
    keepAliveTimeoutMs: 30000,
    idleTimeoutMs: 30000,
    maxRequestsPerSocket: 0,
    maxConnections: 10000,
    maxConnectionsPerIp: 10000,
  };
  const F = ['Content-Type', 'text/plain'];
  const s = createHttp1Server({
    limits,
    onRequest: (_req, res) => {
      res.writeHead(200, F, `Content-Length: ${BODY.length}\r\n`);
      res.end(BODY);
    },
    ...(variant === 'http1-handoff' ? { handOff: () => false, onHandOff: () => {} } : {}),
  });
  s.server.listen(port, '127.0.0.1');
}
if (variant === 'rawnet') {
  // net.Server listens (reusePort: several processes on one port), its accept callback taken over.
  const { takeOverAccepts } = await import(new URL('../../dist/src/http/raw-accept.js', import.meta.url).href);
  const s = net.createServer();
  s.listen({ port, host: '127.0.0.1', reusePort: true }, () => {
    takeOverAccepts(s, {
      admit: () => true,
      first: (bytes, c) => {
        if (!complete(bytes)) return false;
        c.reply(RESP);
        return true;
      },
      adopt: (socket) => socket.destroy(),
      closed: () => {},
    });
  });
}
