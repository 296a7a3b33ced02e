// Peer wire serving on threads (peer.threads): what a second serving thread sharing the peer port and one
// piece slab costs per block, and what it buys. Each server is the agent as built (dist/), serving one
// object from its disk store through a cache that holds it all (filled before measuring):
//   t1     peer.threads 1, the one-thread cache (the default)
//   slab1  peer.threads 1 over the shared slab (http.threads 2 makes the slab; its HTTP thread stays idle)
//   t2     peer.threads 2: two threads on one port (SO_REUSEPORT), one shared slab
// The client (a raw Node peer, `CONNS` connections at once so that the kernel spreads them over the
// threads) keeps `DEPTH` 16 KiB requests in flight in all and counts the blocks that come back.
// Phase free: as the machine is; phase pinned (PIN=1, default): every server thread on CPU 1, the client on
// CPU 0 (taskset). Rounds interleave t1, slab1, t2; figures are medians and median per-round ratios. CPU per
// block = the server process's utime+stime (all its threads) over the run / blocks.
//
// usage: node scripts/bench/wire-threads.ts [MiB per run=1024]
//   env: ROUNDS=3 CONNS=8 SIZE_MIB=256 PIN=1 SERVERS="t1 slab1 t2" DATA_DIR=/tmp/edgepeer-bench-data
//        BASE_ROOT=(a built checkout of an earlier commit: its servers too, as base-t1 ..., same rounds)
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { encodeRequests, PieceCounter, sendHandshake } from './wire-client.ts';

const BLOCK = 16 * 1024;
const PIECE = 1024 * 1024;
const DEPTH = 500;
const ROOT = join(import.meta.dirname, '..', '..');

const [mode = 'compare', ...rest] = process.argv.slice(2);
if (mode === 'serve') await serve(rest[0]!, rest[1]!, rest[2]!);
else if (mode === 'client') await client(Number(rest[0]), rest[1]!, Number(rest[2]), Number(rest[3]), Number(rest[4]));
else await compare(Number(mode === 'compare' ? (rest[0] ?? 1024) : mode));

interface Server {
  variant: string;
  child: ChildProcess;
  port: number;
  infoHash: string;
  /** Resolves with the next line the server prints that starts with `prefix`. */
  next(prefix: string): Promise<string>;
}

async function compare(totalMiB: number): Promise<void> {
  const rounds = Number(process.env.ROUNDS ?? 3);
  const conns = Number(process.env.CONNS ?? 8);
  const sizeMiB = Number(process.env.SIZE_MIB ?? 256);
  const own = (process.env.SERVERS ?? 't1 slab1 t2').split(' ').filter(Boolean);
  // With BASE_ROOT (an earlier checkout, built), each server also runs as built there, in the same rounds.
  const variants = process.env.BASE_ROOT ? [...own, ...own.map((variant) => `base-${variant}`)] : own;
  const dataDir = process.env.DATA_DIR ?? '/tmp/edgepeer-bench-data';
  const file = join(dataDir, `random_${sizeMiB}MiB.bin`);
  if (!existsSync(file) || statSync(file).size !== sizeMiB * PIECE) {
    throw new Error(`${file} (${sizeMiB} MiB) is missing: make it as scripts/bench/serving-threads.sh does`);
  }
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const scratch = mkdtempSync(join(dataDir, 'wire-threads.'));
  const servers: Server[] = [];
  try {
    for (const variant of variants) servers.push(await startServer(variant, file, join(scratch, variant)));
    const cpu = cpus()[0]?.model ?? 'unknown';
    console.log(
      `# CPU: ${cpu} x${cpus().length}; node ${process.version}; loadavg at start ${loadavg()[0]!.toFixed(2)}`,
    );
    console.log(
      `# object ${sizeMiB} MiB in 1 MiB pieces, all in the cache; ${totalMiB} MiB per run in 16 KiB blocks over ${conns}` +
        ` connections, ${DEPTH} requests in flight; ${rounds} rounds per phase, servers interleaved`,
    );
    const measure = (server: Server, mib: number, pinned: boolean) => run(server, mib, conns, sizeMiB, pinned);
    // Warm-up: a whole run each, so that every thread of t2 (which gets part of the connections) is warm too.
    for (const server of servers) await measure(server, totalMiB, false);
    const phases: ['free' | 'pinned', boolean][] = [['free', false]];
    if (process.env.PIN !== '0') phases.push(['pinned', true]);
    for (const [phase, pinned] of phases) {
      if (pinned)
        for (const server of servers) execFileSync('taskset', ['-a', '-p', '-c', '1', String(server.child.pid)]);
      const results = new Map<string, { mbps: number[]; cpu: number[] }>();
      for (const server of servers) results.set(server.variant, { mbps: [], cpu: [] });
      for (let round = 0; round < rounds; round++) {
        for (const server of servers) {
          const figures = await measure(server, totalMiB, pinned);
          results.get(server.variant)!.mbps.push(figures.mbps);
          results.get(server.variant)!.cpu.push(figures.cpuUsPerBlock);
        }
      }
      console.log(`phase   server     MB/s  cpu_us/block  MB/s per run; cpu_us/block per run; blocks per thread`);
      for (const server of servers) {
        const { mbps, cpu } = results.get(server.variant)!;
        server.child.stdin!.write('stats\n');
        const perThread = (await server.next('THREADS')).slice('THREADS '.length);
        console.log(
          `${phase.padEnd(7)} ${server.variant.padEnd(10)} ${median(mbps).toFixed(0).padStart(8)} ${median(cpu).toFixed(3).padStart(13)}` +
            `  ${mbps.map((v) => v.toFixed(0)).join(' ')}; ${cpu.map((v) => v.toFixed(3)).join(' ')}; ${perThread}`,
        );
      }
      const ratio = (a: string, b: string, what: 'mbps' | 'cpu') => {
        const x = results.get(a)?.[what];
        const y = results.get(b)?.[what];
        return x && y ? median(x.map((v, i) => v / y[i]!)) : Number.NaN;
      };
      for (const [a, b] of [
        ['t2', 't1'] as const,
        ['slab1', 't1'],
        ['t2', 'slab1'],
        ['base-t2', 'base-t1'],
        ['base-slab1', 'base-t1'],
        ...own.map((variant) => [variant, `base-${variant}`]),
      ]) {
        if (!results.has(a) || !results.has(b)) continue;
        console.log(
          `# ratio ${a}/${b} (${phase}): CPU per block ${ratio(a, b, 'cpu').toFixed(3)}x, throughput ${ratio(a, b, 'mbps').toFixed(3)}x`,
        );
      }
      if (pinned && results.has('t1') && results.has('t2')) {
        // Each thread on a core of its own serves at one thread's pinned rate over the CPU per block ratio.
        const one = median(results.get('t1')!.mbps);
        const free = Number(process.env.FREE_CPU_RATIO ?? ratio('t2', 't1', 'cpu'));
        console.log(
          `# estimate for a core per serving thread: t1 ${one.toFixed(0)} MB/s, t2 ${((2 * one) / free).toFixed(0)} MB/s = ${(2 / free).toFixed(2)}x`,
        );
      }
      console.log(`# loadavg after phase ${phase}: ${loadavg()[0]!.toFixed(2)}`);
    }
  } finally {
    for (const server of servers) server.child.kill();
    await Promise.all(servers.map((server) => (server.child.exitCode === null ? once(server.child, 'exit') : null)));
    rmSync(scratch, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function startServer(variant: string, file: string, dataDir: string): Promise<Server> {
  // base-*: the same server as built in BASE_ROOT (an earlier checkout, built), for before/after in one run.
  const base = variant.startsWith('base-');
  const script = base ? join(process.env.BASE_ROOT!, 'scripts', 'bench', 'wire-threads.ts') : import.meta.filename;
  const child = spawn(process.execPath, [script, 'serve', variant.replace(/^base-/, ''), file, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting: { prefix: string; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const index = waiting.findIndex((w) => line.startsWith(w.prefix));
    if (index >= 0) waiting.splice(index, 1)[0]!.resolve(line);
  });
  const next = (prefix: string) => new Promise<string>((resolve) => waiting.push({ prefix, resolve }));
  const ready = await next('READY');
  const [, port, infoHash] = ready.split(' ');
  return { variant, child, port: Number(port), infoHash: infoHash!, next };
}

/** One client run against `server`: throughput from the client, CPU per block from the server's /proc. */
async function run(server: Server, totalMiB: number, conns: number, objectMiB: number, pinned: boolean) {
  const before = cpuSeconds(server.child.pid!);
  const args = [
    import.meta.filename,
    'client',
    String(server.port),
    server.infoHash,
    String(totalMiB),
    String(conns),
    String(objectMiB),
  ];
  const clientProcess = pinned
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  clientProcess.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await once(clientProcess, 'exit');
  const cpu = cpuSeconds(server.child.pid!) - before;
  const seconds = Number(/SECONDS ([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const blocks = (totalMiB * PIECE) / BLOCK;
  return { mbps: (totalMiB * PIECE) / seconds / 1e6, cpuUsPerBlock: (cpu * 1e6) / blocks };
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100 Hz)
}

/** The agent as built, serving `file` (ingested once into `dataDir`) on the peer wire, its cache filled. */
async function serve(variant: string, file: string, dataDir: string): Promise<void> {
  const { Agent, DEFAULT_AGENT_CONFIG } = await import(join(ROOT, 'dist/src/agent/index.js'));
  const pino = (await import('pino')).default;
  const size = statSync(file).size;
  const config = {
    ...DEFAULT_AGENT_CONFIG,
    dataDir,
    peer: {
      port: 0,
      host: '127.0.0.1',
      limits: { maxQueuedRequests: DEPTH, uploadSlots: 32 },
      ...(variant === 't2' ? { threads: 2 } : {}),
    },
    // slab1: a second HTTP thread is what makes the agent use the shared slab; it serves nothing here.
    http: variant === 'slab1' ? { ...DEFAULT_AGENT_CONFIG.http, port: 0, host: '127.0.0.1', threads: 2 } : null,
    admin: null,
    announce: false,
    hashThreads: 1,
    cacheBytes: size + 64 * PIECE,
    scrub: { bytesPerSecond: 0, passIntervalMs: 3_600_000, window: null },
  };
  const agent = await Agent.start(config, pino({ level: 'warn' }));
  let infoHash = '';
  await agent.operations.ingest({ sources: [file], options: { pieceLength: PIECE } }, (r: { infoHash: unknown }) => {
    infoHash = String(r.infoHash);
  });
  const pieces = Math.ceil(size / PIECE);
  for (let index = 0; index < pieces; index++) await agent.cache.getPiece(infoHash, index);
  createInterface({ input: process.stdin }).on('line', () => {
    const wire = agent.status().wire;
    console.log(
      `THREADS accepted ${JSON.stringify(wire.acceptedPerThread ?? [wire.accepted])}` +
        ` blocks ${JSON.stringify(wire.requestsPerThread ?? [wire.requestsReceived])}`,
    );
  });
  process.on('SIGTERM', () => void agent.stop().then(() => process.exit(0)));
  console.log(`READY ${agent.where().peerPort} ${infoHash}`);
}

/** `conns` raw peers at once, each with its share of DEPTH requests in flight, until totalMiB arrived. */
async function client(
  port: number,
  infoHash: string,
  totalMiB: number,
  conns: number,
  objectMiB: number,
): Promise<void> {
  const total = (totalMiB * PIECE) / BLOCK;
  const perConnection = Math.ceil(total / conns);
  const depth = Math.max(1, Math.floor(DEPTH / conns));
  const started = performance.now();
  await Promise.all(
    Array.from({ length: conns }, (_, index) =>
      leech(
        port,
        infoHash,
        Math.min(perConnection, total - index * perConnection),
        depth,
        index,
        (objectMiB * PIECE) / BLOCK,
      ),
    ),
  );
  console.log(`SECONDS ${((performance.now() - started) / 1000).toFixed(3)}`);
}

async function leech(
  port: number,
  infoHash: string,
  blocks: number,
  depth: number,
  offset: number,
  objectBlocks: number,
): Promise<void> {
  if (blocks <= 0) return;
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  sendHandshake(socket, infoHash);
  // Blocks of the object from a different place for each connection, wrapping around.
  let sent = 0;
  let received = 0;
  const requestMore = (n: number): void => {
    socket.write(encodeRequests(n, () => (offset * 997 + sent++) % objectBlocks, PIECE, BLOCK));
  };
  let unchoked = false;
  const counter = new PieceCounter(() => {
    if (unchoked) return;
    unchoked = true;
    requestMore(Math.min(depth, blocks));
  });
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => (received >= blocks ? resolve() : reject(new Error('connection closed early'))));
    socket.on('data', (chunk: Buffer) => {
      const newlyReceived = counter.feed(chunk);
      if (newlyReceived > 0) {
        received += newlyReceived;
        const more = Math.min(newlyReceived, blocks - sent);
        if (more > 0) requestMore(more);
        if (received >= blocks) {
          socket.destroy();
          resolve();
        }
      }
    });
  });
}
