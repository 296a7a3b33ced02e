// The writer's HTTP lines, made byte by byte into the file's buffers: the same bytes JSON.stringify makes
// of the record (field order, number forms, escaping), the token redacted and its claims read, less run,
// agent and type, which read back from the line above that names them.
import { describe, expect, it } from 'vitest';
import { HttpLineFormatter } from '../../src/accounting/format.ts';
import { LineBuffers } from '../../src/accounting/line-buffers.ts';
import { dateTime, httpLineMembers, RecordLineReader, uriInfoHash, wholeLines } from '../../src/accounting/record.ts';
import { type RingHttp, RingReader, RingWriter, ringMemory } from '../../src/accounting/ring.ts';
import { signToken } from '../../src/auth/index.ts';
import type { ResponseEntry } from '../../src/http/index.ts';

const IH = 'ef'.repeat(20);
const token = signToken(
  { expires: 2e9, paths: ['/'], keyId: 'k2', subscriber: 'sip:bob@ims.example.net' },
  Buffer.alloc(32, 2),
);

/** The record as the line must hold it, in its order. */
function expected(seq: number, at: number, e: RingHttp): Record<string, unknown> {
  const { date, time } = dateTime(at);
  const tokenAt = e.target.indexOf('__token__=');
  const uri =
    tokenAt < 0
      ? e.target
      : `${e.target.slice(0, tokenAt + 10)}-${e.target.slice(e.target.indexOf('&', tokenAt) < 0 ? e.target.length : e.target.indexOf('&', tokenAt))}`;
  return {
    seq,
    run: 'r"1',
    agent: 'edge\\one',
    type: 'http',
    date,
    time,
    'time-taken': Math.round((e.durationMs / 1000) * 1000) / 1000,
    ...(e.remoteAddress === undefined ? {} : { 'c-ip': e.remoteAddress }),
    ...(e.remotePort === undefined ? {} : { 'c-port': e.remotePort }),
    'cs-method': e.method,
    'u-uri': uri,
    protocol: e.minorVersion === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
    'sc-status': e.status,
    'sc-entity-bytes': e.bodyBytes,
    ...(e.range === undefined ? {} : { 'cs(range)': e.range }),
    ...(e.source === undefined ? {} : { source: e.source }),
    ...(e.infoHash === undefined ? {} : { 's-ccid': e.infoHash }),
    ...(tokenAt < 0 ? {} : { subscriber: 'sip:bob@ims.example.net', 'token-key': 'k2' }),
  };
}

const entries: ResponseEntry[] = [
  {
    // An info hash its URI does not name (upper case): kept in the line.
    remoteAddress: '127.0.0.1',
    remotePort: 1,
    method: 'GET',
    target: `/objects/${IH.toUpperCase()}/f.bin?__token__=${token}`,
    infoHash: IH,
    minorVersion: 1,
    range: 'bytes=1-2',
    status: 206,
    bodyBytes: 2,
    durationMs: 0.5,
    source: 'cache',
  },
  {
    remoteAddress: '::ffff:127.0.0.1',
    remotePort: 50000,
    method: 'GET',
    target: `/objects/${IH}/f.bin?a=1&__token__=${token}&b=2`,
    infoHash: IH,
    minorVersion: 1,
    range: 'bytes=0-16383',
    status: 206,
    bodyBytes: 16384,
    durationMs: 0.0004,
    source: 'cache',
  },
  {
    remoteAddress: undefined,
    remotePort: undefined,
    method: 'HEAD',
    target: '/a"b\\c\u0001?x=\ud800',
    infoHash: undefined,
    minorVersion: 0,
    range: 'bytes="0-1",\u00e9\u0007\ud83d\ude00\udc00',
    status: 404,
    bodyBytes: 0,
    durationMs: 1234.5678,
  },
  {
    remoteAddress: '10.1.2.3',
    remotePort: 0,
    method: 'GET',
    target: `/pieces/${IH}/7`,
    infoHash: IH,
    minorVersion: 1,
    range: undefined,
    status: 200,
    bodyBytes: 2 ** 40 + 3,
    durationMs: 1000,
    source: 'pull-through',
  },
  {
    remoteAddress: '10.1.2.3',
    remotePort: 65535,
    method: 'GET',
    target: `/pieces/${IH}/7`,
    infoHash: IH,
    minorVersion: 1,
    range: 'bytes=0-1,\u00e9"',
    status: 200,
    bodyBytes: 1,
    durationMs: 12.3456,
    source: 'disk',
  },
];

describe('accounting HTTP lines', () => {
  it('are the bytes JSON.stringify makes of the record, across slots, seconds and escapes', () => {
    const memory = ringMemory(1 << 20);
    const writer = new RingWriter(memory);
    const reader = new RingReader(memory);
    const formatter = new HttpLineFormatter();
    const queue = new LineBuffers();
    const want: string[] = [];
    const whole: Array<Record<string, unknown>> = [];
    const start = Date.UTC(2026, 11, 4, 23, 59, 59, 990);
    for (let i = 0; i < 400; i += 1) {
      const e = entries[i % entries.length] as ResponseEntry;
      const at = start + i * 3;
      const seq = i === 7 ? 2 ** 40 : i + 1;
      expect(writer.http(seq, at, e)).toBe(true);
      const { run: _run, agent: _agent, type: _type, ...written } = expected(seq, at, e);
      // The info hash the URI names is left to it.
      if (e.infoHash !== undefined && uriInfoHash(e.target) === e.infoHash) delete written['s-ccid'];
      want.push(`${JSON.stringify(written)}\n`);
      whole.push(expected(seq, at, e));
    }
    reader.drain(
      (record) => formatter.write(record, queue),
      () => {},
    );
    const taken = queue.take();
    expect(taken.lines).toBe(400);
    const text = Buffer.concat(taken.buffers).toString('utf8');
    expect(taken.bytes).toBe(Buffer.byteLength(text));
    expect(
      text
        .split('\n')
        .slice(0, -1)
        .map((line) => `${line}\n`),
    ).toEqual(want);
    // Read back after the line that names the run (here a header), every member is there, in its order;
    // followers hear the same bytes.
    const lineReader = new RecordLineReader();
    expect(lineReader.read('{"run":"r\\"1","agent":"edge\\\\one"}')).toBe('header');
    const read = text
      .split('\n')
      .slice(0, -1)
      .map((line) => lineReader.read(line));
    expect(read.map((record) => JSON.stringify(record))).toEqual(whole.map((record) => JSON.stringify(record)));
    expect(wholeLines(text, httpLineMembers('r"1', 'edge\\one'))).toBe(
      whole.map((record) => `${JSON.stringify(record)}\n`).join(''),
    );
  });
});
