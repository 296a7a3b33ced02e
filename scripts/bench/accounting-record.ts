// The accounting record's cost on each side of the ring, without a server: the serving thread's copy into
// the ring (RingWriter.http) of entries whose strings are made as the HTTP/1.1 parser makes them (slices of
// a head decoded from bytes, so a repeated target is equal but not the same object), and the writer's
// drain and formatting of those records into the bytes it writes (HttpLineFormatter). CPU time of this
// thread per record; the first round warms up.
// usage: node scripts/bench/accounting-record.ts [RECORDS_PER_ROUND=200000] [ROUNDS=6]
import { HttpLineFormatter } from '../../src/accounting/format.ts';
import { LineBuffers } from '../../src/accounting/line-buffers.ts';
import { RingReader, RingWriter, ringMemory } from '../../src/accounting/ring.ts';

const perRound = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 6);
const IH = 'ab'.repeat(20);
const memory = ringMemory(16 * 1024 * 1024);
const ring = new RingWriter(memory);
const reader = new RingReader(memory);
const formatter = new HttpLineFormatter();
const queue = new LineBuffers();
const heads = Array.from({ length: 64 }, (_, i) =>
  Buffer.from(
    `GET /objects/${IH}/object.bin HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nRange: bytes=${i * 16384}-${i * 16384 + 16383}\r\n\r\n`,
  ),
);
const cpuNs = (since: NodeJS.CpuUsage) => {
  const used = process.threadCpuUsage(since);
  return (used.user + used.system) * 1000;
};

let seq = 0;
for (let round = 1; round <= rounds; round += 1) {
  let parseNs = 0;
  let ringNs = 0;
  let formatNs = 0;
  let bytes = 0;
  // In batches that fit the ring: the entries made first (their cost measured alone), then copied in,
  // then drained and formatted.
  for (let done = 0; done < perRound; done += 4096) {
    const entries = [];
    let since = process.threadCpuUsage();
    for (let i = 0; i < 4096; i += 1) {
      const text = (heads[i & 63] as Buffer).toString('latin1');
      const firstSpace = text.indexOf(' ');
      const lastSpace = text.indexOf(' ', firstSpace + 1);
      const rangeAt = text.indexOf('Range: ') + 7;
      entries.push({
        remoteAddress: '127.0.0.1',
        remotePort: 50000,
        method: 'GET',
        target: text.slice(firstSpace + 1, lastSpace),
        infoHash: IH,
        minorVersion: 1 as const,
        range: text.slice(rangeAt, text.indexOf('\r', rangeAt)),
        status: 206,
        bodyBytes: 16384,
        durationMs: 0.05,
        source: 'cache' as const,
      });
    }
    parseNs += cpuNs(since);
    since = process.threadCpuUsage();
    const at = Date.now();
    for (const entry of entries) {
      seq += 1;
      ring.http(seq, at, entry);
    }
    ringNs += cpuNs(since);
    since = process.threadCpuUsage();
    reader.drain(
      (record) => formatter.write(record, queue),
      () => {},
    );
    formatNs += cpuNs(since);
    const taken = queue.take();
    bytes += taken.bytes;
    queue.release(taken.buffers);
  }
  const records = Math.ceil(perRound / 4096) * 4096;
  console.log(
    `round ${round}: ring write ${(ringNs / records).toFixed(0)} ns, drain + format ${(formatNs / records).toFixed(0)} ns a record (${(bytes / records).toFixed(0)} bytes a line; making the entries ${(parseNs / records).toFixed(0)} ns, not counted)`,
  );
}
