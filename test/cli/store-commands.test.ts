// What a person reads from the store commands: ls with column headers, an ambiguous name reported as
// such, and a wrong data dir said to be no store rather than an empty one.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

let dir: string;
let dataDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-store-commands-'));
  dataDir = join(dir, 'store');
  await mkdir(join(dir, 'other'));
  await writeFile(join(dir, 'clip.bin'), 'one clip');
  await writeFile(join(dir, 'other', 'clip.bin'), 'another clip');
  const ingested = await edgepeer([
    'ingest',
    join(dir, 'clip.bin'),
    join(dir, 'other', 'clip.bin'),
    '--data-dir',
    dataDir,
  ]);
  expect(ingested.code, ingested.stderr).toBe(0);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('store commands for people', () => {
  it('ls heads its columns in text, and prints only objects with --json', async () => {
    const text = await edgepeer(['ls', '--data-dir', dataDir]);
    expect(text.stdout.split('\n')[0]).toMatch(/^INFO HASH +SIZE +PIECES +NAME$/);
    expect(text.stdout.split('\n').filter((line) => line.endsWith('clip.bin'))).toHaveLength(2);
    const json = await edgepeer(['ls', '--data-dir', dataDir, '--json']);
    expect(json.lines).toHaveLength(2);
  });

  it('reports a name two objects have as ambiguous, not as not found', async () => {
    const purged = await edgepeer(['purge', 'clip.bin', '--data-dir', dataDir, '--json']);
    expect(purged.code).toBe(2);
    expect(purged.lines).toEqual([expect.objectContaining({ id: 'clip.bin', status: 'ambiguous' })]);
  });

  it('does not overwrite a .torrent file without --force', async () => {
    const listed = await edgepeer(['ls', '--data-dir', dataDir, '--json']);
    const infoHash = String(listed.lines[0]?.infoHash);
    const path = join(dir, 'kept.torrent');
    await writeFile(path, 'my notes');
    const refused = await edgepeer(['torrent', infoHash, '-o', path, '--data-dir', dataDir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${path} exists: give --force to overwrite it`);
    expect(await readFile(path, 'utf8')).toBe('my notes');
    const forced = await edgepeer(['torrent', infoHash, '-o', path, '--force', '--data-dir', dataDir]);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await readFile(path)).subarray(0, 1).toString()).toBe('d');
  });

  // util-linux script(1) gives the command a terminal for its stdout.
  it.skipIf(!existsSync('/usr/bin/script'))('refuses to write a .torrent to a terminal', async () => {
    const listed = await edgepeer(['ls', '--data-dir', dataDir, '--json']);
    const command = [process.execPath, RUN, 'torrent', String(listed.lines[0]?.infoHash), '--data-dir', dataDir]
      .map((word) => `'${word}'`)
      .join(' ');
    const output = await new Promise<string>((resolve) => {
      execFile('/usr/bin/script', ['-qec', command, '/dev/null'], (_err, stdout) => resolve(stdout));
    });
    expect(output).toContain('a .torrent is binary: give -o FILE');
  });

  it('says there is no store at a data dir that does not exist (exit 4), rather than list nothing', async () => {
    const missing = join(dir, 'no-such-store');
    const listed = await edgepeer(['ls', '--data-dir', missing, '--json']);
    expect(listed.code).toBe(4);
    expect(listed.lines[0]?.error).toMatchObject({
      code: 'EDGEPEER_NOT_FOUND',
      message: expect.stringContaining(`no store at ${missing}`),
    });
  });
});
