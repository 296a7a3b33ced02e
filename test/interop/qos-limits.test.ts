// Egress limits on a real agent (src/qos, docs/qos.md): python3-libtorrent over the peer wire and curl over
// HTTP download together from an agent limited to 5 MB/s, and get 5 MB/s together; the limit raised through
// the admin API holds within a second; two objects in classes weighted 3:1 split the rate 3:1. Rates are
// the agent's own counts of bytes handed to the sockets, over a window after both transfers started.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readToken } from '../../src/admin/index.ts';
import { Agent } from '../../src/agent/index.ts';
import { resolveQos } from '../../src/qos/index.ts';
import { loopbackHttp, testAgentConfig } from '../helpers/agent.ts';
import { libtorrentLeech } from '../wire/interop-support.ts';

const MB = 1_000_000;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-qos-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startAgent(name: string, qos: Record<string, unknown>) {
  const config = testAgentConfig(join(dir, name), {
    http: loopbackHttp(),
    admin: { host: '127.0.0.1', port: 0 },
    qos: resolveQos(qos),
  });
  return Agent.start(config, pino({ level: 'silent' }));
}

async function ingest(agent: Agent, file: string, bytes: Buffer): Promise<string> {
  await writeFile(file, bytes);
  let infoHash = '';
  await agent.operations.ingest({ sources: [file], options: { pieceLength: 256 * 1024 } }, (result) => {
    infoHash = result.infoHash ?? '';
  });
  return infoHash;
}

/** Bytes the agent's servers handed to sockets so far: peer wire and HTTP. */
function sentBytes(agent: Agent): { wire: number; http: number } {
  const status = agent.status();
  return { wire: status.wire.uploadedBytes, http: status.http?.bytesSent ?? 0 };
}

function curl(url: string, output: string): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn('curl', ['-sS', '--max-time', '120', '-o', output, url], { stdio: 'ignore' });
  return { child, done: once(child, 'exit').then(([code]) => code as number | null) };
}

/** Resolves once `accept` holds, checked every 50 ms (the transfers start at their own pace). */
async function until(accept: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!accept()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const elapsed = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('QoS egress limits against libtorrent and curl', () => {
  it('holds a leecher and an HTTP download to 5 MB/s together (within 5 % over 10 s); a raise through the admin API holds within a second', async () => {
    const agent = await startAgent('global', { rate: 5 * MB });
    const children: ChildProcess[] = [];
    try {
      const content = randomBytes(96 * 1024 * 1024);
      const infoHash = await ingest(agent, join(dir, 'global.bin'), content);
      const torrent = join(dir, 'global.torrent');
      await writeFile(torrent, (await agent.operations.torrent(infoHash)).data);
      const leech = libtorrentLeech(
        [
          '--torrent',
          torrent,
          '--save',
          join(dir, 'lt'),
          '--peer',
          `127.0.0.1:${agent.where().peerPort}`,
          '--timeout',
          '110',
        ],
        120_000,
      );
      const httpOut = join(dir, 'curl.bin');
      const download = curl(`${agent.where().httpBaseUrls[0]}/objects/${infoHash}/global.bin`, httpOut);
      children.push(download.child);

      await until(() => sentBytes(agent).wire > 0 && sentBytes(agent).http > 0, 'both transfers to start');
      // Past the buckets' initial burst and the clients' ramp-up.
      await elapsed(1000);
      const before = sentBytes(agent);
      const started = performance.now();
      await elapsed(10_000);
      const after = sentBytes(agent);
      const seconds = (performance.now() - started) / 1000;
      const wireRate = (after.wire - before.wire) / seconds;
      const httpRate = (after.http - before.http) / seconds;
      expect(Math.abs((wireRate + httpRate) / (5 * MB) - 1), `wire ${wireRate} + http ${httpRate} B/s`).toBeLessThan(
        0.05,
      );
      expect(wireRate).toBeGreaterThan(0.5 * MB);
      expect(httpRate).toBeGreaterThan(0.5 * MB);

      // 20 MB/s through the admin API: the very next second runs well above the old limit.
      const token = await readToken(join(agent.config.dataDir, 'admin.token'));
      const response = await request(`${agent.where().adminUrl}/v1/qos`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ rate: 20 * MB }),
      });
      expect(response.statusCode).toBe(200);
      expect(await response.body.json()).toMatchObject({ active: true, effectiveRate: 20 * MB });
      const raisedAt = sentBytes(agent);
      const raisedStart = performance.now();
      await elapsed(1000);
      const oneSecond = sentBytes(agent);
      const raisedRate =
        (oneSecond.wire + oneSecond.http - raisedAt.wire - raisedAt.http) / ((performance.now() - raisedStart) / 1000);
      expect(raisedRate).toBeGreaterThan(12 * MB);
      expect(raisedRate).toBeLessThan(21 * MB);

      // No limit: both finish, and what they got is the content (libtorrent checks every piece's SHA-1).
      agent.setQos({ rate: 0 });
      const result = await leech;
      expect(result).toMatchObject({ done: true, problems: [] });
      expect(await download.done).toBe(0);
      const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex');
      expect(digest(await readFile(httpOut))).toBe(digest(content));
      expect(digest(await readFile(join(dir, 'lt', 'global.bin')))).toBe(digest(content));
    } finally {
      for (const child of children) child.kill();
      await agent.stop();
    }
  });

  it('splits a saturated limit 3:1 between two objects in classes weighted 3:1 (within 10 %)', async () => {
    const agent = await startAgent('classes', { rate: 8 * MB });
    const children: ChildProcess[] = [];
    try {
      const gold = await ingest(agent, join(dir, 'gold.bin'), randomBytes(64 * 1024 * 1024));
      const bronze = await ingest(agent, join(dir, 'bronze.bin'), randomBytes(64 * 1024 * 1024));
      agent.setQos({ classes: 'gold:3,bronze:1', objectClasses: `${gold}=gold,${bronze}=bronze` });
      const base = agent.where().httpBaseUrls[0];
      for (const [hash, name] of [
        [gold, 'gold.bin'],
        [bronze, 'bronze.bin'],
      ] as const) {
        children.push(curl(`${base}/objects/${hash}/${name}`, '/dev/null').child);
      }
      const classSent = () => {
        const classes = agent.qosStatus().classes;
        return {
          gold: classes.find((c) => c.name === 'gold')!.sentBytes,
          bronze: classes.find((c) => c.name === 'bronze')!.sentBytes,
        };
      };
      await until(() => classSent().gold > 0 && classSent().bronze > 0, 'both downloads to start');
      await elapsed(1000);
      const before = classSent();
      await elapsed(5000);
      const after = classSent();
      const ratio = (after.gold - before.gold) / (after.bronze - before.bronze);
      expect(ratio, `gold ${after.gold - before.gold} B, bronze ${after.bronze - before.bronze} B`).toBeGreaterThan(
        2.7,
      );
      expect(ratio).toBeLessThan(3.3);
    } finally {
      for (const child of children) child.kill();
      await agent.stop();
    }
  });
});
