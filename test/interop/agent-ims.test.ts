// The agent as an IMS network peer (TR 23.844 6.2.1): configured with an identity, it registers with the
// registrar (Kamailio) when it starts, shows the registration in `edgepeer status`, never shows the
// password, and deregisters on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundContact, type Kamailio, startKamailio } from '../fixtures/kamailio/kamailio.ts';
import { edgepeer } from '../helpers/cli.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const PASSWORD = 'peer-secret';
const USER = 'peer77';

let kamailio: Kamailio;
let dir: string;

beforeAll(async () => {
  kamailio = await startKamailio();
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-agent-ims-'));
});

afterAll(async () => {
  await kamailio?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('edgepeer agent registered in IMS', () => {
  let agent: ChildProcess;
  let logs = '';
  const dataDir = () => join(dir, 'store');

  it('registers when it starts, and status shows the registration without the password', async () => {
    await writeFile(join(dir, 'password'), `${PASSWORD}\n`, { mode: 0o600 });
    const configFile = join(dir, 'edgepeer.yaml');
    await writeFile(
      configFile,
      [
        `dataDir: ${dataDir()}`,
        'announce: false',
        'peer: { port: 0, host: 127.0.0.1 }',
        'http: { port: 0, host: 127.0.0.1 }',
        'admin: { listen: "127.0.0.1:0" }',
        'ims:',
        `  registrar: sip:127.0.0.1:${kamailio.port}`,
        `  impi: ${USER}@ims.example.test`,
        `  impu: sip:${USER}@ims.example.test`,
        `  passwordFile: ${join(dir, 'password')}`,
        '  transport: udp',
        '',
      ].join('\n'),
    );
    agent = spawn(process.execPath, [RUN, 'agent', '--config', configFile, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const registered = new Promise<void>((resolve) => {
      createInterface({ input: agent.stderr as NodeJS.ReadableStream }).on('line', (line) => {
        logs += `${line}\n`;
        if (line.includes('"ims registration"')) resolve();
      });
    });
    const [first] = (await once(createInterface({ input: agent.stdout as NodeJS.ReadableStream }), 'line')) as [string];
    expect(JSON.parse(first)).toMatchObject({ event: 'listening' });
    await registered;

    const status = await edgepeer(['status', '--data-dir', dataDir(), '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.lines[0]?.ims).toMatchObject({
      registered: true,
      impu: `sip:${USER}@ims.example.test`,
      serviceRoute: ['sip:orig@scscf.ims.example.test:6060;lr'],
      associatedUris: [`sip:${USER}@ims.example.test`, 'tel:+15550100'],
    });
    expect(await boundContact(kamailio.port, USER)).toMatch(/^sip:/);
    expect(status.stdout + logs).not.toContain(PASSWORD);
  });

  it('deregisters on SIGTERM and exits 0', async () => {
    const exited = once(agent, 'exit');
    agent.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
    expect(await boundContact(kamailio.port, USER)).toBeUndefined();
    expect(logs).not.toContain(PASSWORD);
  });
});
