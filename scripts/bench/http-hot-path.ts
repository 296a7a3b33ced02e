// The JavaScript cost of answering one 16 KiB range, without the network: the agent's HTTP server over a
// real store and piece cache (warm), fed requests through a stand-in socket that takes writes and drops
// them. It isolates what the server's own code costs per request (parsing, route, preconditions, range,
// cache lookup, head rendering) from the kernel and from Node's stream machinery, which http.sh measures.
// With VARIANTS (default "none"), the same requests go, round by round, to servers with the features of
// issues 17 and 22 on: qos (limits configured, not binding), token (a signed URL token required; every
// request carries one), acct (an accounting record per response), slab (the serving threads' shared piece
// cache instead of the one-thread cache), entry (accounting's entry made and dropped: the server's side
// alone); each variant's median and lowest round against none's. An acct round ends with its log flushed,
// so that the writer thread's work for the round's records is counted in it.
// usage: node scripts/bench/http-hot-path.ts [SIZE_MIB=64] [REQUESTS_PER_ROUND=200000] [VARIANTS=none]
//   e.g. node scripts/bench/http-hot-path.ts 64 200000 none,qos,token,acct
//   env: ROUNDS (default 5); TASKS=1 prints each thread's user and system ticks (10 ms) per round (the
//   accounting writer's included); INTERLEAVE=1: the variants take turns every 64 requests within each
//   round, each batch timed (serving thread only), for a loaded machine where whole rounds land in
//   different moments. RING_BYTES: the accounting ring's size (default the log's).
import { type KeyObject, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountingLog, AccountingRecorder } from '../../src/accounting/index.ts';
import { KeyRing, signToken, UrlGate } from '../../src/auth/index.ts';
import { createHashPool } from '../../src/hashing/index.ts';
import { createHttpServer, type HttpServerOptions } from '../../src/http/index.ts';
import { Qos, resolveQos } from '../../src/qos/index.ts';
import { createPieceCache, createPieceSlab, createSharedPieceCache, openStore } from '../../src/store/index.ts';
import { ingestRandomObject } from './random-object.ts';

/** Takes what the server writes (counting bytes) and never pushes back. */
class StandInSocket extends EventEmitter {
  // The server admits connections by client address (per-address limits) and refuses one without.
  remoteAddress = '127.0.0.1';
  remotePort = 50000;
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

function tasks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${tid}:${name}:u`, Number(f[11]));
      out.set(`${tid}:${name}:s`, Number(f[12]));
    } catch {}
  }
  return out;
}
function taskDelta(a: Map<string, number>, b: Map<string, number>): string {
  return [...b]
    .map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
const sizeMib = Number(process.argv[2] ?? 64);
const perRound = Number(process.argv[3] ?? 200_000);
const variants = (process.argv[4] ?? 'none').split(',');
/** Rounds per variant (ROUNDS, default 5): on a shared machine the lowest round is the steadier figure. */
const rounds = Number(process.env.ROUNDS ?? 5);
const QOS = { rate: 1e11, httpRate: 1e11, objectRate: 1e11, clientRate: 1e11, classes: 'gold:3,bronze:1' };
const PIECE = 1024 * 1024;
const RANGE = 16 * 1024;

const dir = await mkdtemp(join(tmpdir(), 'edgepeer-hot-path-'));
const store = await openStore(join(dir, 'store'), { mode: 'write' });
const pool = createHashPool();
try {
  const object = await ingestRandomObject(store, pool, sizeMib, PIECE);
  const { metainfo } = object;
  const length = sizeMib * PIECE;
  const cache = createPieceCache(store, {
    maxBytes: 2 * length,
    verify: (data, expected) => pool.verify(data, expected),
  });
  for (let piece = 0; piece < metainfo.pieceCount; piece += 1) await cache.getPiece(object.infoHash, piece);

  await writeFile(join(dir, 'key'), randomBytes(32).toString('hex'));
  const keys = await KeyRing.load([{ id: 'k1', file: join(dir, 'key') }]);
  const token = signToken(
    { expires: Math.floor(Date.now() / 1000) + 3600, paths: [`/objects/${object.infoHash}/`], keyId: 'k1' },
    keys.get('k1') as KeyObject,
  );
  const closers: Array<() => unknown> = [];
  /** Per variant, what ends its round: the accounting writer's work for the round's records is the round's. */
  const settlers = new Map<string, () => Promise<void>>();
  async function featuresOf(variant: string): Promise<Partial<HttpServerOptions>> {
    if (variant === 'none') return {};
    if (variant === 'qos') {
      const qos = new Qos(resolveQos(QOS));
      closers.push(() => qos.stop());
      return { qos };
    }
    if (variant === 'token') return { gate: new UrlGate({ keys }) };
    if (variant === 'slab') {
      // The serving threads' cache (http.threads): the shared slab, filled as the one-thread cache is.
      const slabCache = createSharedPieceCache(store, {
        slab: createPieceSlab({ maxBytes: 2 * length, slotBytes: PIECE }),
        verify: (data, expected) => pool.verify(data, expected),
      });
      for (let piece = 0; piece < metainfo.pieceCount; piece += 1) await slabCache.getPiece(object.infoHash, piece);
      return { cache: slabCache };
    }
    if (variant === 'acct') {
      const ringBytes = process.env.RING_BYTES === undefined ? {} : { ringBytes: Number(process.env.RING_BYTES) };
      const log = await AccountingLog.open({ dir: join(dir, 'accounting'), agent: 'hot-path', ...ringBytes });
      closers.push(() => log.close());
      settlers.set(variant, () => log.flush());
      const recorder = new AccountingRecorder(log);
      return { onResponse: (entry) => recorder.httpResponse(entry) };
    }
    // The server's side of accounting alone: each response's entry made and handed to a hook that drops it.
    if (variant === 'entry') return { onResponse: () => {} };
    throw new Error(`unknown variant ${variant} (none, qos, token, acct, entry, slab)`);
  }

  const handles = () => (process as unknown as { _getActiveHandles(): EventEmitter[] })._getActiveHandles();
  const lanes: Array<{
    variant: string;
    socket: StandInSocket;
    requests: Buffer[];
    ns: number[];
    allNs: number[];
    close: () => Promise<void>;
  }> = [];
  for (const variant of variants) {
    const before = new Set(handles());
    const server = createHttpServer({
      store,
      cache,
      host: '127.0.0.1',
      port: 0,
      policy: 'refuse',
      ...(await featuresOf(variant)),
    });
    await server.listen();
    // The listening net.Server, to hand it a stand-in connection.
    const netServer = handles().find((handle) => !before.has(handle) && handle.constructor.name === 'Server');
    if (netServer === undefined) throw new Error('no listening server found');
    const socket = new StandInSocket();
    netServer.emit('connection', socket);
    const query = variant === 'token' ? `?__token__=${token}` : '';
    const requests = Array.from({ length: 4096 }, (_, i) => {
      const first = ((i * 7919) % (length / RANGE)) * RANGE;
      return Buffer.from(
        `GET /objects/${object.infoHash}/object.bin${query} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n` +
          `Range: bytes=${first}-${first + RANGE - 1}\r\n\r\n`,
      );
    });
    lanes.push({
      variant,
      socket,
      requests,
      ns: [],
      allNs: [],
      close: async () => {
        socket.destroy();
        await server.close(0);
      },
    });
  }
  if (process.env.INTERLEAVE === '1') {
    // The variants take turns every 64 requests, each batch timed on its own: a loaded, shared machine
    // slows them alike, where a round of one variant and a round of the next may land in different moments.
    for (let round = 1; round <= rounds; round += 1) {
      const cpuNs = lanes.map(() => 0);
      for (let batch = 0; batch < perRound; batch += 64) {
        // Which goes first alternates, so that none pays for what the one before it left (GC, caches).
        for (let k = 0; k < lanes.length; k += 1) {
          const l = (batch / 64) % 2 === 0 ? k : lanes.length - 1 - k;
          const lane = lanes[l]!;
          const before = process.threadCpuUsage();
          for (let i = batch; i < batch + 64; i += 1) lane.socket.emit('data', lane.requests[i & 4095]);
          await new Promise((resolve) => setImmediate(resolve));
          const cpu = process.threadCpuUsage(before);
          cpuNs[l]! += (cpu.user + cpu.system) * 1000;
        }
      }
      for (let l = 0; l < lanes.length; l += 1) {
        const lane = lanes[l]!;
        const ns = cpuNs[l]! / perRound;
        lane.ns.push(ns);
        lane.allNs.push(ns);
        console.log(`round ${round} ${lane.variant}: ${ns.toFixed(0)} ns CPU per request on the serving thread`);
      }
    }
  }
  for (let round = 1; round <= (process.env.INTERLEAVE === '1' ? 0 : rounds); round += 1) {
    for (const lane of lanes) {
      // CPU time, not wall time: on a shared machine the wall clock also counts the time others ran. The
      // serving thread's (what limits requests per second) and the process's (other threads too: the
      // accounting writer, libuv's pool).
      const tasksBefore = tasks();
      const before = { written: lane.socket.written, cpu: process.threadCpuUsage(), all: process.cpuUsage() };
      for (let i = 0; i < perRound; i += 1) {
        lane.socket.emit('data', lane.requests[i & 4095]);
        if ((i & 63) === 63) await new Promise((resolve) => setImmediate(resolve));
      }
      // Every record of the round written (and synced) before its CPU is read, so that none is counted
      // in the next lane's round.
      await settlers.get(lane.variant)?.();
      const cpu = process.threadCpuUsage(before.cpu);
      if (process.env.TASKS === '1') console.log(lane.variant, taskDelta(tasksBefore, tasks()));
      const all = process.cpuUsage(before.all);
      const ns = ((cpu.user + cpu.system) * 1000) / perRound;
      const allNs = ((all.user + all.system) * 1000) / perRound;
      const bytes = (lane.socket.written - before.written) / perRound;
      lane.ns.push(ns);
      lane.allNs.push(allNs);
      console.log(
        `round ${round} ${lane.variant}: ${ns.toFixed(0)} ns CPU per request on the serving thread (${allNs.toFixed(0)} ns all threads), ${bytes.toFixed(0)} bytes written per request`,
      );
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const none = lanes.find((lane) => lane.variant === 'none');
  const lowest = (values: number[]) => Math.min(...values);
  for (const lane of lanes) {
    const m = median(lane.ns);
    const against =
      none === undefined || lane === none
        ? ''
        : `, ${(m - median(none.ns)).toFixed(0)} ns more than none (none/${lane.variant} ${(median(none.ns) / m).toFixed(2)}x)`;
    const all = median(lane.allNs);
    const allAgainst =
      none === undefined || lane === none ? '' : ` (none/${lane.variant} ${(median(none.allNs) / all).toFixed(2)}x)`;
    console.log(
      `${lane.variant}: median ${m.toFixed(0)} ns CPU per request on the serving thread${against}; all threads ${all.toFixed(0)} ns${allAgainst}`,
    );
    if (none !== undefined && lane !== none) {
      const [low, lowAll, noneLow, noneLowAll] = [
        lowest(lane.ns),
        lowest(lane.allNs),
        lowest(none.ns),
        lowest(none.allNs),
      ];
      console.log(
        `${lane.variant}: lowest round ${low.toFixed(0)} ns on the serving thread (+${(low - noneLow).toFixed(0)} ns, none/${lane.variant} ${(noneLow / low).toFixed(2)}x); all threads ${lowAll.toFixed(0)} ns (+${(lowAll - noneLowAll).toFixed(0)} ns, ${(noneLowAll / lowAll).toFixed(2)}x)`,
      );
    }
  }
  if (none !== undefined) {
    // Paired by round (with INTERLEAVE=1 the same moments): steadier than the difference of the medians.
    for (const lane of lanes) {
      if (lane === none) continue;
      const diffs = lane.ns.map((ns, i) => ns - none.ns[i]!);
      console.log(
        `${lane.variant}: per round ${diffs.map((d) => d.toFixed(0)).join(', ')} ns more than none; median ${median(diffs).toFixed(0)} ns`,
      );
    }
  }
  for (const lane of lanes) await lane.close();
  for (const close of closers) await close();
} finally {
  await pool.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
