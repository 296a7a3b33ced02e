// `--pieces` on the command line: the text is parsed where it enters; an empty list (an unset shell
// variable in `--pieces "$P"`) is an error, never "every piece".
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';

let dir: string;
let dataDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-piece-lists-'));
  dataDir = join(dir, 'store');
  await writeFile(join(dir, 'clip.bin'), Buffer.alloc(100_000, 3));
  const ingested = await edgepeer(['ingest', join(dir, 'clip.bin'), '--data-dir', dataDir, '--piece-length', '16KiB']);
  expect(ingested.code).toBe(0);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('--pieces', () => {
  it('refuses an empty list instead of purging the whole object', async () => {
    const empty = await edgepeer(['purge', 'clip.bin', '--pieces', '', '--data-dir', dataDir, '--json']);
    expect(empty.code).not.toBe(0);
    expect(empty.stdout + empty.stderr).toContain('piece list "": is empty');
    const listed = await edgepeer(['ls', '--data-dir', dataDir, '--json']);
    expect(listed.lines).toMatchObject([{ name: 'clip.bin', piecesHeld: 7 }]);
  });

  it('purges the pieces a list names, and names an index beyond the object', async () => {
    const some = await edgepeer(['purge', 'clip.bin', '--pieces', '0,2-3', '--data-dir', dataDir, '--json']);
    expect(some.lines).toMatchObject([{ status: 'pieces-purged', piecesRemoved: 3 }]);
    const beyond = await edgepeer(['purge', 'clip.bin', '--pieces', '9', '--data-dir', dataDir, '--json']);
    expect(beyond.code).toBe(2); // the failure's own exit code (invalid argument), and nothing else printed
    expect(beyond.lines).toHaveLength(1);
    expect(beyond.stdout + beyond.stderr).not.toContain('EEXIT');
    expect(beyond.lines[0]).toMatchObject({ status: 'failed' });
    expect(JSON.stringify(beyond.lines[0])).toContain('piece 9 is out of range: clip.bin has pieces 0 to 6');
  });
});
