// python3-libtorrent downloads single- and multi-file torrents whose only source is the agent's web seed
// URL (url-list, no tracker, no peers; DHT, LSD, UPnP and NAT-PMP off). libtorrent checks every piece's
// SHA-1 and bans a web seed after one failure, so a clean finish means every byte served was right.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corruptOnDisk,
  differingFiles,
  freshDir,
  MULTI_FILE,
  run,
  type ServedSet,
  SINGLE_FILE,
  serveObjects,
  stopServed,
  WEB_SEED_LEECH,
  webSeedOf,
  writeTorrent,
} from '../http/interop-fixtures.ts';

describe('libtorrent with the agent as its only web seed', () => {
  let served: ServedSet;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-libtorrent-'));
    served = await serveObjects(dir, [SINGLE_FILE, MULTI_FILE]);
  });
  afterAll(async () => {
    await stopServed(served);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function download(index: number, label: string) {
    const object = served.objects[index]!;
    const torrent = await writeTorrent(await freshDir(dir, `${label}-torrent`), object, webSeedOf(served.base, object));
    const downloadDir = await freshDir(dir, `${label}-download`);
    const seconds = label === 'corrupt' ? '8' : '60';
    const { stdout } = await run('/usr/bin/python3', ['-c', WEB_SEED_LEECH, torrent, downloadDir, seconds], {
      timeout: 90_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { seeding: boolean; problems: string[] };
    return { downloadDir, result };
  }

  it('downloads a single-file torrent and verifies every piece', async () => {
    const { downloadDir, result } = await download(0, 'single');
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(await differingFiles(downloadDir, served.objects[0]!)).toEqual([]);
  });

  it('downloads a multi-file torrent (name/path per file, pieces spanning files)', async () => {
    const { downloadDir, result } = await download(1, 'multi');
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(await differingFiles(downloadDir, served.objects[1]!)).toEqual([]);
    expect(served.server.stats().bytesSent).toBeGreaterThanOrEqual(
      served.objects[0]!.data.length + served.objects[1]!.data.length,
    );
  });

  it('never hands libtorrent a corrupt piece, so it never bans the web seed', async () => {
    const object = served.objects[0]!;
    const corruptPiece = 7;
    await corruptOnDisk(served, object, corruptPiece * object.metainfo.pieceLength + 99);
    const { result } = await download(0, 'corrupt');
    const hashFailures = (result.problems as string[]).filter((problem) => problem.startsWith('hash_failed'));
    expect(hashFailures).toEqual([]);
    expect(result.seeding).toBe(false);
    // The piece was dropped from the store when found corrupt, mid-response: the connection was cut
    // after the verified pieces before it, which libtorrent kept; later requests for it get 503.
    expect(served.store.get(object.metainfo.infoHash)!.bitfield.get(corruptPiece)).toBe(false);
    const progress = (result as unknown as { progress: number }).progress;
    expect(progress).toBeGreaterThanOrEqual(corruptPiece / object.metainfo.pieceCount - 0.01);
    expect(progress).toBeLessThan(1);
  });
});
