// The package as users get it: `npm pack` of this tree, installed globally into a prefix of its own with
// npm, then `edgepeer --help`, an ingest and the agent run from that install (on this process's Node). The
// tarball holds the build, the oclif manifest and the licence, no source maps, and installs without
// running a script.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
/** npm, and the installed `edgepeer`, run on this Node: first on the PATH. */
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, npm_config_fund: 'false' };

let dir: string;
let tarball: string;
let edgepeer: string;
let installed: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-package-'));
  // The tree was built by `npm test` before the tests: pack what is there.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  tarball = join(dir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
  const prefix = join(dir, 'prefix');
  const install = await run(
    'npm',
    ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--foreground-scripts', tarball],
    { env, maxBuffer: 64 * 1024 * 1024 },
  );
  // Nothing of edgepeer runs at install (no prepare/postinstall of its own).
  expect(`${install.stdout}${install.stderr}`).not.toMatch(/edgepeer@[^ ]+ (prepare|postinstall|install)/);
  edgepeer = join(prefix, 'bin', 'edgepeer');
  installed = join(prefix, 'lib', 'node_modules', 'edgepeer');
}, 300_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the package, installed globally', () => {
  it('holds the build, the manifest and the licence, and no source maps or sources', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], { maxBuffer: 64 * 1024 * 1024 });
    const files = stdout.split('\n').filter(Boolean);
    expect(files).toContain('package/oclif.manifest.json');
    // The tested dependency tree goes with it, for installs from the registry.
    expect(files).toContain('package/npm-shrinkwrap.json');
    expect(files).toContain('package/LICENSE');
    expect(files).toContain('package/dist/commands/agent.js');
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(files.filter((file) => file.startsWith('package/src/') || file.startsWith('package/test/'))).toEqual([]);
  });

  // Direct dependencies are pinned to the versions CI runs (package.json); the shrinkwrap carries the whole
  // tested tree for installs from the registry (npm does not read it from a local tarball).
  it('installs the dependency versions the tests ran, not the newest in their ranges', async () => {
    const version = async (root: string, name: string) =>
      (JSON.parse(await readFile(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
        .version;
    for (const name of ['undici', '@oclif/core', 'bittorrent-protocol', 'piscina', 'pino']) {
      expect(await version(installed, name), name).toBe(await version(ROOT, name));
    }
    // No development tool came with it.
    await expect(readFile(join(installed, 'node_modules', 'vitest', 'package.json'))).rejects.toThrow();
  });

  it('answers --help, ingests a file and runs the agent until SIGTERM', async () => {
    const help = await run(edgepeer, ['--help'], { env });
    expect(help.stdout).toMatch(/USAGE\s+\$ edgepeer \[COMMAND\]/);
    expect(help.stdout).toContain('agent');

    const store = join(dir, 'store');
    const file = join(dir, 'sample.bin');
    await writeFile(file, Buffer.alloc(300_000, 7));
    const ingested = await run(edgepeer, ['ingest', file, '--data-dir', store, '--json'], { env });
    expect(JSON.parse(ingested.stdout.trim().split('\n')[0]!)).toMatchObject({
      status: 'ingested',
      name: 'sample.bin',
      piecesHeld: expect.any(Number),
    });
    expect(await readdir(store)).not.toHaveLength(0);

    const agent = spawn(
      edgepeer,
      [
        'agent',
        '--data-dir',
        store,
        '--peer-port',
        '0',
        '--peer-host',
        '127.0.0.1',
        '--http-port',
        '0',
        '--http-host',
        '127.0.0.1',
        '--admin-listen',
        '127.0.0.1:0',
        '--json',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const [first] = (await once(createInterface({ input: agent.stdout }), 'line')) as [string];
    expect(JSON.parse(first)).toMatchObject({ event: 'listening' });
    let stderr = '';
    agent.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    agent.kill('SIGTERM');
    const [code, signal] = (await once(agent, 'exit')) as [number | null, string | null];
    expect({ code, signal, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  });
});
