// Per-block cost of serving over the peer wire: bittorrent-protocol used as its README shows (a Wire piped
// to the socket, 'request' events answered through the callback) against edgepeer's server (the same
// package for parsing and control messages, its own request queue and block writes). Both serve one
// in-memory object to the same raw Node client, which keeps `DEPTH` 16 KiB requests in flight.
//
// `edgepeer-qos` is edgepeer's server with QoS egress limits configured (global, wire, per object, per
// client, two classes) at rates that never bind: the limits' own cost per block (issue #22's goal), free
// of the leecher that bounds scripts/bench/wire.sh. `qos` runs edgepeer and edgepeer-qos alternately,
// ROUNDS times (env, default 5), and prints the ratio of their medians.
//
// `edgepeer-acct` is edgepeer's server writing accounting records as the agent does (a record when a session
// ends, an interim record of each open session every second: the agent's interim period at its shortest),
// the log's writer thread included in the server's CPU; `acct` runs edgepeer and edgepeer-acct alike.
//
// PIN=1 (env): the server on CPU 1 and the client on CPU 0 (taskset), so that they never share a core.
//
// usage: node scripts/bench/wire-overhead.ts [stock|edgepeer|edgepeer-qos|edgepeer-acct|both|qos|acct] [MiB=1024]
// prints per variant: seconds, MB/s, server CPU seconds and CPU microseconds per block.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import Wire from 'bittorrent-protocol';
import { encodeRequests, PieceCounter, sendHandshake } from './wire-client.ts';

const OBJECT_BYTES = 64 * 1024 * 1024;
const PIECE = 1024 * 1024;
const BLOCK = 16 * 1024;
const DEPTH = 500;
const INFO_HASH = createHash('sha1').update('wire-overhead').digest('hex');
const PINNED = process.env.PIN === '1';

/** Node running this script with `args`, on `cpu` when pinned (taskset execs node: the pid is node's). */
function spawnSelf(args: string[], cpu: number, stdio: Parameters<typeof spawn>[2]['stdio']) {
  const command = [process.execPath, import.meta.filename, ...args];
  return PINNED
    ? spawn('taskset', ['-c', String(cpu), ...command], { stdio })
    : spawn(command[0]!, command.slice(1), { stdio });
}

const [mode = 'both', mib = '1024'] = process.argv.slice(2);
/** The accounting variant's interim period: the agent's at its shortest. */
const ACCT_INTERIM_MS = 1000;

/** Limits far above what loopback carries: configured, checked on every block, never binding. */
const UNBOUND_QOS = {
  rate: 1e11,
  wireRate: 1e11,
  objectRate: 1e11,
  clientRate: 1e11,
  classes: 'gold:3,bronze:1',
};

if (mode === 'serve-stock') await serveStock();
else if (mode === 'serve-edgepeer') await serveEdgepeer('none');
else if (mode === 'serve-edgepeer-qos') await serveEdgepeer('qos');
else if (mode === 'serve-edgepeer-acct') await serveEdgepeer('acct');
else if (mode === 'client') await client(Number(process.argv[3]), Number(process.argv[4]));
else if (mode === 'qos' || mode === 'acct') await compareFeature(mode, Number(mib), Number(process.env.ROUNDS ?? 5));
else await compare(mode === 'both' ? ['stock', 'edgepeer'] : [mode], Number(mib));

async function compareFeature(feature: 'qos' | 'acct', totalMiB: number, rounds: number): Promise<void> {
  const other = `edgepeer-${feature}`;
  const seconds: Record<string, number[]> = { edgepeer: [], [other]: [] };
  const cpuPerBlock: Record<string, number[]> = { edgepeer: [], [other]: [] };
  if (feature === 'qos') console.log(`# qos settings: ${JSON.stringify(UNBOUND_QOS)}; ${rounds} rounds, alternating`);
  else console.log(`# accounting: interim records every ${ACCT_INTERIM_MS} ms; ${rounds} rounds, alternating`);
  for (let round = 0; round < rounds; round += 1) {
    // Alternate which goes first, so that a drift in the machine's load falls on both alike.
    const order = round % 2 === 0 ? ['edgepeer', other] : [other, 'edgepeer'];
    for (const variant of await compare(order, totalMiB, round === 0)) {
      seconds[variant.variant]!.push(variant.seconds);
      cpuPerBlock[variant.variant]!.push(variant.cpuUsPerBlock);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const lowest = (values: number[]) => Math.min(...values);
  const rate = median(seconds.edgepeer!) / median(seconds[other]!);
  const cpu = median(cpuPerBlock.edgepeer!) / median(cpuPerBlock[other]!);
  console.log(
    `# medians: edgepeer ${median(seconds.edgepeer!).toFixed(2)} s, ${median(cpuPerBlock.edgepeer!).toFixed(2)} us/block;` +
      ` ${other} ${median(seconds[other]!).toFixed(2)} s, ${median(cpuPerBlock[other]!).toFixed(2)} us/block`,
  );
  console.log(
    `# lowest rounds: edgepeer ${lowest(cpuPerBlock.edgepeer!).toFixed(2)} us/block, ${other} ${lowest(cpuPerBlock[other]!).toFixed(2)} us/block (${(lowest(cpuPerBlock.edgepeer!) / lowest(cpuPerBlock[other]!)).toFixed(3)}x)`,
  );
  console.log(`# ratio ${feature}/none: throughput ${rate.toFixed(3)}x, CPU per block ${cpu.toFixed(3)}x`);
}

interface VariantFigures {
  variant: string;
  seconds: number;
  cpuUsPerBlock: number;
}

async function compare(variants: string[], totalMiB: number, header = true): Promise<VariantFigures[]> {
  const figures: VariantFigures[] = [];
  if (header) {
    console.log(
      `# ${totalMiB} MiB in 16 KiB blocks, ${DEPTH} requests in flight, loopback; node ${process.version}` +
        (PINNED ? '; server on CPU 1, client on CPU 0' : ''),
    );
    console.log('variant        seconds    MB/s  server_cpu_s  cpu_us_per_block');
  }
  for (const variant of variants) {
    const server = spawnSelf([`serve-${variant}`], 1, ['pipe', 'pipe', 'inherit']);
    const [line] = (await once(server.stdout!, 'data')) as [Buffer];
    const port = Number(/PORT (\d+)/.exec(line.toString())![1]);
    const before = cpuSeconds(server.pid!);
    const clientProcess = spawnSelf(['client', String(port), String(totalMiB)], 0, ['ignore', 'pipe', 'inherit']);
    let out = '';
    clientProcess.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await once(clientProcess, 'exit');
    const cpu = cpuSeconds(server.pid!) - before;
    server.kill();
    const seconds = Number(/SECONDS ([\d.]+)/.exec(out)![1]);
    const blocks = (totalMiB * 1024 * 1024) / BLOCK;
    console.log(
      `${variant.padEnd(14)} ${seconds.toFixed(2).padStart(7)} ${((totalMiB * 1048576) / seconds / 1e6).toFixed(0).padStart(7)}` +
        ` ${cpu.toFixed(2).padStart(13)} ${((cpu * 1e6) / blocks).toFixed(2).padStart(17)}`,
    );
    figures.push({ variant, seconds, cpuUsPerBlock: (cpu * 1e6) / blocks });
  }
  return figures;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100 Hz)
}

async function serveStock(): Promise<void> {
  const content = randomBytes(OBJECT_BYTES);
  const server = createServer({ noDelay: true }, (socket) => {
    const wire = new Wire();
    socket.on('error', () => {});
    (socket.pipe(wire as unknown as NodeJS.WritableStream) as unknown as NodeJS.ReadableStream).pipe(socket);
    wire.on('handshake', (infoHash: string) => {
      wire.handshake(infoHash, randomBytes(20), { dht: false, fast: true });
      wire.haveAll();
    });
    wire.on('interested', () => wire.unchoke());
    wire.on('request', (index: number, begin: number, length: number, cb: (e: null, b: Buffer) => void) => {
      const at = index * PIECE + begin;
      cb(null, content.subarray(at, at + length));
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address !== null && typeof address === 'object') console.log(`PORT ${address.port}`);
  });
}

async function serveEdgepeer(feature: 'none' | 'qos' | 'acct'): Promise<void> {
  const { createPeerWireServer } = await import('../../src/wire/index.ts');
  const { AccountingLog, AccountingRecorder } = await import('../../src/accounting/index.ts');
  const { Qos, resolveQos } = await import('../../src/qos/index.ts');
  const { buildMetainfo } = await import('../../src/metainfo/index.ts');
  const content = randomBytes(OBJECT_BYTES);
  const pieces = OBJECT_BYTES / PIECE;
  const hashes = Buffer.alloc(20 * pieces); // never checked here: the cache is the one that verifies
  const metainfo = buildMetainfo({
    name: 'x',
    pieceLength: PIECE,
    multiFile: false,
    files: [{ path: [], length: OBJECT_BYTES }],
    pieceHashes: hashes,
  });
  const all = { length: pieces, get: () => true, count: () => pieces, toBuffer: () => Buffer.alloc(pieces / 8, 0xff) };
  const object = {
    infoHash: INFO_HASH,
    name: 'x',
    length: OBJECT_BYTES,
    metainfo,
    bitfield: all,
    piecesHeld: pieces,
    complete: true,
    addedAt: 0,
    expiresAt: null,
    source: null,
  };
  const store = Object.assign(new EventEmitter(), {
    get: (h: string) => (h === INFO_HASH ? object : undefined),
    list: () => [object],
    metainfoOf: (h: string) => (h === INFO_HASH ? metainfo : undefined),
  });
  const cache = { getPiece: async (_h: string, i: number) => content.subarray(i * PIECE, (i + 1) * PIECE) };
  let recorder: InstanceType<typeof AccountingRecorder> | null = null;
  if (feature === 'acct') {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-wire-acct-'));
    recorder = new AccountingRecorder(await AccountingLog.open({ dir, agent: 'wire-overhead' }));
  }
  const server = createPeerWireServer({
    store: store as never,
    cache,
    port: 0,
    host: '127.0.0.1',
    limits: { maxQueuedRequests: DEPTH },
    ...(feature === 'qos' ? { qos: new Qos(resolveQos(UNBOUND_QOS)) } : {}),
    ...(recorder === null ? {} : { onSessionEnd: recorder.sessionEnded.bind(recorder) }),
  });
  if (recorder !== null) {
    const acct = recorder;
    setInterval(() => acct.interim(server.peers()), ACCT_INTERIM_MS).unref();
  }
  const { port } = await server.listen();
  console.log(`PORT ${port}`);
}

/** Raw client: handshake, interested, then keeps DEPTH requests in flight until totalMiB have arrived. */
async function client(port: number, totalMiB: number): Promise<void> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  sendHandshake(socket, INFO_HASH);
  const total = (totalMiB * 1024 * 1024) / BLOCK;
  const blocksPerObject = OBJECT_BYTES / BLOCK;
  let sent = 0;
  let received = 0;
  let started = 0;
  const requestMore = (n: number): void => {
    socket.write(encodeRequests(n, () => sent++ % blocksPerObject, PIECE, BLOCK));
  };
  const counter = new PieceCounter(() => {
    if (started !== 0) return;
    started = performance.now();
    requestMore(Math.min(DEPTH, total));
  });
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      const newlyReceived = counter.feed(chunk);
      if (newlyReceived > 0) {
        received += newlyReceived;
        const more = Math.min(newlyReceived, total - sent);
        if (more > 0) requestMore(more);
        if (received >= total) resolve();
      }
    });
  });
  console.log(`SECONDS ${((performance.now() - started) / 1000).toFixed(3)}`);
  socket.destroy();
}
