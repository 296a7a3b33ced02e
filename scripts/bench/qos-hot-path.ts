// The egress limiter's own work per HTTP request and per peer wire block with limits configured but not
// binding (src/qos), without the server around it: what scripts/bench/http-hot-path.ts and
// wire-overhead.ts can only see through their noise. Three ways of sending, interleaved round by round,
// CPU time of this thread, median of the rounds:
// - `per response`: a flow opened, charged once and closed per request (what the HTTP server did before
//   its flows became the connection's);
// - `per connection`: what the HTTP server does per request now (load shedding's admit, the connection's
//   flow checked and charged);
// - `per block`: what the wire server does per 16 KiB block (one charge of its connection's flow).
// usage: node scripts/bench/qos-hot-path.ts [ROUNDS=11] [PER_ROUND=2000000]
// (this VM's thread CPU clock moves in 4 ms ticks: a round must take tens of ms to be resolved)
import { type Flow, Qos, resolveQos } from '../../src/qos/index.ts';

const rounds = Number(process.argv[2] ?? 11);
const perRound = Number(process.argv[3] ?? 2_000_000);
// Every scope limited and two classes, as in http.sh's fit-qos; 10 TB/s, far above what these loops send
// (a round sends at up to 1e12 B/s, enough to bind the 100 GB/s the end-to-end benchmarks use).
const qos = new Qos(
  resolveQos({
    rate: 1e13,
    httpRate: 1e13,
    wireRate: 1e13,
    objectRate: 1e13,
    clientRate: 1e13,
    classes: 'gold:3,bronze:1',
  }),
);
const HASH = 'ab'.repeat(20);
const BLOCK = 16 * 1024;

function perResponse(): void {
  for (let i = 0; i < perRound; i += 1) {
    if (!qos.admit('http')) throw new Error('shedding');
    const flow = qos.active ? qos.open('http', HASH, '127.0.0.1', undefined, undefined) : null;
    if (flow !== null && !flow.take(BLOCK)) throw new Error('the limits bind');
    flow?.close();
  }
}

const connection = { held: null as Flow | null };
function perConnection(): void {
  for (let i = 0; i < perRound; i += 1) {
    if (!qos.admit('http')) throw new Error('shedding');
    let flow: Flow | null = null;
    if (qos.active) {
      const held = connection.held;
      if (held !== null && held.objectKey === HASH && held.subscriber === undefined && !held.closed) flow = held;
      else {
        held?.close();
        flow = qos.open('http', HASH, '127.0.0.1', undefined, undefined);
        connection.held = flow;
      }
    }
    if (flow !== null && !flow.take(BLOCK)) throw new Error('the limits bind');
  }
}

const wireFlow = qos.open('wire', HASH, '127.0.0.2', () => {})!;
function perBlock(): void {
  for (let i = 0; i < perRound; i += 1) if (!wireFlow.take(BLOCK)) throw new Error('the limits bind');
}

const ways: Array<[string, () => void]> = [
  ['per response', perResponse],
  ['per connection', perConnection],
  ['per block', perBlock],
];
const ns = ways.map(() => [] as number[]);
const cpuNs = () => {
  const cpu = process.threadCpuUsage();
  return (cpu.user + cpu.system) * 1000;
};
for (let round = 0; round < rounds; round += 1) {
  for (let k = 0; k < ways.length; k += 1) {
    const w = round % 2 === 0 ? k : ways.length - 1 - k;
    const start = cpuNs();
    ways[w]![1]();
    ns[w]!.push((cpuNs() - start) / perRound);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
for (let w = 0; w < ways.length; w += 1) {
  const [name] = ways[w]!;
  const values = ns[w]!.slice(1); // the first round warms up
  console.log(
    `${name}: median ${median(values).toFixed(1)} ns of limiter work (rounds ${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)})`,
  );
}
connection.held?.close();
wireFlow.close();
qos.stop();
