// What a person is told when a command cannot run: every reason oclif gives, on one line (text and
// --json), and a clear word on a Node.js too old for edgepeer (npm only warns at install).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

describe('messages of commands that cannot run', () => {
  it('names every missing flag, not just "The following errors occurred:"', async () => {
    const result = await edgepeer(['ims', 'register', '--once', '--json']);
    expect(result.code).toBe(2);
    expect(result.lines[0]?.error).toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message:
        'The following errors occurred: Missing required flag impi; Missing required flag impu; Missing required flag registrar',
    });
    expect(result.stderr).toContain('Missing required flag registrar');
  });

  it('names the missing argument and the flag value that is wrong', async () => {
    const show = await edgepeer(['show']);
    expect(show.code).toBe(2);
    expect(show.stderr).toMatch(/^edgepeer: Missing 1 required arg: id\b/);
    const replicas = await edgepeer(['controller', '--replicas', '0']);
    expect(replicas.code).toBe(2);
    expect(replicas.stderr).toContain(
      'Parsing --replicas: Expected an integer greater than or equal to 1 but received: 0',
    );
  });

  // The machines ship Node 20 as /usr/bin/node; the project runs on its own Node 24.
  const oldNode = '/usr/bin/node';
  it.skipIf(!existsSync(oldNode))('says which Node.js it needs when started by an older one, and exits 1', async () => {
    const { code, stderr, version } = await new Promise<{ code: number; stderr: string; version: string }>(
      (resolve) => {
        execFile(oldNode, ['-e', 'process.stdout.write(process.versions.node)'], (_e, out) => {
          execFile(oldNode, [RUN, '--help'], (err, _stdout, stderr) =>
            resolve({ code: err ? Number(err.code) : 0, stderr, version: String(out) }),
          );
        });
      },
    );
    if (Number(version.split('.')[0]) >= 23 || (version.startsWith('22.') && Number(version.split('.')[1]) >= 19)) {
      expect(code).toBe(0);
      return;
    }
    expect(code).toBe(1);
    expect(stderr).toBe(
      `edgepeer needs Node.js 22.19 or newer; this is Node.js ${version} (${oldNode}).\nInstall a current Node.js (e.g. Debian: the nodejs package of trixie or NodeSource; or nvm install 24) and run edgepeer with it.\n`,
    );
  });
});
