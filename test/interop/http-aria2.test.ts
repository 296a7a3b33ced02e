// aria2c downloads single- and multi-file torrents whose only source is the agent's web seed URL
// (url-list, no tracker, no peers, DHT/LPD/PEX off), checking every piece's SHA-1 as it goes.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  differingFiles,
  freshDir,
  MULTI_FILE,
  run,
  type ServedSet,
  SINGLE_FILE,
  serveObjects,
  stopServed,
  webSeedOf,
  writeTorrent,
} from '../http/interop-fixtures.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('aria2c with the agent as its only web seed', () => {
  let served: ServedSet;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-aria2-'));
    served = await serveObjects(dir, [SINGLE_FILE, MULTI_FILE]);
  });
  afterAll(async () => {
    await stopServed(served);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function download(index: number, label: string): Promise<string> {
    const object = served.objects[index]!;
    const torrent = await writeTorrent(await freshDir(dir, `${label}-torrent`), object, webSeedOf(served.base, object));
    const downloadDir = await freshDir(dir, `${label}-download`);
    const port = await freePort();
    await run(
      'aria2c',
      [
        '--enable-dht=false',
        '--enable-dht6=false',
        '--bt-enable-lpd=false',
        '--enable-peer-exchange=false',
        `--listen-port=${port}`,
        '--seed-time=0',
        '--file-allocation=none',
        '--summary-interval=0',
        '--console-log-level=warn',
        '--bt-stop-timeout=60',
        '--max-tries=2',
        `--dir=${downloadDir}`,
        torrent,
      ],
      { timeout: 90_000 },
    );
    return downloadDir;
  }

  it('downloads a single-file torrent (base URL + name)', async () => {
    const downloadDir = await download(0, 'single');
    expect(await differingFiles(downloadDir, served.objects[0]!)).toEqual([]);
  });

  it('downloads a multi-file torrent (base URL + name/path, escaped)', async () => {
    const downloadDir = await download(1, 'multi');
    expect(await differingFiles(downloadDir, served.objects[1]!)).toEqual([]);
    expect(served.server.stats().responses['4xx']).toBe(0);
  });
});
