// The README's first command: `edgepeer demo` starts a tracker and an agent on loopback, and what it prints
// can be fetched at once with aria2c (magnet link: tracker, then metadata and pieces over the peer wire)
// and with curl (HTTP). Ctrl-C stops it with exit 0 and removes its temporary data.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoReady } from '../../src/agent/index.ts';

const run = promisify(execFile);
const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

let demo: ChildProcess;
let ready: DemoReady;
let downloads: string;

beforeAll(async () => {
  downloads = await mkdtemp(join(tmpdir(), 'edgepeer-demo-dl-'));
  demo = spawn(process.execPath, [RUN, 'demo', '--json', '--sample-size', '8MiB'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: demo.stdout as NodeJS.ReadableStream });
  const [first] = (await once(lines, 'line')) as [string];
  ready = JSON.parse(first) as DemoReady;
});

afterAll(async () => {
  if (demo.exitCode === null) demo.kill('SIGKILL');
  await rm(downloads, { recursive: true, force: true });
});

describe('edgepeer demo', () => {
  it('serves the sample to aria2c from its magnet link alone', async () => {
    expect(ready).toMatchObject({ sample: { name: 'edgepeer-sample.bin', length: 8 * 1024 * 1024 } });
    await run(
      'aria2c',
      [
        '--seed-time=0',
        '--enable-dht=false',
        '--bt-enable-lpd=false',
        '--summary-interval=0',
        '--console-log-level=warn',
        '-d',
        downloads,
        ready.magnet,
      ],
      { timeout: 60_000 },
    );
    const fetched = await readFile(join(downloads, 'edgepeer-sample.bin'));
    const original = await readFile(ready.sample.path);
    expect(createHash('sha1').update(fetched).digest('hex')).toBe(createHash('sha1').update(original).digest('hex'));
  });

  it('serves the sample and its pieces to curl', async () => {
    const { stdout } = await run('curl', ['-sS', '-r', '1000-1999', ready.httpUrl], { encoding: 'buffer' });
    const original = await readFile(ready.sample.path);
    expect(Buffer.compare(stdout, original.subarray(1000, 2000))).toBe(0);
    const piece = await run('curl', ['-sS', ready.pieceUrlTemplate.replace('{index}', '1')], { encoding: 'buffer' });
    expect(piece.stdout.length).toBe(256 * 1024);
    expect(Buffer.compare(piece.stdout, original.subarray(256 * 1024, 512 * 1024))).toBe(0);
    // What the demo prints to compare `curl <piece 0> | sha1sum` with: piece 0's SHA-1 from the metainfo.
    const first = await run('curl', ['-sS', ready.pieceUrlTemplate.replace('{index}', '0')], { encoding: 'buffer' });
    expect(createHash('sha1').update(first.stdout).digest('hex')).toBe(ready.sample.piece0Sha1);
  });

  it('stops on SIGINT with exit 0 and removes its temporary data', async () => {
    const exited = once(demo, 'exit');
    demo.kill('SIGINT');
    const [code] = (await exited) as [number];
    expect(code).toBe(0);
    expect(existsSync(ready.dataDir)).toBe(false);
  });
});
