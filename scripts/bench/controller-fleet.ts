// Issue 14: 1,000 edges against one controller, simulated in this one process with the real edge protocol
// (src/fleet/protocol.ts over HTTP): enrolment with one-time tokens, heartbeats, whole states, deltas,
// metainfo uploads when the controller asks (needMetainfo) and the command long poll, one connection pool
// per edge as src/fleet/link.ts has. Starts its own controller (`bin/run.js controller`, the build) and
// reference tracker (`bin/run.js tracker`), and runs a tiny HTTP tracker in this process as well: the
// controller announces to both.
//
// Measures, in order:
//   1. tokens: EDGES POST /v1/tokens on the admin API; enrolment: every edge enrols, sends its first
//      heartbeat, its whole state and the metainfo asked for (ENROL_CONCURRENCY edges at a time).
//   2. the controller's CPU (utime + stime from /proc/<pid>/stat, and per thread from /proc/<pid>/task) and
//      RSS over WINDOW_S seconds of steady heartbeats (HEARTBEAT_MS), once every object has been announced
//      to both trackers.
//   3. change to announce: CHANGES edges each send one delta adding a piece no edge had (the union gains
//      it), spread over CHANGE_SPREAD_S and at least 31 s after the last announce (the announce client's
//      min spacing); the time until each tracker has an announce carrying it: the tiny
//      tracker decodes the announce's bitmap (same clock as the delta), the reference tracker is followed by
//      its /stats long poll (networkPeers[0].held). With REPEAT=1 each edge then takes the piece back as soon
//      as both trackers had the first change: a second change right after an announce.
//   4. then prints READY_WRK and keeps the fleet up (heartbeats go on) until SIGTERM or SCRATCH/stop, for
//      wrk against the controller's HTTP port (controller.sh).
// Objects: OBJECTS, each on REPLICAS edges (object j on edges j, j + EDGES/REPLICAS, ... mod EDGES), PIECES
// pieces of 256 KiB; every holder has pieces 0 .. PIECES-3, so the union lacks the last two.
//
// usage: node scripts/bench/controller-fleet.ts SCRATCH_DIR
// env: EDGES=1000 OBJECTS=10000 REPLICAS=2 PIECES=64 HEARTBEAT_MS=5000 ENROL_CONCURRENCY=100 WINDOW_S=30
//      CHANGES=100 CHANGE_SPREAD_S=10 REPEAT=0 CHANNEL=1 (heartbeats on each edge's channel; 0: plain
//      heartbeat calls, and LONG_POLL=1 the command long poll of each edge),
//      CONTROLLER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=DIR": the window's monotonic times are printed)
// Output: '# ' lines for people, one line `RESULT {json}` with every figure, then `READY_WRK {json}`.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, Pool, request } from 'undici';
import { EDGE_CHANNEL_PROTOCOL, readLines } from '../../src/fleet/index.ts';
import { buildMetainfo, encodeTorrent } from '../../src/metainfo/index.ts';
import { encodeBencode } from '../../src/tracker/protocol/bencode.ts';
import { decodeBitmap } from '../../src/tracker/protocol/bitmap.ts';
import { parseQuery } from '../../src/tracker/protocol/query.ts';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const EDGES = env('EDGES', 1000);
const OBJECTS = env('OBJECTS', 10_000);
const REPLICAS = env('REPLICAS', 2);
const PIECES = env('PIECES', 64);
const PIECE_LENGTH = 256 * 1024;
const HEARTBEAT_MS = env('HEARTBEAT_MS', 5000);
const ENROL_CONCURRENCY = env('ENROL_CONCURRENCY', 100);
const WINDOW_S = env('WINDOW_S', 30);
const CHANGES = env('CHANGES', 100);
const CHANGE_SPREAD_S = env('CHANGE_SPREAD_S', 10);
const REPEAT = env('REPEAT', 0) === 1;
/** 1: heartbeats and commands on each edge's channel (what the agent does); 0: plain heartbeats and a long poll. */
const CHANNEL = env('CHANNEL', 1) === 1;
const LONG_POLL = !CHANNEL && env('LONG_POLL', 1) === 1;
/** 1: the controller keeps its fleet in a redis-server started here (`--state redis://...`); its CPU is counted. */
const REDIS = env('REDIS', 0) === 1;
/** The piece a change adds: held by no edge at first. */
const CHANGED_PIECE = PIECES - 2;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN = join(ROOT, 'bin/run.js');
const SCRATCH = process.argv[2];
if (SCRATCH === undefined) {
  console.error('usage: node scripts/bench/controller-fleet.ts SCRATCH_DIR');
  process.exit(2);
}
mkdirSync(SCRATCH, { recursive: true });

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const say = (line: string) => console.log(`# ${line}`);

// A deterministic generator: the same objects, placements and changes every run.
let seed = 14;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const round = (value: number, digits = 1) => Number(value.toFixed(digits));
function summary(values: number[]): { n: number; p50: number; p90: number; p99: number; max: number } {
  return {
    n: values.length,
    p50: round(quantile(values, 0.5), 2),
    p90: round(quantile(values, 0.9), 2),
    p99: round(quantile(values, 0.99), 2),
    max: round(quantile(values, 1), 2),
  };
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
/** CPU seconds of each thread of the process, by thread name (main thread first: its tid is the pid). */
function threadCpu(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended meanwhile
    }
  }
  return byName;
}
function threadCpuSince(pid: number, before: Map<string, number>): string {
  const after = threadCpu(pid);
  return [...after]
    .map(([name, cpu]) => [name, cpu - (before.get(name) ?? 0)] as const)
    .filter(([, cpu]) => cpu > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, cpu]) => `${name} ${round(cpu, 2)}`)
    .join(', ');
}
function memoryMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: round(kib('VmRSS') / 1024), hwm: round(kib('VmHWM') / 1024) };
}

// Processes: the controller and the reference tracker, killed whatever happens.
const children: ChildProcess[] = [];
function killChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
process.on('exit', killChildren);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(0);
  });
}

/** A redis-server of the benchmark's own on a free loopback port, nothing saved, ready when it says so. */
async function startRedisServer(): Promise<{ url: string; pid: number }> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', SCRATCH!];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}`)));
  });
  say(`redis-server ${args.join(' ')} (pid ${child.pid})`);
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid! };
}

async function startProcess(
  name: string,
  args: string[],
): Promise<{ child: ChildProcess; first: Record<string, unknown> }> {
  const nodeArgs = name === 'controller' ? (process.env['CONTROLLER_NODE_ARGS'] ?? '').split(' ').filter(Boolean) : [];
  const child = spawn(process.execPath, [...nodeArgs, RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const log = join(SCRATCH!, `${name}.log`);
  writeFileSync(log, '');
  child.stderr?.on('data', (chunk: Buffer) => writeFileSync(log, chunk, { flag: 'a' }));
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`${name} exited ${code}: ${readFileSync(log, 'utf8').slice(-2000)}`);
    }),
  ])) as [string];
  lines.on('line', (more) => writeFileSync(log, `${more}\n`, { flag: 'a' }));
  return { child, first: JSON.parse(line) as Record<string, unknown> };
}

// Objects: small metainfo, one per object (random piece hashes: nothing is fetched in this benchmark).
const tBuild = now();
const objects = Array.from({ length: OBJECTS }, (_, j) => {
  const metainfo = buildMetainfo({
    name: `bench-object-${String(j).padStart(6, '0')}.bin`,
    pieceLength: PIECE_LENGTH,
    multiFile: false,
    files: [{ path: [], length: PIECES * PIECE_LENGTH }],
    pieceHashes: randomBytes(20 * PIECES),
  });
  return { index: j, infoHash: metainfo.infoHash, torrent: encodeTorrent(metainfo) };
});
const byInfoHash = new Map(objects.map((object) => [object.infoHash, object]));
const heldBitfield = Buffer.alloc(Math.ceil(PIECES / 8));
for (let piece = 0; piece < CHANGED_PIECE; piece += 1) heldBitfield[piece >> 3]! |= 0x80 >> (piece & 7);
const heldBase64 = heldBitfield.toString('base64');
const holdersOf = (j: number) =>
  Array.from({ length: REPLICAS }, (_, r) => (j + Math.floor((r * EDGES) / REPLICAS)) % EDGES);
const objectsOf: number[][] = Array.from({ length: EDGES }, () => []);
for (let j = 0; j < OBJECTS; j += 1) for (const edge of holdersOf(j)) objectsOf[edge]!.push(j);
say(
  `${OBJECTS} objects of ${PIECES} x 256 KiB built in ${round((now() - tBuild) / 1000, 2)} s; ${REPLICAS} replicas on ${EDGES} edges`,
);

// The tiny tracker: answers every announce with the bitmap extension's offer (no multi-object announce), and
// notes when an announce of a watched object carries the bitmap expected.
interface Watch {
  want: boolean;
  sentAt: number;
  resolve: (at: number) => void;
}
const tinyWatches = new Map<string, Watch>();
const tinySeen = new Set<string>();
const tinyCounts = { announces: 0, withBitmap: 0, started: 0 };
let tinyLastAt = 0;
const tinyAnswer = encodeBencode({
  interval: 1800,
  'min interval': 1,
  complete: 1,
  incomplete: 0,
  peers: Buffer.alloc(0),
  ep: { v: 1 },
});
const tiny = createServer((req: IncomingMessage, res: ServerResponse) => {
  const at = now();
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  if (!url.startsWith('/announce') || queryAt < 0) {
    res.writeHead(404).end();
    return;
  }
  const params = parseQuery(url.slice(queryAt + 1));
  const infoHash = params.get('info_hash')?.[0]?.toString('hex') ?? '';
  const bitmap = params.get('ep_bm')?.[0]?.toString('latin1');
  tinyCounts.announces += 1;
  tinyLastAt = at;
  tinySeen.add(infoHash);
  if (params.get('event')?.[0]?.toString('latin1') === 'started') tinyCounts.started += 1;
  if (bitmap !== undefined) {
    tinyCounts.withBitmap += 1;
    const watch = tinyWatches.get(infoHash);
    if (watch !== undefined) {
      const bits = decodeBitmap(bitmap, PIECES);
      const has = (bits[CHANGED_PIECE >> 3]! & (0x80 >> (CHANGED_PIECE & 7))) !== 0;
      if (has === watch.want) {
        tinyWatches.delete(infoHash);
        watch.resolve(at);
      }
    }
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': tinyAnswer.length }).end(tinyAnswer);
});
tiny.keepAliveTimeout = 65_000;
tiny.listen(0, '127.0.0.1');
await once(tiny, 'listening');
const tinyUrl = `http://127.0.0.1:${(tiny.address() as AddressInfo).port}/announce`;

// The reference tracker and the controller.
const trackerArgs = [
  'tracker',
  '--port',
  '0',
  '--host',
  '127.0.0.1',
  '--json',
  '--interval',
  '1800',
  '--min-interval',
  '1',
];
const reference = await startProcess('tracker', trackerArgs);
const refAnnounce = reference.first['announceUrl'] as string;
const refStats = reference.first['statsUrl'] as string;
const redis = REDIS ? await startRedisServer() : null;
const controllerArgs = [
  'controller',
  '--data-dir',
  join(SCRATCH, 'controller'),
  '--peer-port',
  '0',
  '--peer-host',
  '127.0.0.1',
  '--http-port',
  '0',
  '--http-host',
  '127.0.0.1',
  '--edge-listen',
  '127.0.0.1:0',
  '--admin-listen',
  '127.0.0.1:0',
  '--heartbeat',
  String(HEARTBEAT_MS),
  ...(redis === null ? [] : ['--state', redis.url]),
  '--tracker',
  refAnnounce,
  '--tracker',
  tinyUrl,
  '--json',
];
const controller = await startProcess('controller', controllerArgs);
const controllerPid = controller.child.pid!;
const edgeUrl = controller.first['edgeUrl'] as string;
const adminUrl = controller.first['adminUrl'] as string;
const httpBaseUrl = (controller.first['httpBaseUrls'] as string[])[0]!;
const adminToken = readFileSync(join(SCRATCH, 'controller', 'admin.token'), 'utf8').trim();
say(`commands: node bin/run.js ${trackerArgs.join(' ')}`);
say(`          node bin/run.js ${controllerArgs.join(' ').replace(SCRATCH, '$SCRATCH')}  (tiny tracker ${tinyUrl})`);
say(`controller pid ${controllerPid}: edge API ${edgeUrl}, admin ${adminUrl}, HTTP ${httpBaseUrl}`);

const localAgent = new Agent({
  connections: 512,
  keepAliveTimeout: 60_000,
  headersTimeout: 120_000,
  bodyTimeout: 120_000,
});
async function getJson(url: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const response = await request(url, { headers, dispatcher: localAgent });
  return (await response.body.json()) as Record<string, unknown>;
}
const adminHeaders = { authorization: `Bearer ${adminToken}` };
const controllerStatus = () => getJson(`${adminUrl}/v1/status`, adminHeaders);

// 1. Tokens.
const tTokens = now();
const tokens: string[] = new Array(EDGES);
{
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < EDGES) {
        const i = next++;
        const response = await request(`${adminUrl}/v1/tokens`, {
          method: 'POST',
          headers: { ...adminHeaders, 'content-type': 'application/json' },
          body: JSON.stringify({ ttlMs: 3_600_000, label: `bench edge ${i}` }),
          dispatcher: localAgent,
        });
        const body = (await response.body.json()) as { token?: string };
        if (body.token === undefined) throw new Error(`token ${i}: ${JSON.stringify(body)}`);
        tokens[i] = body.token;
      }
    }),
  );
}
const tokensS = (now() - tTokens) / 1000;
say(`${EDGES} tokens created through the admin API in ${round(tokensS, 2)} s (8 at a time)`);

// The simulated edges.
const stopped = new AbortController();
let heartbeatSamples: number[] | null = null;
const failures: string[] = [];
const counters = { heartbeats: 0, states: 0, deltas: 0, metainfoUploads: 0, resyncs: 0, polls: 0 };

class SimEdge {
  readonly index: number;
  readonly pool: Pool;
  readonly session = randomBytes(8).toString('hex');
  readonly address: { httpBaseUrl: string; peerPort: number };
  edgeId = '';
  key = '';
  seq: number | null = null;
  /** Heartbeats, states and deltas one after another, as src/fleet/link.ts sends them. */
  chain: Promise<unknown> = Promise.resolve();
  enrolledMs = 0;
  upMs = 0;

  constructor(index: number) {
    this.index = index;
    this.pool = new Pool(edgeUrl, {
      connections: 2,
      keepAliveTimeout: 60_000,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    this.address = { httpBaseUrl: `http://127.0.0.1:${20_000 + index}`, peerPort: 40_000 + index };
  }

  async call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = {};
    if (this.edgeId !== '') headers['authorization'] = `Bearer ${this.edgeId}.${this.key}`;
    let payload: string | Buffer | undefined;
    if (Buffer.isBuffer(body)) {
      payload = body;
      headers['content-type'] = 'application/x-bittorrent';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const response = await this.pool.request({
      method: method as 'GET',
      path,
      headers,
      ...(payload === undefined ? {} : { body: payload }),
      ...(signal === undefined ? {} : { signal }),
    });
    const text = await response.body.text();
    if (response.statusCode === 204) return {};
    if (response.statusCode !== 200) throw new Error(`${method} ${path}: ${response.statusCode} ${text.slice(0, 200)}`);
    return JSON.parse(text) as Record<string, unknown>;
  }

  serially<T>(step: () => Promise<T>): Promise<T> {
    const next = this.chain.then(step);
    this.chain = next.catch(() => undefined);
    return next;
  }

  async enrol(token: string): Promise<void> {
    const answer = await this.call('POST', '/v1/enrol', {
      token,
      name: `bench-edge-${String(this.index).padStart(4, '0')}`,
      address: this.address,
    });
    this.edgeId = answer['edgeId'] as string;
    this.key = answer['key'] as string;
  }

  heartbeatMessage(): Record<string, unknown> {
    return {
      session: this.session,
      seq: this.seq ?? 0,
      address: this.address,
      capacityBytes: 4 * 2 ** 40,
      freeBytes: 2 * 2 ** 40 + this.index * 2 ** 20,
      load: { connections: this.index % 50, uploadBytesPerSecond: 1_000_000 },
    };
  }

  heartbeat(): Promise<void> {
    return this.serially(async () => {
      const t0 = now();
      const answer = await this.call('POST', '/v1/edge/heartbeat', this.heartbeatMessage());
      heartbeatSamples?.push(now() - t0);
      counters.heartbeats += 1;
      if (answer['resync'] === true || this.seq === null) {
        if (this.seq !== null) counters.resyncs += 1;
        await this.#sendState();
      }
    });
  }

  async #sendState(): Promise<void> {
    const answer = await this.call('PUT', '/v1/edge/state', {
      session: this.session,
      seq: 0,
      objects: objectsOf[this.index]!.map((j) => ({
        infoHash: objects[j]!.infoHash,
        pieceCount: PIECES,
        bitfield: heldBase64,
      })),
    });
    if (answer['resync'] === true) throw new Error(`edge ${this.index}: state not taken (no heartbeat yet)`);
    this.seq = 0;
    counters.states += 1;
    await this.#sendMetainfo(answer['needMetainfo'] as string[]);
  }

  async #sendMetainfo(infoHashes: string[]): Promise<void> {
    for (const infoHash of infoHashes) {
      await this.call('PUT', `/v1/edge/metainfo/${infoHash}`, byInfoHash.get(infoHash)!.torrent);
      counters.metainfoUploads += 1;
    }
  }

  /** One delta of one object: the piece added or removed. Resolves when the controller answered. */
  delta(infoHash: string, add: boolean): Promise<void> {
    return this.serially(async () => {
      if (this.seq === null) throw new Error(`edge ${this.index}: no counted state for a delta`);
      const seq = this.seq + 1;
      const answer = await this.call('POST', '/v1/edge/deltas', {
        session: this.session,
        seq,
        changes: [
          { infoHash, pieceCount: PIECES, ...(add ? { added: [CHANGED_PIECE] } : { removed: [CHANGED_PIECE] }) },
        ],
      });
      if (answer['resync'] === true) throw new Error(`edge ${this.index}: the controller asked a resync for a delta`);
      this.seq = seq;
      counters.deltas += 1;
    });
  }

  /**
   * The edge's channel, as src/fleet/link.ts opens it: heartbeats every HEARTBEAT_MS, answers read (a
   * resync sends the whole state), until stopped. The round trip is sampled for the heartbeats answered.
   */
  async channel(): Promise<void> {
    const request = httpRequest(new URL('/v1/edge/channel', edgeUrl), {
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: EDGE_CHANNEL_PROTOCOL,
        authorization: `Bearer ${this.edgeId}.${this.key}`,
      },
    });
    request.end();
    const [response, socket, head] = (await once(request, 'upgrade')) as [IncomingMessage, Socket, Buffer];
    if (response.statusCode !== 101) throw new Error(`edge ${this.index}: channel refused (${response.statusCode})`);
    if (head.length > 0) socket.unshift(head);
    socket.setNoDelay(true);
    let sentAt = 0;
    readLines(socket, 1 << 26, (line) => {
      const message = JSON.parse(line) as { heartbeat?: { resync: boolean }; error?: { message: string } };
      if (message.error !== undefined) failures.push(`channel ${this.index}: ${message.error.message}`);
      if (message.heartbeat === undefined) return;
      heartbeatSamples?.push(now() - sentAt);
      if (message.heartbeat.resync) {
        counters.resyncs += 1;
        void this.serially(() => this.#sendState()).catch((err: Error) =>
          failures.push(`state ${this.index}: ${err.message}`),
        );
      }
    });
    socket.on('error', (err) => failures.push(`channel ${this.index}: ${err.message}`));
    stopped.signal.addEventListener('abort', () => socket.destroy());
    while (!stopped.signal.aborted) {
      await sleep(HEARTBEAT_MS);
      if (stopped.signal.aborted || socket.destroyed) return;
      await this.chain; // a delta in flight first, as the link does
      sentAt = now();
      socket.write(`${JSON.stringify({ heartbeat: this.heartbeatMessage() })}\n`);
      counters.heartbeats += 1;
    }
  }

  /** Heartbeats every HEARTBEAT_MS after the last one ended, and the command long poll, until stopped. */
  run(): void {
    if (CHANNEL) {
      this.channel().catch((err: Error) => failures.push(`channel ${this.index}: ${err.message}`));
      return;
    }
    const beat = async () => {
      while (!stopped.signal.aborted) {
        await sleep(HEARTBEAT_MS);
        if (stopped.signal.aborted) return;
        await this.heartbeat().catch((err: Error) => failures.push(`heartbeat ${this.index}: ${err.message}`));
      }
    };
    const poll = async () => {
      while (LONG_POLL && !stopped.signal.aborted) {
        try {
          await this.call('GET', '/v1/edge/commands?waitMs=25000', undefined, stopped.signal);
          counters.polls += 1;
        } catch (err) {
          if (stopped.signal.aborted) return;
          failures.push(`poll ${this.index}: ${(err as Error).message}`);
          await sleep(1000);
        }
      }
    };
    void beat();
    void poll();
  }
}

// 2. Enrolment: ENROL_CONCURRENCY edges at a time enrol, send a heartbeat, their state and any metainfo asked.
const edges = Array.from({ length: EDGES }, (_, i) => new SimEdge(i));
const cpuBeforeEnrol = cpuSeconds(controllerPid);
const threadsBeforeEnrol = threadCpu(controllerPid);
const tEnrol = now();
{
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(ENROL_CONCURRENCY, EDGES) }, async () => {
      while (next < EDGES) {
        const edge = edges[next++]!;
        try {
          await edge.enrol(tokens[edge.index]!);
          edge.enrolledMs = now() - tEnrol;
          await edge.heartbeat();
          edge.upMs = now() - tEnrol;
          edge.run();
        } catch (err) {
          failures.push(`enrol ${edge.index}: ${(err as Error).message}`);
        }
      }
    }),
  );
}
const enrolledS = Math.max(...edges.map((edge) => edge.enrolledMs)) / 1000;
const upS = Math.max(...edges.map((edge) => edge.upMs)) / 1000;
const enrolCpuS = cpuSeconds(controllerPid) - cpuBeforeEnrol;
const enrolThreads = threadCpuSince(controllerPid, threadsBeforeEnrol);
const statusAfterEnrol = await controllerStatus();
const edgesUp = (statusAfterEnrol['edges'] as { up: number }).up;
say(
  `enrolment: ${EDGES} edges enrolled in ${round(enrolledS, 2)} s, all up with state and metainfo in ${round(upS, 2)} s ` +
    `(${ENROL_CONCURRENCY} at a time); controller: ${edgesUp} up, ${String(statusAfterEnrol['objects'])} objects, ` +
    `${round(enrolCpuS, 2)} CPU-s; ${counters.metainfoUploads} metainfo uploads; failures ${failures.length}`,
);
say(`  controller CPU-s by thread during enrolment: ${enrolThreads}`);
if (failures.length > 0) say(`first failures: ${failures.slice(0, 3).join(' | ')}`);

// Every object announced to both trackers before the steady window.
const tDrain = now();
async function referenceSwarms(): Promise<number> {
  const stats = await getJson(`${refStats}?limit=1`);
  return Number(stats['swarmCount'] ?? 0);
}
let refSwarms = 0;
for (;;) {
  refSwarms = await referenceSwarms();
  if (tinySeen.size >= OBJECTS && refSwarms >= OBJECTS && now() - tinyLastAt > 2000) break;
  if (now() - tDrain > 240_000) {
    say(`announces did not settle: tiny tracker ${tinySeen.size} objects, reference ${refSwarms} swarms`);
    break;
  }
  await sleep(500);
}
const tDrainDone = now();
const drainS = (tDrainDone - tEnrol) / 1000;
say(
  `every object announced: tiny tracker ${tinySeen.size} objects (${tinyCounts.announces} announces), ` +
    `reference tracker ${refSwarms} swarms, ${round(drainS, 1)} s after the first enrolment`,
);

// 3. Steady heartbeats.
await sleep(2000);
const statusBefore = await controllerStatus();
heartbeatSamples = [];
const hbCountBefore = counters.heartbeats;
const selfBefore = process.cpuUsage();
const tWindow = now();
const monotonicStart = process.hrtime.bigint() / 1000n;
const cpuWindowBefore = cpuSeconds(controllerPid);
const redisCpuBefore = redis === null ? 0 : cpuSeconds(redis.pid);
const threadsWindowBefore = threadCpu(controllerPid);
await sleep(WINDOW_S * 1000);
const cpuWindow = cpuSeconds(controllerPid) - cpuWindowBefore;
const redisCpuWindow = redis === null ? 0 : cpuSeconds(redis.pid) - redisCpuBefore;
const windowThreads = threadCpuSince(controllerPid, threadsWindowBefore);
say(`steady window, monotonic us: ${monotonicStart} ${process.hrtime.bigint() / 1000n}`);
const windowS = (now() - tWindow) / 1000;
const self = process.cpuUsage(selfBefore);
const memory = memoryMiB(controllerPid);
const windowHeartbeats = counters.heartbeats - hbCountBefore;
const heartbeatLatency = summary(heartbeatSamples);
heartbeatSamples = null;
const statusAfter = await controllerStatus();
const registryBefore = statusBefore['registry'] as { heartbeats: number; resyncsAsked: number };
const registryAfter = statusAfter['registry'] as { heartbeats: number; resyncsAsked: number };
const cpuPct = (100 * cpuWindow) / windowS;
say(
  `steady window ${round(windowS, 1)} s: controller CPU ${round(cpuWindow, 2)} s = ${round(cpuPct, 2)} % of one core; ` +
    `RSS ${memory.rss} MiB (peak ${memory.hwm} MiB); ${windowHeartbeats} heartbeats ` +
    `(${round(windowHeartbeats / windowS, 1)}/s, controller counted ${registryAfter.heartbeats - registryBefore.heartbeats}); ` +
    `heartbeat round trip ms p50 ${heartbeatLatency.p50} p99 ${heartbeatLatency.p99} max ${heartbeatLatency.max}; ` +
    `generator CPU ${round(((self.user + self.system) / 1e6 / windowS) * 100, 1)} %`,
);

say(`  controller CPU-s by thread in the window: ${windowThreads}`);
if (redis !== null) {
  say(
    `  redis-server CPU in the window: ${round(redisCpuWindow, 2)} s = ${round((100 * redisCpuWindow) / windowS, 2)} % of one core; ` +
      `controller + redis-server ${round((100 * (cpuWindow + redisCpuWindow)) / windowS, 2)} %`,
  );
}

// 4. Change to announce. Each object's last announce must be more than the client's min spacing (30 s)
// behind, or the change waits for it (measured separately by REPEAT).
const lastAnnounceAt = Math.max(tinyLastAt, tDrainDone);
if (now() - lastAnnounceAt < 31_000) await sleep(31_000 - (now() - lastAnnounceAt));
interface ChangeResult {
  object: number;
  deltaMs: number;
  tinyMs: number | null;
  referenceMs: number | null;
}
const refAgent = new Agent({ connections: 4 * CHANGES + 16, headersTimeout: 120_000, bodyTimeout: 120_000 });

/** Resolves with the time the reference tracker's statistics show `held` pieces for the CDN, or null. */
async function referenceHeld(
  infoHash: string,
  held: number,
  version: number,
  deadline: number,
): Promise<number | null> {
  let since = version;
  while (now() < deadline) {
    const response = await request(`${refStats}/${infoHash}?since=${since}&wait=60`, { dispatcher: refAgent });
    const stats = (await response.body.json()) as { version: number; networkPeers?: Array<{ held: number | null }> };
    const at = now();
    if (stats.networkPeers?.[0]?.held === held) return at;
    since = stats.version;
  }
  return null;
}

function tinyWatch(infoHash: string, want: boolean, deadline: number): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      tinyWatches.delete(infoHash);
      resolve(null);
    }, deadline - now());
    tinyWatches.set(infoHash, {
      want,
      sentAt: now(),
      resolve: (at) => {
        clearTimeout(timer);
        resolve(at);
      },
    });
  });
}

async function change(object: number, add: boolean, timeoutMs: number): Promise<ChangeResult> {
  const { infoHash } = objects[object]!;
  const edge = edges[holdersOf(object)[0]!]!;
  const before = (await getJson(`${refStats}/${infoHash}`)) as { version: number };
  const deadline = now() + timeoutMs;
  const heldAfter = add ? CHANGED_PIECE + 1 : CHANGED_PIECE;
  const tiny = tinyWatch(infoHash, add, deadline);
  const ref = referenceHeld(infoHash, heldAfter, before.version, deadline);
  const sent = now();
  await edge.delta(infoHash, add);
  const deltaMs = now() - sent;
  const [tinyAt, refAt] = await Promise.all([tiny, ref]);
  return {
    object,
    deltaMs,
    tinyMs: tinyAt === null ? null : tinyAt - sent,
    referenceMs: refAt === null ? null : refAt - sent,
  };
}

const chosen: number[] = [];
while (chosen.length < Math.min(CHANGES, OBJECTS)) {
  const j = Math.floor(random() * OBJECTS);
  if (!chosen.includes(j)) chosen.push(j);
}
const firstChanges: ChangeResult[] = [];
const repeatChanges: ChangeResult[] = [];
const tChanges = now();
await Promise.all(
  chosen.map(async (j, k) => {
    await sleep((k * CHANGE_SPREAD_S * 1000) / chosen.length);
    const first = await change(j, true, 60_000);
    firstChanges.push(first);
    if (REPEAT) repeatChanges.push(await change(j, false, 75_000));
  }),
);
const changesS = (now() - tChanges) / 1000;
const present = (values: Array<number | null>) => values.filter((value): value is number => value !== null);
const firstTiny = summary(present(firstChanges.map((c) => c.tinyMs)));
const firstRef = summary(present(firstChanges.map((c) => c.referenceMs)));
const firstDelta = summary(firstChanges.map((c) => c.deltaMs));
const repeatTiny = summary(present(repeatChanges.map((c) => c.tinyMs)));
const repeatRef = summary(present(repeatChanges.map((c) => c.referenceMs)));
const missing = (list: ChangeResult[], key: 'tinyMs' | 'referenceMs') => list.filter((c) => c[key] === null).length;
say(
  `change to announce, ${firstChanges.length} changes over ${CHANGE_SPREAD_S} s (delta round trip ms p50 ${firstDelta.p50} p99 ${firstDelta.p99}):`,
);
say(
  `  tiny tracker (single announces)      ms p50 ${firstTiny.p50} p90 ${firstTiny.p90} max ${firstTiny.max}; missed ${missing(firstChanges, 'tinyMs')}`,
);
say(
  `  reference tracker (multi-object)     ms p50 ${firstRef.p50} p90 ${firstRef.p90} max ${firstRef.max}; missed ${missing(firstChanges, 'referenceMs')}`,
);
if (REPEAT) {
  say(`  second change right after the first announce (the piece taken back):`);
  say(
    `  tiny tracker                         ms p50 ${repeatTiny.p50} p90 ${repeatTiny.p90} max ${repeatTiny.max}; missed ${missing(repeatChanges, 'tinyMs')}`,
  );
  say(
    `  reference tracker                    ms p50 ${repeatRef.p50} p90 ${repeatRef.p90} max ${repeatRef.max}; missed ${missing(repeatChanges, 'referenceMs')}`,
  );
}
const registryEnd = (await controllerStatus())['registry'] as { resyncsAsked: number; deltas: number };
say(
  `change phase took ${round(changesS, 1)} s; controller: ${registryEnd.deltas} deltas, ${registryEnd.resyncsAsked} resyncs asked in all`,
);

const result = {
  edges: EDGES,
  objects: OBJECTS,
  replicas: REPLICAS,
  pieces: PIECES,
  heartbeatMs: HEARTBEAT_MS,
  enrolConcurrency: ENROL_CONCURRENCY,
  tokensS: round(tokensS, 2),
  enrolledS: round(enrolledS, 2),
  upS: round(upS, 2),
  enrolCpuS: round(enrolCpuS, 2),
  edgesUp,
  objectsKnown: statusAfterEnrol['objects'],
  metainfoUploads: counters.metainfoUploads,
  announcedAllS: round(drainS, 1),
  windowS: round(windowS, 1),
  cpuS: round(cpuWindow, 2),
  cpuPct: round(cpuPct, 2),
  windowThreads,
  enrolThreads,
  rssMiB: memory.rss,
  rssPeakMiB: memory.hwm,
  heartbeatsPerS: round(windowHeartbeats / windowS, 1),
  heartbeatRttMs: heartbeatLatency,
  changeTinyMs: firstTiny,
  changeReferenceMs: firstRef,
  changeDeltaMs: firstDelta,
  changesMissed: { tiny: missing(firstChanges, 'tinyMs'), reference: missing(firstChanges, 'referenceMs') },
  repeatTinyMs: REPEAT ? repeatTiny : null,
  repeatReferenceMs: REPEAT ? repeatRef : null,
  resyncs: counters.resyncs,
  failures: failures.length,
  tinyAnnounces: tinyCounts.announces,
};
console.log(`RESULT ${JSON.stringify(result)}`);

// 5. Keep the fleet up for wrk against the controller's HTTP port.
const list = join(SCRATCH, 'objects.txt');
writeFileSync(list, `${objects.map((object) => `${object.infoHash} ${CHANGED_PIECE}`).join('\n')}\n`);
console.log(`READY_WRK ${JSON.stringify({ httpBaseUrl, controllerPid, objects: list, adminUrl })}`);
const stopFile = join(SCRATCH, 'stop');
while (!existsSync(stopFile)) await sleep(200);
stopped.abort();
const exited = children.map((child) =>
  child.exitCode === null && child.signalCode === null ? once(child, 'exit') : Promise.resolve(),
);
killChildren();
// The controller sends `stopped` to its trackers before it exits: wait for it, then make sure.
await Promise.race([Promise.all(exited), sleep(15_000)]);
for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
await Promise.all(edges.map((edge) => edge.pool.destroy().catch(() => undefined)));
tiny.closeAllConnections();
tiny.close();
process.exit(0);
