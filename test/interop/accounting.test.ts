// Accounting records against what real clients received: a python3-libtorrent download over the peer wire
// (found through edgepeer's tracker) and a curl session of several requests with multi-range ones add up
// to the bytes each client counted (within 0.1 %). Then the agent as a real process, killed with SIGKILL
// during a download: the records on disk cover every response that ended more than a second before the
// kill, their sequence numbers have no gap, and `edgepeer accounting` reports the run as cut short.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccountingRecord, readRecords } from '../../src/accounting/index.ts';
import { Agent, type AgentAddresses } from '../../src/agent/index.ts';
import { createTracker, type Tracker } from '../../src/tracker/index.ts';
import { loopbackHttp, testAgentConfig } from '../helpers/agent.ts';
import { edgepeer } from '../helpers/cli.ts';
import { run } from '../http/interop-fixtures.ts';
import { startLtLeecher } from './tracker-support.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const SIZE = 6 * 1024 * 1024 + 12345;
let dir: string;
let data: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-accounting-'));
  data = Buffer.alloc(SIZE);
  for (let i = 0; i + 4 <= SIZE; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  await writeFile(join(dir, 'show.bin'), data);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const sum = (records: AccountingRecord[]) => records.reduce((total, r) => total + (r['sc-entity-bytes'] ?? 0), 0);

describe('accounting records', () => {
  let tracker: Tracker;
  let trackerUrl: string;
  let agent: Agent;
  let infoHash: string;
  const accountingDir = () => join(dir, 'accounting-inproc');

  beforeAll(async () => {
    tracker = createTracker({ host: '127.0.0.1', udp: false });
    const { announceUrl } = await tracker.listen();
    trackerUrl = announceUrl;
    agent = await Agent.start(
      testAgentConfig(dir, {
        http: loopbackHttp(),
        announce: true,
        trackers: [announceUrl],
        accounting: { dir: accountingDir(), interimMs: 200, rotateBytes: 64 * 1024 * 1024, rotateMs: 3_600_000 },
      }),
      pino({ level: 'silent' }),
    );
    await agent.operations.ingest({ sources: [join(dir, 'show.bin')], options: { pieceLength: 256 * 1024 } }, (r) => {
      infoHash = r.infoHash ?? '';
    });
    await agent.announceNow(infoHash);
  });
  afterAll(async () => {
    await agent?.stop();
    await tracker?.close();
  });

  it('adds up to the bytes of a curl session with multi-range requests', async () => {
    const url = `http://127.0.0.1:${agent.where().httpPort}/objects/${infoHash}/show.bin`;
    // One curl, one connection, four requests: two multipart/byteranges answers, a plain range, a whole body.
    const each = (range: string | null, file: string) => [
      '-sS',
      '-w',
      '%{size_download}\\n',
      ...(range === null ? [] : ['-r', range]),
      '-o',
      join(dir, file),
      url,
    ];
    const { stdout } = await run('curl', [
      ...each('0-999,5000-5999,3000000-3100000', 'a'),
      '--next',
      ...each('10-20,1000000-1999999', 'b'),
      '--next',
      ...each('123-45678', 'c'),
      '--next',
      ...each(null, 'd'),
    ]);
    const received = stdout
      .trim()
      .split('\n')
      .reduce((total, n) => total + Number(n), 0);
    expect((await readFile(join(dir, 'd'))).equals(data)).toBe(true);
    const records = await waitForRecords(accountingDir(), (all) => all.filter((r) => r.type === 'http').length >= 4);
    const http = records.filter((r) => r.type === 'http');
    expect(http.map((r) => r['sc-status'])).toEqual([206, 206, 206, 200]);
    expect(http[0]?.['cs(range)']).toBe('bytes=0-999,5000-5999,3000000-3100000');
    expect(http.every((r) => r['s-ccid'] === infoHash)).toBe(true);
    expect(http.every((r) => r.source === 'cache' || r.source === 'disk')).toBe(true);
    expect(Math.abs(sum(http) - received) / received).toBeLessThan(0.001);
    expect(agent.status().accounting).toMatchObject({ lost: 0 });
    expect(await agent.metrics.getSingleMetricAsString('edgepeer_accounting_records_total')).toMatch(
      /edgepeer_accounting_records_total\{result="written"\} [1-9]/,
    );
  });

  it('adds up to the payload a libtorrent leecher received over the peer wire', async () => {
    const torrent = join(dir, 'show.torrent');
    await writeFile(torrent, (await agent.operations.torrent(infoHash)).data);
    const leecher = startLtLeecher(torrent, join(dir, 'lt'), { tracker: trackerUrl, timeoutS: 60 });
    const result = await leecher.result;
    await leecher.stop();
    expect(result.seeding).toBe(true);
    expect((await readFile(join(dir, 'lt', 'show.bin'))).equals(data)).toBe(true);
    // The session's last record comes when the connection closes.
    const records = await waitForRecords(accountingDir(), (all) => all.some((r) => r.type === 'wire'));
    const wire = records.filter((r) => r.type === 'wire' || r.type === 'wire-interim');
    expect(wire.every((r) => r['s-ccid'] === infoHash && r.protocol === 'BitTorrent')).toBe(true);
    expect(result.payloadDownloaded).toBeGreaterThanOrEqual(SIZE);
    expect(Math.abs(sum(wire) - result.payloadDownloaded) / result.payloadDownloaded).toBeLessThan(0.001);
  });
});

describe('accounting records of an agent killed with SIGKILL', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('lose at most the last second, and the sequence numbers and summary show where the run stopped', async () => {
    const dataDir = join(dir, 'store-kill');
    const accounting = join(dir, 'accounting-kill');
    const configFile = join(dir, 'kill.yaml');
    await writeFile(
      configFile,
      [
        `dataDir: ${dataDir}`,
        'logLevel: warn',
        'announce: false',
        'peer: { port: 0, host: 127.0.0.1 }',
        'http: { port: 0, host: 127.0.0.1 }',
        'admin: { listen: 127.0.0.1:0 }',
        `accounting: { dir: ${accounting}, interim: 200ms }`,
        '',
      ].join('\n'),
    );
    child = spawn(process.execPath, [RUN, 'agent', '--config', configFile, '--json'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const [first] = (await once(reader, 'line')) as [string];
    const where = JSON.parse(first) as AgentAddresses;
    const ingested = await edgepeer([
      'ingest',
      join(dir, 'show.bin'),
      '--piece-length',
      '64KiB',
      '--data-dir',
      dataDir,
      '--json',
    ]);
    expect(ingested.code).toBe(0);
    const hash = ingested.lines[0]?.infoHash as string;

    // A client fetching piece after piece (round and round), noting when each response ended; the agent is
    // killed once responses have been ending for 1.5 s, so some ended more than a second before the kill.
    const ended: number[] = [];
    let killedAt = 0;
    const pieces = Math.ceil(SIZE / 65536);
    for (let i = 0; killedAt === 0; i += 1) {
      const answer = await request(`http://127.0.0.1:${where.httpPort}/pieces/${hash}/${i % pieces}`);
      await answer.body.arrayBuffer();
      ended.push(Date.now());
      if (ended.length > 1 && Date.now() - (ended[0] as number) >= 1500) {
        killedAt = Date.now();
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    expect(killedAt).toBeGreaterThan(0);
    const { records } = await readRecords(accounting);
    const http = records.filter((r) => r.type === 'http');
    // Every response that ended a second or more before the kill is on disk.
    const endedBefore = ended.filter((t) => t <= killedAt - 1000).length;
    expect(endedBefore).toBeGreaterThan(0);
    expect(http.length).toBeGreaterThanOrEqual(endedBefore);
    expect(http.length).toBeLessThanOrEqual(ended.length);
    // One run, numbered from 1 without a gap, and no stop record.
    const seqs = records.map((r) => r.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(records.some((r) => r.type === 'stop')).toBe(false);
    const summary = await edgepeer(['accounting', '--dir', accounting, '--by', 'object', '--json']);
    expect(summary.code).toBe(0);
    const runLine = summary.lines.find((line) => line.kind === 'run');
    expect(runLine).toMatchObject({ stopped: false, missing: 0, firstSeq: 1 });
    const group = summary.lines.find((line) => line.kind === 'group');
    expect(group).toMatchObject({ object: hash, httpResponses: http.length, bytes: sum(http) });
    const text = await edgepeer(['accounting', '--dir', accounting]);
    expect(text.stderr).toContain('no stop record');
  });
});

/** The records in `folder` once `accept` holds (read every 50 ms, for up to 10 s). */
async function waitForRecords(
  folder: string,
  accept: (records: AccountingRecord[]) => boolean,
): Promise<AccountingRecord[]> {
  for (let tries = 0; tries < 200; tries += 1) {
    const { records } = await readRecords(folder).catch(() => ({ records: [] as AccountingRecord[] }));
    if (accept(records)) return records;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the records in ${folder} never got there`);
}
