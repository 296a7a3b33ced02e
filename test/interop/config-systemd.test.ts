// `edgepeer service install` for real, as root: creates a (throwaway) system user and the data dir, writes the
// unit into a temp --unit-dir, and has systemd itself check the unit (systemd-analyze verify), if installed.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';
import { serviceNode } from '../helpers/node.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const hasUseradd = existsSync('/usr/sbin/useradd');
const systemdAnalyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

let dir: string;
const user = `edgepeer-t${randomBytes(3).toString('hex')}`;
beforeAll(async () => {
  // Not under /tmp: the unit's PrivateTmp would hide it, and systemd-analyze would say so.
  dir = await mkdtemp(join(isRoot ? '/var/lib' : tmpdir(), 'edgepeer-service-test-'));
});
afterAll(async () => {
  await run('userdel', [user]).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

/** systemd-analyze's complaints about a unit, ignoring those about other units on this machine. */
async function verify(unitFile: string): Promise<string[]> {
  const result = await run(systemdAnalyze as string, ['verify', unitFile]).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
  const complaints = result.stderr.split('\n').filter((l) => l.includes(unitFile) || l.startsWith('edgepeer'));
  if (result.code !== 0) complaints.push(`exit ${result.code}: ${result.stderr}`);
  return complaints;
}

describe.skipIf(!isRoot || !hasUseradd)('edgepeer service install as root', () => {
  it('creates the user and the data dir it owns, and writes a unit systemd accepts', async () => {
    const config = join(dir, 'config.yaml');
    await writeFile(config, 'peer:\n  port: 6881\n');
    const dataDir = join(dir, 'data');
    const unitDir = join(dir, 'units');
    const result = await edgepeer([
      'service',
      'install',
      '--node',
      serviceNode(),
      '--user',
      user,
      '--config',
      config,
      '--data-dir',
      dataDir,
      '--unit-dir',
      unitDir,
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines[0]).toMatchObject({ userStatus: 'created', written: true });

    const { stdout: uid } = await run('id', ['-u', user]);
    const owner = await stat(dataDir);
    expect(owner.uid).toBe(Number(uid.trim()));
    expect(owner.mode & 0o777).toBe(0o750);

    // A second run finds the user.
    const again = await edgepeer([
      'service',
      'install',
      '--node',
      serviceNode(),
      '--user',
      user,
      '--config',
      config,
      '--data-dir',
      dataDir,
      '--unit-dir',
      unitDir,
      '--json',
    ]);
    expect(again.lines[0]).toMatchObject({ userStatus: 'exists' });

    const unitFile = join(unitDir, 'edgepeer.service');
    expect(await readFile(unitFile, 'utf8')).toContain(`User=${user}`);
    if (systemdAnalyze) expect(await verify(unitFile)).toEqual([]);
  });

  it.skipIf(!systemdAnalyze)(
    'systemd-analyze does catch a broken unit (so the check above means something)',
    async () => {
      const unitFile = join(dir, 'units', 'broken.service');
      const good = await readFile(join(dir, 'units', 'edgepeer.service'), 'utf8');
      await writeFile(unitFile, good.replace('Restart=on-failure', 'Restart=sometimes\nProtectSystm=strict'));
      const complaints = await verify(unitFile);
      expect(complaints.join('\n')).toMatch(/sometimes/);
      expect(complaints.join('\n')).toMatch(/ProtectSystm/);
    },
  );
});
