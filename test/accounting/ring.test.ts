// The ring between the serving thread and the accounting writer: records come out as they went in, in
// order, across the wrap; a full ring refuses a record (the log counts it lost) until the reader frees room.
import { describe, expect, it } from 'vitest';
import { type RingHttp, RingReader, RingWriter, ringMemory } from '../../src/accounting/ring.ts';

const entry = (i: number) => ({
  remoteAddress: i % 2 === 0 ? '::1' : undefined,
  remotePort: i % 3 === 0 ? undefined : 40000 + i,
  method: 'GET',
  target: `/objects/${'ab'.repeat(20)}/f\u00e9.bin?x=\ud800&n=${i}`,
  infoHash: i % 5 === 0 ? undefined : 'ab'.repeat(20),
  minorVersion: (i % 2) as 0 | 1,
  range: i % 4 === 0 ? undefined : `bytes=${i}-${i + 99}`,
  status: 206,
  bodyBytes: 100 + i,
  durationMs: i / 7,
  ...(i % 3 === 0 ? { source: 'disk' as const } : {}),
});

describe('accounting ring', () => {
  it('hands records over in order across many wraps, exact to the string', () => {
    const memory = ringMemory(4096);
    const writer = new RingWriter(memory);
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
        (s, at, e) => got.push({ seq: s, at, entry: e }),
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
        (s) => seqs.push(s),
        () => {},
      ),
    ).toBe(written);
    expect(seqs).toEqual(Array.from({ length: written }, (_, i) => i + 1));
    expect(writer.http(written + 2, 0, entry(1))).toBe(true);
  });
});
