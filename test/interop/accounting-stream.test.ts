// The admin API streams accounting records to a collector, here curl (-N, a real HTTP consumer): NDJSON,
// only records already durable, resumable from the last sequence number it holds with nothing missed or
// repeated, behind the admin token.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountingRecord } from '../../src/accounting/index.ts';
import { Agent } from '../../src/agent/index.ts';
import { loopbackHttp, testAgentConfig } from '../helpers/agent.ts';
import { run } from '../http/interop-fixtures.ts';

/** curl following the stream: each record as it arrives. */
function collector(url: string, token: string) {
  const child: ChildProcess = spawn('curl', ['-sSN', '-H', `Authorization: Bearer ${token}`, url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const records: AccountingRecord[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    records.push(JSON.parse(line) as AccountingRecord);
    for (const wake of waiters.splice(0)) wake();
  });
  /** Resolves once `check` holds for the records received (checked at each record). */
  const until = (check: (all: AccountingRecord[]) => boolean) =>
    new Promise<void>((resolve) => {
      const test = (): void => (check(records) ? resolve() : void waiters.push(test));
      test();
    });
  return { child, records, until, stop: () => child.kill('SIGTERM') };
}

describe('accounting records streamed by the admin API', () => {
  let dir: string;
  let agent: Agent;
  let token: string;
  let streamUrl: string;
  let objectUrl: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-accounting-stream-'));
    await writeFile(join(dir, 'clip.bin'), Buffer.alloc(300_000, 7));
    agent = await Agent.start(
      testAgentConfig(dir, {
        http: loopbackHttp(),
        admin: { host: '127.0.0.1', port: 0, tokenFile: join(dir, 'admin.token'), dashboard: false },
        accounting: { dir: join(dir, 'accounting'), interimMs: 60_000, rotateBytes: 1 << 26, rotateMs: 3_600_000 },
      }),
      pino({ level: 'silent' }),
    );
    let infoHash = '';
    await agent.operations.ingest({ sources: [join(dir, 'clip.bin')], options: { pieceLength: 65536 } }, (r) => {
      infoHash = r.infoHash ?? '';
    });
    token = (await readFile(join(dir, 'admin.token'), 'utf8')).trim();
    streamUrl = `${agent.where().adminUrl}/v1/accounting/stream`;
    objectUrl = `http://127.0.0.1:${agent.where().httpPort}/objects/${infoHash}/clip.bin`;
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await agent?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const fetchRange = async (range: string) => {
    const answer = await request(objectUrl, { headers: { range } });
    return (await answer.body.arrayBuffer()).byteLength;
  };

  it('refuses a collector without the admin token', async () => {
    const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', streamUrl]);
    expect(stdout).toBe('401');
  });

  it('sends each record once durable, and a resumed stream carries on from the last seq held', async () => {
    const first = collector(`${streamUrl}?since=0`, token);
    children.push(first.child);
    await first.until((all) => all.some((r) => r.type === 'start'));
    const sizes = [await fetchRange('bytes=0-999'), await fetchRange('bytes=70000-140000')];
    await first.until((all) => all.filter((r) => r.type === 'http').length >= 2);
    const http = first.records.filter((r) => r.type === 'http');
    expect(http.map((r) => r['sc-entity-bytes'])).toEqual(sizes);
    expect(http.map((r) => r.source)).toEqual([expect.stringMatching(/^(cache|disk)$/), expect.any(String)]);
    const seqs = first.records.map((r) => r.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1)); // from 1, in order, no gap
    first.stop();

    // While no collector listens, two more responses; the collector comes back with the last seq it holds.
    const lastHeld = seqs.at(-1) as number;
    const more = [await fetchRange('bytes=5-9'), await fetchRange('bytes=200000-299999')];
    const resumed = collector(`${streamUrl}?since=${lastHeld}`, token);
    children.push(resumed.child);
    await resumed.until((all) => all.filter((r) => r.type === 'http').length >= 2);
    expect(resumed.records.map((r) => r.seq)).toEqual([lastHeld + 1, lastHeld + 2]);
    expect(resumed.records.map((r) => r['sc-entity-bytes'])).toEqual(more);
    // ...and goes on live.
    const live = await fetchRange('bytes=1-1');
    await resumed.until((all) => all.length >= 3);
    expect(resumed.records[2]).toMatchObject({ seq: lastHeld + 3, type: 'http', 'sc-entity-bytes': live });
    expect(new Set(resumed.records.map((r) => r.run)).size).toBe(1);
    resumed.stop();
  });
});
