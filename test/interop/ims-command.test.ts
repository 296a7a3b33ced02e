import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors/index.ts';
import {
  boundContact,
  freePort,
  KAMAILIO,
  KAMAILIO_TLS_CERT,
  type Kamailio,
  startKamailio,
} from '../fixtures/kamailio/kamailio.ts';

// `edgepeer ims register` end to end against Kamailio: the built CLI (npm run build), as a script would run it.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = join(ROOT, 'node_modules/.bin/node');
const BIN = join(ROOT, 'bin/run.js');
const PASSWORD = 'peer-secret';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function edgepeer(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      NODE,
      [BIN, ...args],
      { env: { ...process.env, EDGEPEER_IMS_PASSWORD: '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe.skipIf(!existsSync(KAMAILIO))('edgepeer ims register', () => {
  let kamailio: Kamailio;
  let dir: string;
  let passwordFile: string;
  beforeAll(async () => {
    expect(existsSync(join(ROOT, 'dist/commands/ims/register.js')), 'run `npm run build` first').toBe(true);
    kamailio = await startKamailio({ tls: true, defines: { MIN_EXPIRES: 2 } });
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-ims-cli-'));
    passwordFile = join(dir, 'password');
    await writeFile(passwordFile, `${PASSWORD}\n`);
  });
  afterAll(async () => {
    await kamailio?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const identity = (name: string) => ['--impi', `${name}@ims.example.test`, '--impu', `sip:${name}@ims.example.test`];

  it.each(['udp', 'tcp'])('--once --json over %s: registers, reports, deregisters, exits 0', async (transport) => {
    const name = `peer9${transport === 'udp' ? 1 : 2}`;
    const run = await edgepeer([
      'ims',
      'register',
      '--once',
      '--json',
      '--registrar',
      `sip:127.0.0.1:${kamailio.port}`,
      ...identity(name),
      '--password-file',
      passwordFile,
      '--transport',
      transport,
      '--expires',
      '1',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({
      registered: true,
      deregistered: true,
      expires: 2, // 1 was too brief: 423, Min-Expires 2
      transport,
      impu: `sip:${name}@ims.example.test`,
      serviceRoute: ['sip:orig@scscf.ims.example.test:6060;lr'],
      associatedUris: [`sip:${name}@ims.example.test`, 'tel:+15550100'],
    });
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    expect(await boundContact(kamailio.port, name)).toBeUndefined();
  });

  it('registers over TLS with a registrar signed by the CA of --tls-ca, and not without it', async () => {
    const args = ['ims', 'register', '--once', '--json', '--registrar', `sips:127.0.0.1:${kamailio.tlsPort}`];
    const run = await edgepeer([
      ...args,
      ...identity('peer95'),
      '--password-file',
      passwordFile,
      '--tls-ca',
      KAMAILIO_TLS_CERT,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ registered: true, deregistered: true, transport: 'tls' });
    const refused = await edgepeer([...args, ...identity('peer96'), '--password-file', passwordFile]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/DEPTH_ZERO_SELF_SIGNED_CERT/);
    const notPem = await edgepeer([
      ...args,
      ...identity('peer97'),
      '--password-file',
      passwordFile,
      '--tls-ca',
      passwordFile,
    ]);
    expect(notPem.code).toBe(ExitCode.usage);
    expect(notPem.stderr).toMatch(/holds no PEM certificate/);
  });

  it('prints the outcome as text, taking the password from EDGEPEER_IMS_PASSWORD', async () => {
    const run = await edgepeer(
      ['ims', 'register', '--once', '--registrar', `sip:127.0.0.1:${kamailio.port}`, ...identity('peer93')],
      { EDGEPEER_IMS_PASSWORD: PASSWORD },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^registered sip:peer93@ims\.example\.test at sip:127\.0\.0\.1:\d+ over udp$/m);
    expect(run.stdout).toMatch(/^service-route +sip:orig@scscf\.ims\.example\.test:6060;lr$/m);
    expect(run.stdout).toMatch(/^deregistered$/m);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
  });

  it('exits with the auth code on a wrong password, naming the failure, never the password', async () => {
    const run = await edgepeer(
      ['ims', 'register', '--once', '--json', '--registrar', `sip:127.0.0.1:${kamailio.port}`, ...identity('peer94')],
      { EDGEPEER_IMS_PASSWORD: 'guessed-wrong' },
    );
    expect(run.code).toBe(ExitCode.auth);
    expect(JSON.parse(run.stdout.trim()).error).toMatchObject({ code: 'EDGEPEER_SIP_AUTH_REFUSED' });
    expect(run.stderr).toMatch(/403 Forbidden/);
    expect(run.stdout + run.stderr).not.toContain('guessed-wrong');
  });

  it('exits with the remote code when the registrar is down', async () => {
    const port = await freePort();
    const run = await edgepeer(
      [
        'ims',
        'register',
        '--once',
        '--json',
        '--registrar',
        `sip:127.0.0.1:${port};transport=tcp`,
        ...identity('peer95'),
      ],
      { EDGEPEER_IMS_PASSWORD: PASSWORD },
    );
    expect(run.code).toBe(ExitCode.remote);
    expect(JSON.parse(run.stdout.trim()).error.code).toBe('EDGEPEER_SIP_UNREACHABLE');
  });

  it('without --once stays registered, refreshing, until SIGTERM, then deregisters and exits 0', async () => {
    const child = spawn(
      NODE,
      [
        BIN,
        'ims',
        'register',
        '--json',
        '--registrar',
        `sip:127.0.0.1:${kamailio.port}`,
        ...identity('peer96'),
        '--expires',
        '2',
      ],
      { env: { ...process.env, EDGEPEER_IMS_PASSWORD: PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    const records: Array<Record<string, unknown>> = [];
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const lines = stdout.split('\n');
      stdout = lines.pop()!;
      for (const line of lines) records.push(JSON.parse(line));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The initial registration and two refreshes (every second for a 2 s binding).
    await expect.poll(() => records.length, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(3);
    expect(records.every((r) => r.event === 'registered' && r.registered === true)).toBe(true);
    expect(await boundContact(kamailio.port, 'peer96')).toBe(records[0]!.contact);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(records[records.length - 1]).toMatchObject({ event: 'stopped', deregistered: true });
    expect(await boundContact(kamailio.port, 'peer96')).toBeUndefined();
  });

  it('exits with the usage code on bad input', async () => {
    const noPassword = await edgepeer(['ims', 'register', '--once', '--registrar', 'sip:127.0.0.1', ...identity('x')]);
    expect(noPassword.code).toBe(ExitCode.usage);
    expect(noPassword.stderr).toMatch(/password/);
    const badUri = await edgepeer(
      ['ims', 'register', '--once', '--registrar', 'tel:+1', ...identity('x'), '--password-file', passwordFile],
      {},
    );
    expect(badUri.code).toBe(ExitCode.usage);
    expect(badUri.stderr).toMatch(/registrar/);
  });
});
