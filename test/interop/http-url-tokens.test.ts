// Signed URL tokens on a real agent, fetched with curl: good tokens (query, header, cookie) are served;
// tampered, expired, wrong-key, wrong-path and missing ones are refused (403, 410 when only expired), each
// counted by reason and logged without the token. Then a key rotation during a download: a new key added by
// reload, the old one retired by the next, while a rate-limited curl goes on with its old token: nothing fails.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, type AgentConfig } from '../../src/agent/index.ts';
import { signToken } from '../../src/auth/index.ts';
import { DEFAULT_QOS } from '../../src/qos/index.ts';
import { loopbackHttp, testAgentConfig } from '../helpers/agent.ts';
import { captureLog } from '../helpers/log.ts';
import { run } from '../http/interop-fixtures.ts';

const KEY1 = Buffer.alloc(32, 1);
const KEY2 = Buffer.alloc(32, 2);
const SIZE = 4 * 1024 * 1024;

let dir: string;
let agent: Agent;
let config: AgentConfig;
let base: string;
let infoHash: string;
let data: Buffer;
const log = captureLog('info');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-url-tokens-'));
  await writeFile(join(dir, 'k1'), KEY1.toString('hex'));
  await writeFile(join(dir, 'k2'), KEY2.toString('hex'));
  config = testAgentConfig(dir, {
    http: { ...loopbackHttp(), accessLog: join(dir, 'access.log'), tokenKeys: [{ id: 'k1', file: join(dir, 'k1') }] },
    // The slow download below is held to 1 MiB/s by the agent's own egress limit: curl's --limit-rate
    // (Debian's 7.88) lets a fast sender's bytes through at full speed (4 MiB in 41 ms from nginx over
    // HTTP/1.0), and the download ended before the keys were rotated.
    qos: { ...DEFAULT_QOS, httpRate: 1024 * 1024 },
  });
  agent = await Agent.start(config, log.logger);
  base = `http://127.0.0.1:${agent.where().httpPort}`;
  data = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  await writeFile(join(dir, 'movie.bin'), data);
  await agent.operations.ingest({ sources: [join(dir, 'movie.bin')], options: { pieceLength: 256 * 1024 } }, (r) => {
    infoHash = r.infoHash ?? '';
  });
});
afterAll(async () => {
  await agent?.stop();
  await rm(dir, { recursive: true, force: true });
});

const objectPath = () => `/objects/${infoHash}/movie.bin`;
function token(key: Buffer, keyId: string, claims: { paths?: string[]; expires?: number; address?: string } = {}) {
  return signToken(
    {
      expires: claims.expires ?? Math.floor(Date.now() / 1000) + 60,
      paths: claims.paths ?? [`/objects/${infoHash}/`, `/pieces/${infoHash}/`],
      keyId,
      ...(claims.address === undefined ? {} : { address: claims.address }),
    },
    key,
  );
}

/** curl's status code and body for `path` with extra arguments. */
async function curl(path: string, args: string[] = []): Promise<{ status: number; body: Buffer }> {
  const bodyFile = join(dir, 'body.bin');
  await rm(bodyFile, { force: true });
  const { stdout } = await run('curl', ['-sS', '-o', bodyFile, '-w', '%{http_code}', ...args, `${base}${path}`]);
  return { status: Number(stdout), body: await readFile(bodyFile).catch(() => Buffer.alloc(0)) };
}

describe('signed URL tokens, with curl', () => {
  it('serves a good token from the query, a header or a cookie, on object and piece URLs', async () => {
    const t = token(KEY1, 'k1', { address: '127.0.0.1' });
    const viaQuery = await curl(`${objectPath()}?__token__=${t}`, ['-r', '0-99999']);
    expect(viaQuery.status).toBe(206);
    expect(viaQuery.body.equals(data.subarray(0, 100000))).toBe(true);
    const viaHeader = await curl(objectPath(), ['-H', `X-Edgepeer-Token: ${t}`]);
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.body.equals(data)).toBe(true);
    const piece = await curl(`/pieces/${infoHash}/3`, ['-b', `__token__=${t}`]);
    expect(piece.status).toBe(200);
    expect(piece.body.equals(data.subarray(3 * 262144, 4 * 262144))).toBe(true);
  });

  it('refuses tampered, wrong-key, wrong-path, other-address and missing tokens with 403, expired ones with 410', async () => {
    const good = token(KEY1, 'k1');
    const cases: Array<[string, string | undefined, number]> = [
      ['tampered', good.replace(/exp=(\d+)/, (_m, e: string) => `exp=${Number(e) + 86400}`), 403],
      ['wrong key', token(Buffer.alloc(32, 9), 'k1'), 403],
      ['unknown key id', token(KEY2, 'k2'), 403],
      ['wrong path', token(KEY1, 'k1', { paths: [`/pieces/${infoHash}/`] }), 403],
      ['other address', token(KEY1, 'k1', { address: '192.0.2.1' }), 403],
      ['missing', undefined, 403],
      ['expired', token(KEY1, 'k1', { expires: Math.floor(Date.now() / 1000) - 5 }), 410],
    ];
    for (const [name, t, status] of cases) {
      const answer = await curl(t === undefined ? objectPath() : `${objectPath()}?__token__=${t}`);
      expect(answer.status, name).toBe(status);
      expect(answer.body.length, name).toBeLessThan(200);
    }
    const counted = agent.status().urlTokens;
    expect(counted?.refused).toMatchObject({ bad_signature: 2, unknown_key: 1, wrong_path: 1, wrong_address: 1 });
    expect(counted?.refused.missing).toBeGreaterThanOrEqual(1);
    expect(counted?.refused.expired).toBe(1);
    const metrics = await agent.metrics.getSingleMetricAsString('edgepeer_url_tokens_total');
    expect(metrics).toMatch(/edgepeer_url_tokens_total\{result="expired"\} 1/);
    // The reason is logged, never a token; neither does the access log keep one.
    const refusals = log.lines.filter((line) => line.reason !== undefined);
    expect(refusals.map((line) => line.reason)).toContain('wrong_address');
    const logged = JSON.stringify(log.lines) + (await readFile(join(dir, 'access.log'), 'utf8'));
    expect(logged).not.toMatch(/hmac=/);
    expect(logged).toContain('__token__=-');
  });

  it('takes a token from `edgepeer token sign`', async () => {
    const bin = join(import.meta.dirname, '../../bin/run.js');
    const { stdout } = await run(process.execPath, [
      bin,
      'token',
      'sign',
      '--key',
      `k1=${join(dir, 'k1')}`,
      '--path',
      `/pieces/${infoHash}/`,
      '--expires',
      '30s',
      '--json',
    ]);
    const issued = JSON.parse(stdout) as { query: string; keyId: string };
    expect(issued.keyId).toBe('k1');
    expect((await curl(`/pieces/${infoHash}/0?${issued.query}`)).status).toBe(200);
    expect((await curl(`${objectPath()}?${issued.query}`)).status).toBe(403);
  });

  it('rotates keys during a download without a failure', async () => {
    const old = token(KEY1, 'k1');
    // ~4 s at the agent's 1 MiB/s: long enough for two reloads while it runs.
    const bodyFile = join(dir, 'slow.bin');
    const slow = spawn('curl', [
      '-sS',
      '-o',
      bodyFile,
      '-w',
      '%{http_code}',
      `${base}${objectPath()}?__token__=${old}`,
    ]);
    let out = '';
    slow.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = once(slow, 'exit');
    const sentBefore = agent.status().http?.bytesSent ?? 0;
    await vi.waitFor(() => expect(agent.status().http?.bytesSent ?? 0).toBeGreaterThan(sentBefore), {
      timeout: 5000,
      interval: 10,
    });

    // Step 1: the new key everywhere, the old one still accepted.
    const both = {
      ...config,
      http: {
        ...config.http!,
        tokenKeys: [
          { id: 'k1', file: join(dir, 'k1') },
          { id: 'k2', file: join(dir, 'k2') },
        ],
      },
    };
    expect((await agent.reload(both)).applied).toContain('url token keys');
    expect((await curl(`${objectPath()}?__token__=${old}`, ['-r', '0-9'])).status).toBe(206);
    const fresh = token(KEY2, 'k2');
    expect((await curl(`${objectPath()}?__token__=${fresh}`, ['-r', '0-9'])).status).toBe(206);

    // Step 2: the old key retired: its tokens are refused from now on, the download under way goes on.
    const only2 = { ...config, http: { ...config.http!, tokenKeys: [{ id: 'k2', file: join(dir, 'k2') }] } };
    const outcome = await agent.reload(only2);
    expect(outcome).toMatchObject({ failed: [], restartNeeded: [] });
    expect((await curl(`${objectPath()}?__token__=${old}`, ['-r', '0-9'])).status).toBe(403);
    expect((await curl(`${objectPath()}?__token__=${fresh}`, ['-r', '0-9'])).status).toBe(206);
    expect(slow.exitCode, `curl: ${out}`).toBeNull();

    const [code] = await exited;
    expect(code).toBe(0);
    expect(out).toBe('200');
    expect((await readFile(bodyFile)).equals(data)).toBe(true);
  });

  it('keeps the keys it has when a reload names an unreadable key file', async () => {
    const broken = { ...config, http: { ...config.http!, tokenKeys: [{ id: 'k3', file: join(dir, 'absent') }] } };
    const outcome = await agent.reload(broken);
    expect(outcome.failed.map((f) => f.setting)).toContain('url token keys');
    expect((await curl(`${objectPath()}?__token__=${token(KEY2, 'k2')}`, ['-r', '0-9'])).status).toBe(206);
  });
});
