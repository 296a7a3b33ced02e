import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AccountingLog, AccountingRecorder, readRecords, summarise, toCsv } from '../../src/accounting/index.ts';
import { RecordLineReader } from '../../src/accounting/record.ts';
import { signToken } from '../../src/auth/index.ts';

const IH = 'cd'.repeat(20);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-accounting-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function rawLines(folder: string, file = 'accounting.jsonl') {
  return (await readFile(join(folder, file), 'utf8')).split('\n').filter((line) => line !== '');
}

/** The file's records as read back (an HTTP record's line leaves out run, agent and type). */
async function lines(folder: string, file = 'accounting.jsonl') {
  const reader = new RecordLineReader();
  return (await rawLines(folder, file))
    .map((line) => reader.read(line))
    .filter((record) => record !== 'header') as unknown as Array<Record<string, unknown>>;
}

describe('accounting log', () => {
  it('writes each record within a second, numbered without gaps, and a stop record naming the last', async () => {
    const folder = join(dir, 'a');
    const log = await AccountingLog.open({ dir: folder, agent: 'edge1' });
    const recorder = new AccountingRecorder(log);
    const token = signToken(
      { expires: 2e9, paths: [`/objects/${IH}/`], keyId: 'k7', subscriber: 'sip:alice@ims.example.net' },
      Buffer.alloc(32, 1),
    );
    recorder.httpResponse({
      remoteAddress: '::1',
      remotePort: 50000,
      method: 'GET',
      target: `/objects/${IH}/f.bin?__token__=${token}`,
      infoHash: IH,
      minorVersion: 1,
      range: 'bytes=0-99,200-299',
      status: 206,
      bodyBytes: 512,
      durationMs: 12.3456,
    });
    // Durable without a flush call: the timer writes it (FLUSH_MS), well within a second.
    await vi.waitFor(async () => expect(await lines(folder)).toHaveLength(2), { timeout: 1000, interval: 20 });
    const [start, http] = await lines(folder);
    expect(start).toMatchObject({ seq: 1, type: 'start', agent: 'edge1' });
    expect(http).toMatchObject({
      seq: 2,
      type: 'http',
      'c-ip': '::1',
      'cs-method': 'GET',
      'u-uri': `/objects/${IH}/f.bin?__token__=-`,
      'sc-status': 206,
      'sc-entity-bytes': 512,
      'cs(range)': 'bytes=0-99,200-299',
      's-ccid': IH,
      subscriber: 'sip:alice@ims.example.net',
      'token-key': 'k7',
      'time-taken': 0.012,
    });
    expect(http?.date).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(http).toMatchObject({ run: log.run, agent: 'edge1' });
    // On disk the HTTP line leaves them to the start record above it.
    expect((await rawLines(folder))[1]).toMatch(/^\{"seq":2,"date":/);
    expect(JSON.stringify(await lines(folder))).not.toContain('hmac');

    const peer = { address: '10.0.0.2', port: 6881, infoHash: IH, connectedAt: Date.now() - 5000, uploadedBytes: 1000 };
    recorder.interim([peer as never]);
    recorder.sessionEnded({ ...peer, uploadedBytes: 1500 } as never);
    await log.close();
    const all = await lines(folder);
    expect(all.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(all.map((r) => r.type)).toEqual(['start', 'http', 'wire-interim', 'wire', 'stop']);
    expect(all.map((r) => r['sc-entity-bytes'] ?? 0)).toEqual([0, 512, 1000, 500, 0]);
    expect(all[4]).toMatchObject({ 'last-seq': 5 });
  });

  it('writes valid JSON for an agent name, request target and range that need escaping', async () => {
    const folder = join(dir, 'escape');
    const log = await AccountingLog.open({ dir: folder, agent: 'edge "one"' });
    const recorder = new AccountingRecorder(log);
    const token = signToken(
      { expires: 2e9, paths: ['/'], keyId: 'k1', subscriber: 'sip:alice@ims.example.net' },
      Buffer.alloc(32, 1),
    );
    const target = `/objects/${IH}/a"b\\c\u0001?x=\ud800&__token__=${token}`;
    recorder.httpResponse({
      remoteAddress: '::1',
      remotePort: 1,
      method: 'GET',
      target,
      infoHash: IH,
      minorVersion: 0,
      range: 'bytes="0-1"',
      status: 200,
      bodyBytes: 2,
      durationMs: 1,
    });
    await log.close();
    const [, http] = await lines(folder);
    expect(http).toMatchObject({
      agent: 'edge "one"',
      'u-uri': `/objects/${IH}/a"b\\c\u0001?x=\ud800&__token__=-`,
      'cs(range)': 'bytes="0-1"',
      subscriber: 'sip:alice@ims.example.net',
      'token-key': 'k1',
      protocol: 'HTTP/1.0',
    });
  });

  it('rotates by size, and the summary adds up every file and checks each run', async () => {
    const folder = join(dir, 'b');
    const log = await AccountingLog.open({ dir: folder, agent: 'edge2', rotateBytes: 4096 });
    const recorder = new AccountingRecorder(log);
    for (let i = 0; i < 60; i += 1) {
      recorder.httpResponse({
        remoteAddress: '127.0.0.1',
        remotePort: 1000 + i,
        method: 'GET',
        target: `/pieces/${IH}/${i}`,
        infoHash: IH,
        minorVersion: 1,
        range: undefined,
        status: 200,
        bodyBytes: 100,
        durationMs: 1,
      });
      if (i % 10 === 9) await log.flush();
    }
    await log.close();
    const files = (await readdir(folder)).filter((f) => f.startsWith('accounting'));
    expect(files.length).toBeGreaterThan(1);
    // A run killed after its first records: no stop record, and a line cut short.
    await writeFile(
      join(folder, 'accounting.jsonl'),
      `${JSON.stringify({ seq: 1, run: 'killed', agent: 'edge2', type: 'start', date: '2026-12-04', time: '12:00:00.000' })}\n{"seq":2,"ru`,
      { flag: 'a' },
    );
    const { records, unreadableLines } = await readRecords(folder);
    const summary = summarise(records, { periodMs: 3_600_000, by: ['object'] }, unreadableLines);
    expect(summary.rows).toEqual([
      { subscriber: '*', object: IH, period: '*', records: 60, httpResponses: 60, wireRecords: 0, bytes: 6000 },
    ]);
    expect(summary.runs.find((r) => r.run === log.run)).toMatchObject({
      firstSeq: 1,
      lastSeq: 62,
      missing: 0,
      stopped: true,
    });
    expect(summary.runs.find((r) => r.run === 'killed')).toMatchObject({ stopped: false });
    expect(summary.unreadableLines).toBe(1);
    expect(toCsv(summary.rows)).toBe(
      `period,subscriber,object,records,http_responses,wire_records,bytes\n*,*,${IH},60,60,0,6000\n`,
    );
    // Each file the run rotated to begins with a header line naming it.
    const setAside = files.filter((f) => f !== 'accounting.jsonl').sort();
    for (const file of [...setAside.slice(1), 'accounting.jsonl']) {
      expect(JSON.parse((await rawLines(folder, file))[0] as string)).toEqual({ run: log.run, agent: 'edge2' });
    }

    // A new run appending to the file whose last line was cut short: its HTTP records are its own.
    const next = await AccountingLog.open({ dir: folder, agent: 'edge2b' });
    new AccountingRecorder(next).httpResponse({
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      method: 'GET',
      target: `/pieces/${IH}/0`,
      infoHash: IH,
      minorVersion: 1,
      range: undefined,
      status: 200,
      bodyBytes: 7,
      durationMs: 1,
    });
    await next.close();
    const again = await readRecords(folder);
    expect(again.unreadableLines).toBe(1);
    expect(again.records.filter((r) => r.run === next.run).map((r) => [r.seq, r.type, r.agent])).toEqual([
      [1, 'start', 'edge2b'],
      [2, 'http', 'edge2b'],
      [3, 'stop', 'edge2b'],
    ]);
    expect(again.records.filter((r) => r.run === 'killed')).toHaveLength(1);
  });
});

describe('accounting log followers', () => {
  it('counts records written when a follower throws, drops that follower and still tells the others', async () => {
    const folder = join(dir, 'followers');
    const log = await AccountingLog.open({ dir: folder, agent: 'edge3' });
    const heard: number[] = [];
    let throwing = 0;
    log.follow(() => {
      throwing += 1;
      throw new Error('a collector went away badly');
    });
    log.follow((_lines, firstSeq) => heard.push(firstSeq));
    log.add({ type: 'http', 'sc-status': 200 });
    await log.flush();
    log.add({ type: 'http', 'sc-status': 200 });
    await log.flush();
    expect(log.counters()).toMatchObject({ written: 3, lost: 0 });
    expect(heard).toEqual([1, 3]);
    expect(throwing).toBe(1);
    await log.close();
    const all = await lines(folder);
    expect(all.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(log.counters()).toMatchObject({ written: 4, lost: 0 });
  });
});

describe('accounting log under a burst larger than its ring', () => {
  it('counts the records that found the ring full as lost, and their seqs are the gap the summary shows', async () => {
    const folder = join(dir, 'burst');
    const log = await AccountingLog.open({ dir: folder, agent: 'edge4', ringBytes: 8192 });
    const recorder = new AccountingRecorder(log);
    // Synchronously, faster than the writer (every 250 ms) can read: most find the ring full.
    for (let i = 0; i < 2000; i += 1) {
      recorder.httpResponse({
        remoteAddress: '127.0.0.1',
        remotePort: 1000,
        method: 'GET',
        target: `/pieces/${IH}/${i}`,
        infoHash: IH,
        minorVersion: 1,
        range: undefined,
        status: 200,
        bodyBytes: 1,
        durationMs: 1,
      });
    }
    await log.close();
    const { records, unreadableLines } = await readRecords(folder);
    const { lost, written } = log.counters();
    expect(lost).toBeGreaterThan(0);
    expect(written + lost).toBe(2002);
    expect(records).toHaveLength(written);
    const [run] = summarise(records, { periodMs: 3_600_000, by: [] }, unreadableLines).runs;
    expect(run).toMatchObject({ firstSeq: 1, lastSeq: 2002, missing: lost, stopped: true });
  });
});
