// `edgepeer ls | head -1`: a reader that goes away after the first line ends the command quietly with 0.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMetainfo } from '../../src/metainfo/index.ts';
import { openStore } from '../../src/store/index.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-closed-pipe-'));
  // Enough objects that `ls` writes more than a pipe holds (64 KiB) after the reader has gone.
  const store = await openStore(dir, { mode: 'write' });
  for (let i = 0; i < 500; i += 1) {
    const data = Buffer.from(`object ${i}`);
    await store.addObject(
      buildMetainfo({
        name: `object-${String(i).padStart(5, '0')}-${'with-a-name-long-enough-to-fill-the-pipe-'.repeat(4)}.bin`,
        pieceLength: 16_384,
        files: [{ path: [], length: data.length }],
        multiFile: false,
        pieceHashes: createHash('sha1').update(data).digest(),
      }),
    );
  }
  await store.close();
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a closed pipe', () => {
  it('ends `ls` quietly with 0 when the reader goes away after the first line', async () => {
    const child = spawn(process.execPath, [RUN, 'ls', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await once(child.stdout, 'data');
    child.stdout.destroy(); // as `head -1` does once it has its line
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    // Its count on stderr may or may not be written by then; never an error or a stack.
    expect(stderr).not.toMatch(/EPIPE|Error|unsettled|at /);
  });
});
