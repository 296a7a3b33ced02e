// The admin token file: written whole or not at all, and a damaged one refused with a way out.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureToken, readToken } from '../../src/admin/index.ts';
import { ERRORS } from '../../src/errors/index.ts';
import { edgepeer } from '../helpers/cli.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-token-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('admin token file', () => {
  it('is created once, private, and the same for two agents starting at once', async () => {
    const file = join(dir, 'race', 'admin.token');
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'race')));
    const [a, b] = await Promise.all([ensureToken(file), ensureToken(file)]);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, 'race'))).toEqual(['admin.token']); // no temporary file left
  });

  it.each([
    ['empty', ''],
    ['short', 'abc\n'],
    ['two words', `${'a'.repeat(20)} ${'b'.repeat(20)}\n`],
  ])('refuses an %s token file, saying to delete it', async (_what, content) => {
    const file = join(dir, `bad-${content.length}.token`);
    await writeFile(file, content, { mode: 0o600 });
    for (const read of [ensureToken, readToken]) {
      await expect(read(file)).rejects.toMatchObject({
        code: 'EDGEPEER_TOKEN_INVALID',
        exitCode: ERRORS.EDGEPEER_TOKEN_INVALID.exitCode,
        message: expect.stringMatching(/delete it and start the agent again, which writes a new one/),
      });
    }
  });

  it('a 0-byte admin.token left behind: the agent refuses to start with the way out (real CLI)', async () => {
    const dataDir = join(dir, 'store');
    await import('node:fs/promises').then((fs) => fs.mkdir(dataDir));
    await writeFile(join(dataDir, 'admin.token'), '');
    const run = await edgepeer(
      ['agent', '--data-dir', dataDir, '--peer-host', '127.0.0.1', '--peer-port', '0', '--http-host', '127.0.0.1'],
      { env: { EDGEPEER_HTTP_PORT: '0', EDGEPEER_ADMIN_LISTEN: '127.0.0.1:0', EDGEPEER_ANNOUNCE: 'false', HOME: dir } },
    );
    expect(run.code).toBe(ERRORS.EDGEPEER_TOKEN_INVALID.exitCode);
    expect(run.stderr).toMatch(/admin\.token holds no usable admin token \(it is empty\).*delete it/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

function tryMount(folder: string, options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', folder], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const mountPoint = await mkdtemp(join(tmpdir(), 'edgepeer-token-tmpfs-'));
const canMount = process.getuid?.() === 0 && tryMount(mountPoint, 'size=64k');
if (canMount) execFileSync('umount', [mountPoint]);

describe.skipIf(!canMount)('on a full disk (64 KiB tmpfs, as root)', () => {
  afterAll(async () => {
    execFileSync('umount', ['-l', mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('a failed first start leaves no token file, and the next start makes a good one', async () => {
    expect(tryMount(mountPoint, 'size=64k')).toBe(true);
    const file = join(mountPoint, 'admin.token');
    // Fill the file system to the last byte.
    await writeFile(join(mountPoint, 'filler'), Buffer.alloc(64 * 1024)).catch(() => {});
    await expect(ensureToken(file)).rejects.toMatchObject({ code: 'EDGEPEER_DISK_FULL' });
    expect(await readdir(mountPoint)).toEqual(['filler']); // no 0-byte admin.token, no temporary file
    await rm(join(mountPoint, 'filler'));
    const token = await ensureToken(file);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect((await readFile(file, 'utf8')).trim()).toBe(token);
  });
});

if (!canMount) await rm(mountPoint, { recursive: true, force: true });
