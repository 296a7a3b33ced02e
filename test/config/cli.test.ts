// `edgepeer config init|check` and `edgepeer service install` as real processes (run `npm run build` first).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';
import { serviceNode } from '../helpers/node.ts';

let dir: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-config-cli-'));
  // Nothing from the machine: no EDGEPEER_* of the runner, a home of our own.
  env = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => k.startsWith('EDGEPEER_'))
      .map((k) => [k, '']),
  );
  Object.assign(env, { HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg'), XDG_DATA_HOME: join(dir, 'xdg-data') });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => edgepeer(args, { env: { ...env, ...extraEnv } });

describe('edgepeer config init', () => {
  it('writes the starter file, refuses to overwrite it, replaces it with --force', async () => {
    const file = join(dir, 'init', 'config.yaml');
    const first = await run(['config', 'init', file, '--json']);
    expect(first.code).toBe(0);
    expect(first.lines).toEqual([{ file, bytes: expect.any(Number), replaced: false }]);
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^# edgepeer agent configuration/);

    const again = await run(['config', 'init', file, '--json']);
    expect(again.code).toBe(2);
    expect(again.lines.at(-1)).toMatchObject({ error: { code: 'EDGEPEER_INVALID_ARGUMENT', subject: file } });

    const forced = await run(['config', 'init', file, '--force', '--json']);
    expect(forced.code).toBe(0);
    expect(forced.lines[0]).toMatchObject({ replaced: true });
  });

  it('prints the file with "-" and writes nothing', async () => {
    const result = await run(['config', 'init', '-']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^# edgepeer agent configuration[\s\S]*#port: 6881/);
  });

  it('writes to $XDG_CONFIG_HOME/edgepeer/config.yaml when run as a user without FILE', async () => {
    if (process.getuid?.() === 0) return; // root writes /etc/edgepeer/config.yaml: not in a test
    const result = await run(['config', 'init', '--json']);
    expect(result.lines[0]).toMatchObject({ file: join(dir, 'xdg', 'edgepeer', 'config.yaml') });
  });
});

describe('edgepeer config check', () => {
  it('prints every effective value with its source, as JSON', async () => {
    const file = join(dir, 'check.yaml');
    await writeFile(file, 'peer:\n  port: 7001\nhttp:\n  port: 7101\n');
    const result = await run(['config', 'check', file, '--json'], { EDGEPEER_HTTP_PORT: '7102' });
    expect(result.code).toBe(0);
    expect(result.lines).toHaveLength(1);
    const check = result.lines[0] as {
      valid: boolean;
      file: string;
      config: { peer: { port: number }; http: { port: number } };
      sources: Record<string, string>;
      settings: Array<{ key: string; value: unknown; source: string; origin: string }>;
      warnings: string[];
    };
    expect(check).toMatchObject({ valid: true, file, warnings: [] });
    expect(check.config.peer.port).toBe(7001);
    expect(check.config.http.port).toBe(7102);
    expect(check.sources).toMatchObject({ 'peer.port': 'file', 'http.port': 'env', cacheSize: 'default' });
    expect(check.settings).toContainEqual({
      key: 'peer.port',
      value: 7001,
      source: 'file',
      origin: `in ${file} line 2`,
    });
    expect(check.settings).toContainEqual({
      key: 'cacheSize',
      value: '256MiB',
      source: 'default',
      origin: '(default)',
    });
    expect(check.settings).toContainEqual({
      key: 'http.port',
      value: 7102,
      source: 'env',
      origin: 'from EDGEPEER_HTTP_PORT',
    });
  });

  it('prints a table for people', async () => {
    const file = join(dir, 'check-text.yaml');
    await writeFile(file, 'cacheSize: 1g\n');
    const result = await run(['config', 'check', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${file}: valid`);
    expect(result.stdout).toMatch(new RegExp(`^cacheSize +1GiB +in ${file} line 1$`, 'm'));
    expect(result.stdout).toMatch(/^peer\.port +6881 +\(default\)$/m);
  });

  it('shows the IMS password as "(set)", never itself', async () => {
    const secret = 'Very-s3cret-pw';
    const file = join(dir, 'ims.yaml');
    await writeFile(
      file,
      'ims:\n  registrar: sip:pcscf.example.net\n  impi: edge1@example.net\n  impu: sip:edge1@example.net\n',
    );
    for (const args of [
      ['config', 'check', file, '--json'],
      ['config', 'check', file],
    ]) {
      const result = await run(args, { EDGEPEER_IMS_PASSWORD: secret });
      expect(result.code).toBe(0);
      expect(`${result.stdout}${result.stderr}`).not.toContain(secret);
      expect(result.stdout).toContain('(set)');
    }
    const json = (await run(['config', 'check', file, '--json'], { EDGEPEER_IMS_PASSWORD: secret })).lines[0];
    expect(json).toMatchObject({ config: { ims: { password: '(set)' } }, sources: { 'ims.password': 'env' } });
  });

  it('exits 6 on an invalid file, with every issue naming its key and line', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'peer:\n  port: 70000\n  prot: 1\n');
    const json = await run(['config', 'check', file, '--json'], { EDGEPEER_IMS_PASSWORD: 'Very-s3cret-pw' });
    expect(json.code).toBe(6);
    expect(json.lines[0]).toEqual({
      valid: false,
      file,
      issues: [
        {
          key: 'peer.port',
          problem: 'must be an integer from 0 to 65535',
          got: '70000',
          origin: { kind: 'file', file, line: 2 },
        },
        {
          key: 'peer.prot',
          problem: 'unknown key (did you mean peer.port?)',
          origin: { kind: 'file', file, line: 3 },
        },
      ],
    });
    expect(json.lines.at(-1)).toMatchObject({ error: { code: 'EDGEPEER_CONFIG_INVALID', subject: 'peer.port' } });

    const text = await run(['config', 'check', file]);
    expect(text.code).toBe(6);
    expect(text.stderr).toContain(`peer.port: must be an integer from 0 to 65535 (got 70000) in ${file} line 2`);
  });

  it('exits 6 on a bad environment variable, naming it', async () => {
    const result = await run(['config', 'check', '--json'], { EDGEPEER_PEER_PORT: 'eighty' });
    expect(result.code).toBe(6);
    expect(result.lines[0]).toMatchObject({
      valid: false,
      issues: [{ key: 'peer.port', origin: { kind: 'env', name: 'EDGEPEER_PEER_PORT' } }],
    });
  });

  it('exits 6 when the named file does not exist', async () => {
    const result = await run(['config', 'check', join(dir, 'nope.yaml'), '--json']);
    expect(result.code).toBe(6);
    expect(result.lines[0]).toMatchObject({ valid: false, issues: [{ problem: 'no such file' }] });
  });

  it('checks what config init wrote', async () => {
    const file = join(dir, 'fresh.yaml');
    expect((await run(['config', 'init', file])).code).toBe(0);
    const result = await run(['config', 'check', file, '--json']);
    expect(result.code).toBe(0);
    expect(result.lines[0]).toMatchObject({ valid: true, file });
  });
});

describe('edgepeer service install', () => {
  it('prints the unit with --dry-run and writes nothing', async () => {
    const unitDir = join(dir, 'dry-units');
    const result = await run([
      'service',
      'install',
      '--dry-run',
      '--unit-dir',
      unitDir,
      '--node',
      serviceNode(),
      '--json',
    ]);
    expect(result.code).toBe(0);
    const record = result.lines[0] as { unit: string; unitFile: string; written: boolean; nextSteps: string[] };
    expect(record.written).toBe(false);
    expect(record.unitFile).toBe(join(unitDir, 'edgepeer.service'));
    expect(record.unit).toMatch(
      /^ExecStart=.* agent --config \/etc\/edgepeer\/config\.yaml --data-dir \/var\/lib\/edgepeer$/m,
    );
    expect(record.nextSteps.at(-2)).toBe('systemctl daemon-reload && systemctl enable --now edgepeer');
    const text = await run(['service', 'install', '--dry-run', '--unit-dir', unitDir, '--node', serviceNode()]);
    expect(text.stdout).toMatch(/^\[Unit\]$/m);
    expect(text.stderr).toMatch(/systemctl daemon-reload && systemctl enable --now edgepeer/);
  });

  it('writes the unit into --unit-dir', async () => {
    const unitDir = join(dir, 'units');
    const config = join(dir, 'svc.yaml');
    await writeFile(config, 'http:\n  port: 80\n');
    const dataDir = join(dir, 'svc-data');
    const result = await run([
      'service',
      'install',
      '--node',
      serviceNode(),
      '--unit-dir',
      unitDir,
      '--user',
      'nobody',
      '--config',
      config,
      '--data-dir',
      dataDir,
      '--json',
    ]);
    expect(result.code).toBe(0);
    expect(result.lines[0]).toMatchObject({ written: true, userStatus: 'exists', user: 'nobody' });
    const unit = await readFile(join(unitDir, 'edgepeer.service'), 'utf8');
    expect(unit).toContain(`--config ${config} --data-dir ${dataDir}`);
    expect(unit).toContain('AmbientCapabilities=CAP_NET_BIND_SERVICE');
  });
});
