// The ring between the serving thread and the accounting writer: records come out as they went in, in
// order, across the wrap, each string as it was whether it crossed the ring or came from a slot; a full ring
// refuses a record (the log counts it lost) until the reader frees room, and strings of a refused record are
// sent again.
import { describe, expect, it } from 'vitest';
import { type RingHttp, RingReader, RingWriter, ringMemory } from '../../src/accounting/ring.ts';

const entry = (i: number) => ({
  remoteAddress: i % 2 === 0 ? '::1' : undefined,
  remotePort: i % 3 === 0 ? undefined : 40000 + i,
  method: 'GET',
  target: `/objects/${'ab'.repeat(20)}/f\u00e9.bin?x=\ud800&n=${i}`,
  infoHash: i % 5 === 0 ? undefined : 'ab'.repeat(20),
  minorVersion: (i % 2) as 0 | 1,
  range: i % 4 === 0 ? undefined : i % 7 === 0 ? `bytes=${i}-\u00e9\u20ac` : `bytes=${i}-${i + 99}`,
  status: 206,
  bodyBytes: 100 + i,
  durationMs: i / 7,
  ...(i % 3 === 0 ? { source: 'disk' as const } : {}),
});

describe('accounting ring', () => {
  it.each([
    ['typed arrays', true],
    ['a DataView (big-endian hosts)', false],
  ])('hands records over in order across many wraps, exact to the string, through %s', (_, littleEndian) => {
    const memory = ringMemory(4096);
    const writer = new RingWriter(memory, littleEndian);
    const reader = new RingReader(memory);
    const got: Array<{ seq: number; at: number; entry?: RingHttp; line?: string }> = [];
    let seq = 0;
    for (let round = 0; round < 200; round += 1) {
      for (let i = 0; i < 5; i += 1) {
        seq += 1;
        const ok =
          i === 4
            ? writer.line(seq, 1e12 + seq, 'wire', `"c-ip":"10.0.0.${i}","n":${seq}`)
            : writer.http(seq, 1e12 + seq, entry(seq));
        expect(ok).toBe(true);
      }
      reader.drain(
        (record) => got.push({ seq: record.seq, at: record.at, entry: record.entry() }),
        (s, at, type, members) => got.push({ seq: s, at, line: `${type} ${members}` }),
      );
    }
    expect(got.map((r) => r.seq)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    for (const record of got) {
      expect(record.at).toBe(1e12 + record.seq);
      if (record.seq % 5 === 0) expect(record.line).toBe(`wire "c-ip":"10.0.0.4","n":${record.seq}`);
      else expect(record.entry).toEqual({ ...entry(record.seq), source: entry(record.seq).source });
    }
  });

  it('refuses a record when full, and takes records again once the reader read', () => {
    const memory = ringMemory(1024);
    const writer = new RingWriter(memory);
    const reader = new RingReader(memory);
    let written = 0;
    while (writer.http(written + 1, 0, entry(1))) written += 1;
    expect(written).toBeGreaterThan(2);
    expect(writer.http(written + 1, 0, entry(1))).toBe(false);
    const seqs: number[] = [];
    expect(
      reader.drain(
        (record) => seqs.push(record.seq),
        () => {},
      ),
    ).toBe(written);
    expect(seqs).toEqual(Array.from({ length: written }, (_, i) => i + 1));
    expect(writer.http(written + 2, 0, entry(1))).toBe(true);
  });

  it('sends a string again after the record that gave it a slot was refused', () => {
    const memory = ringMemory(1024);
    const writer = new RingWriter(memory);
    const reader = new RingReader(memory);
    const got: RingHttp[] = [];
    const drain = () =>
      reader.drain(
        (record) => got.push(record.entry()),
        () => {},
      );
    let seq = 0;
    // Fill the ring with one target, then a new target and a new address are refused.
    while (writer.http(++seq, 0, entry(2))) {}
    const fresh = { ...entry(2), target: '/objects/new', remoteAddress: '10.9.9.9' };
    expect(writer.http(++seq, 0, fresh)).toBe(false);
    drain();
    got.length = 0;
    expect(writer.http(++seq, 0, fresh)).toBe(true);
    expect(writer.http(++seq, 0, entry(2))).toBe(true);
    drain();
    expect(got.map((e) => [e.target, e.remoteAddress])).toEqual([
      ['/objects/new', '10.9.9.9'],
      [entry(2).target, '::1'],
    ]);
  });

  it('keeps the strings of many fields apart as more strings than slots go round', () => {
    const memory = ringMemory(1 << 16);
    const writer = new RingWriter(memory);
    const reader = new RingReader(memory);
    const sent: RingHttp[] = [];
    const got: RingHttp[] = [];
    for (let i = 0; i < 500; i += 1) {
      // Targets and addresses from a pool larger than the slots, in an order that revisits old ones.
      const e = {
        ...entry(i),
        target: `/t/${(i * 7) % 13}`,
        remoteAddress: `10.0.0.${(i * 5) % 11}`,
        infoHash: `${(i * 3) % 10}`.repeat(40),
        method: i % 17 === 0 ? 'HEAD' : 'GET',
      };
      sent.push(e);
      expect(writer.http(i + 1, 0, e)).toBe(true);
      if (i % 37 === 0)
        reader.drain(
          (record) => got.push(record.entry()),
          () => {},
        );
    }
    reader.drain(
      (record) => got.push(record.entry()),
      () => {},
    );
    expect(got).toEqual(sent.map((e) => ({ ...e, source: e.source })));
  });
});
