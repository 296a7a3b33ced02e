// The JavaScript cost of answering one 16 KiB range, without the network: the agent's HTTP server over a
// real store and piece cache (warm), fed requests through a stand-in socket that takes writes and drops
// them. It isolates what the server's own code costs per request (parsing, route, preconditions, range,
// cache lookup, head rendering) from the kernel and from Node's stream machinery, which http.sh measures.
// usage: node scripts/bench/http-hot-path.ts [SIZE_MIB=64] [REQUESTS_PER_ROUND=200000]
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHashPool } from '../../src/hashing/index.ts';
import { createHttpServer } from '../../src/http/index.ts';
import { buildMetainfo } from '../../src/metainfo/index.ts';
import { createPieceCache, openStore } from '../../src/store/index.ts';

/** Takes what the server writes (counting bytes) and never pushes back. */
class StandInSocket extends EventEmitter {
  destroyed = false;
  writableLength = 0;
  writableHighWaterMark = 16384;
  bytesRead = 0;
  bytesWritten = 0;
  written = 0;
  setNoDelay() {}
  cork() {}
  uncork() {}
  pause() {}
  resume() {}
  end() {}
  destroy() {
    this.destroyed = true;
  }
  write(chunk: string | Uint8Array, encodingOrDone?: unknown, done?: (err?: Error | null) => void): boolean {
    this.written += chunk.length;
    if (typeof encodingOrDone === 'function') encodingOrDone();
    else done?.();
    return true;
  }
}

const sizeMib = Number(process.argv[2] ?? 64);
const perRound = Number(process.argv[3] ?? 200_000);
const PIECE = 1024 * 1024;
const RANGE = 16 * 1024;

const dir = await mkdtemp(join(tmpdir(), 'edgepeer-hot-path-'));
const store = await openStore(join(dir, 'store'), { mode: 'write' });
const pool = createHashPool();
try {
  const staging = await store.createStaging();
  const length = sizeMib * PIECE;
  await writeFile(join(staging, 'object.bin'), randomBytes(length));
  const pieceHashes = await pool.hashFiles([{ path: join(staging, 'object.bin'), length }], PIECE);
  const metainfo = buildMetainfo({
    name: 'object.bin',
    pieceLength: PIECE,
    multiFile: false,
    files: [{ path: [], length }],
    pieceHashes,
  });
  const object = await store.adoptStaging(staging, metainfo);
  const cache = createPieceCache(store, {
    maxBytes: 2 * length,
    verify: (data, expected) => pool.verify(data, expected),
  });
  for (let piece = 0; piece < metainfo.pieceCount; piece += 1) await cache.getPiece(object.infoHash, piece);

  const server = createHttpServer({ store, cache, host: '127.0.0.1', port: 0, policy: 'refuse' });
  await server.listen();
  // The listening net.Server, to hand it a stand-in connection.
  const netServer = (process as unknown as { _getActiveHandles(): EventEmitter[] })
    ._getActiveHandles()
    .find((handle) => handle.constructor.name === 'Server');
  if (netServer === undefined) throw new Error('no listening server found');
  const socket = new StandInSocket();
  netServer.emit('connection', socket);

  const requests = Array.from({ length: 4096 }, (_, i) => {
    const first = ((i * 7919) % (length / RANGE)) * RANGE;
    return Buffer.from(
      `GET /objects/${object.infoHash}/object.bin HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n` +
        `Range: bytes=${first}-${first + RANGE - 1}\r\n\r\n`,
    );
  });
  for (let round = 1; round <= 5; round += 1) {
    const before = { written: socket.written, started: process.hrtime.bigint() };
    for (let i = 0; i < perRound; i += 1) {
      socket.emit('data', requests[i & 4095]);
      if ((i & 63) === 63) await new Promise((resolve) => setImmediate(resolve));
    }
    const ns = Number(process.hrtime.bigint() - before.started) / perRound;
    const bytes = (socket.written - before.written) / perRound;
    console.log(`round ${round}: ${ns.toFixed(0)} ns per request, ${bytes.toFixed(0)} bytes written per request`);
  }
  socket.destroy();
  await server.close(0);
} finally {
  await pool.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
