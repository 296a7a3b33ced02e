import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectUrls } from '../../src/http/index.ts';
import { type NginxOrigin, startNginx } from '../helpers/nginx.ts';
import {
  type ContentSpec,
  differingFiles,
  freshDir,
  run,
  type ServedSet,
  serveObjects,
  stopServed,
  WEB_SEED_LEECH,
  writeTorrent,
} from '../http/interop-fixtures.ts';
import { testBytes } from '../http/memory-store.ts';

describe('objects held in part, nginx as origin', () => {
  const pieceLength = 128 * 1024;
  const SPEC: ContentSpec = {
    name: 'partial.bin',
    pieceLength,
    files: [{ path: [], length: 3 * 1024 * 1024 + 777 }],
    seed: 303,
  };
  const data = testBytes(SPEC.files[0]!.length, SPEC.seed);
  let dir: string;
  let nginx: NginxOrigin | undefined;
  let originUrl: string;
  const servedSets: ServedSet[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-partial-'));
    const root = join(dir, 'origin');
    await mkdir(join(root, 'files'), { recursive: true });
    await writeFile(join(root, 'files', 'partial.bin'), data);
    await chmod(dir, 0o755); // nginx workers run as an unprivileged user
    nginx = await startNginx(root);
    originUrl = `${nginx.url}/files/partial.bin`;
  });
  afterAll(async () => {
    for (const served of servedSets) await stopServed(served);
    await nginx?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function agent(policy: 'pull-through' | 'redirect') {
    const served = await serveObjects(dir, [SPEC], { policy, held: (index) => index % 2 === 0, source: originUrl });
    servedSets.push(served);
    const object = served.objects[0]!;
    return {
      ...served,
      object,
      urls: objectUrls(served.base, { infoHash: object.metainfo.infoHash, metainfo: object.metainfo }),
    };
  }

  it('pull-through: libtorrent gets the whole object; the missing pieces are fetched, verified, stored', async () => {
    const { store, server, urls, object } = await agent('pull-through');
    const { metainfo } = object;
    expect(store.get(metainfo.infoHash)!.piecesHeld).toBe(Math.ceil(metainfo.pieceCount / 2));
    const torrent = await writeTorrent(await freshDir(dir, 'torrent'), object, urls.webSeed);
    const downloadDir = await freshDir(dir, 'download');
    const { stdout } = await run('/usr/bin/python3', ['-c', WEB_SEED_LEECH, torrent, downloadDir, '60'], {
      timeout: 90_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(await differingFiles(downloadDir, object)).toEqual([]);
    expect(server.stats().piecesPulled).toBe(Math.floor(metainfo.pieceCount / 2));
    expect(server.stats().pullFailures).toBe(0);
    // stored durably: the store now holds every piece
    expect(store.get(metainfo.infoHash)!.complete).toBe(true);
  });

  it('redirect: curl follows the agent to the origin for ranges it does not hold', async () => {
    const { urls } = await agent('redirect');
    const first = pieceLength; // piece 1: not held
    const { stdout } = await run(
      'curl',
      ['-sS', '-L', '-r', `${first}-${first + 99}`, '-w', '\n%{url_effective}', urls.files[0]!],
      {
        encoding: 'latin1',
      },
    );
    const newline = stdout.lastIndexOf('\n');
    expect(stdout.slice(newline + 1)).toBe(originUrl);
    expect(Buffer.from(stdout.slice(0, newline), 'latin1').equals(data.subarray(first, first + 100))).toBe(true);
  });
});
