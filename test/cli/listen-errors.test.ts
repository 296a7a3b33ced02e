// Every listener whose address is taken ends the command with the same clean message and exit code
// (EDGEPEER_ADDRESS_IN_USE, exit 9), never a stack trace. The real CLI (run `npm run build` first).
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors/index.ts';
import { edgepeer } from '../helpers/cli.ts';

const TLS_CERT = fileURLToPath(new URL('../ims/fixtures/tls-cert.pem', import.meta.url));
const TLS_KEY = fileURLToPath(new URL('../ims/fixtures/tls-key.pem', import.meta.url));

let dir: string;
let busy: Server;
let port: number;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-listen-'));
  busy = createServer().listen(0, '127.0.0.1');
  await once(busy, 'listening');
  port = (busy.address() as { port: number }).port;
  env = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => k.startsWith('EDGEPEER_'))
      .map((k) => [k, '']),
  );
  Object.assign(env, { HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg') });
});

afterAll(async () => {
  busy.close();
  await rm(dir, { recursive: true, force: true });
});

/** The agent on loopback with free ports, but for the flags given. */
function agent(name: string, flags: string[]) {
  const base = {
    '--peer-host': '127.0.0.1',
    '--peer-port': '0',
    '--http-host': '127.0.0.1',
    '--http-port': '0',
    '--admin-listen': '127.0.0.1:0',
  };
  const args = ['agent', '--data-dir', join(dir, name), '--no-announce', '--json'];
  for (const [flag, value] of Object.entries(base)) if (!flags.includes(flag)) args.push(flag, value);
  return edgepeer([...args, ...flags], { env });
}

const inUse = (what: string) => `${what}: cannot listen on 127.0.0.1:${port}: the address is already in use`;

describe('a listener whose address is in use', () => {
  it.each([
    ['peer wire', (taken: number) => ['--peer-port', String(taken)]],
    ['HTTP', (taken: number) => ['--http-port', String(taken)]],
    ['HTTPS', (taken: number) => ['--https-port', String(taken), '--https-cert', TLS_CERT, '--https-key', TLS_KEY]],
    ['admin API', (taken: number) => ['--admin-listen', `127.0.0.1:${taken}`]],
  ])('%s: the agent exits with one clear line', async (what, flags) => {
    const run = await agent(what.replace(/\W/g, ''), flags(port));
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const said = run.stderr.split('\n').filter((line) => line.startsWith('edgepeer:'));
    expect(said).toEqual([`edgepeer: ${inUse(what)} (another process listens there: stop it or choose another port)`]);
    expect(run.lines.at(-1)).toMatchObject({
      error: { code: 'EDGEPEER_ADDRESS_IN_USE', subject: `127.0.0.1:${port}` },
    });
    expect(run.code).toBe(ERRORS.EDGEPEER_ADDRESS_IN_USE.exitCode);
  });

  it('tracker: the same', async () => {
    const run = await edgepeer(['tracker', '--host', '127.0.0.1', '--port', String(port), '--no-udp', '--json'], {
      env,
    });
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stderr).toContain(inUse('tracker'));
    expect(run.code).toBe(ERRORS.EDGEPEER_ADDRESS_IN_USE.exitCode);
  });
});
