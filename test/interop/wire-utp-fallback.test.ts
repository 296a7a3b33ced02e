// A client that tries uTP first (libtorrent's default; WebTorrent and qBittorrent do the same) reaches the peer
// wire server at once: its uTP attempt on the peer port is answered with ST_RESET, and it goes on over TCP.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ContentObject,
  differingFiles,
  freshDir,
  libtorrentLeech,
  makeContent,
  type ServedObjects,
  SINGLE_FILE,
  serveObjects,
  writeTorrentFile,
} from '../wire/interop-support.ts';

describe('a uTP-first client', () => {
  let dir: string;
  let single: ContentObject;
  let served: ServedObjects;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-wire-utp-'));
    single = makeContent(SINGLE_FILE);
    served = await serveObjects([{ object: single }]);
  });
  afterAll(async () => {
    await served?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has its uTP attempt reset and downloads over TCP', async () => {
    const torrent = await writeTorrentFile(join(dir, 'torrents'), single.metainfo);
    const save = await freshDir(dir, 'utp');
    const result = await libtorrentLeech([
      '--torrent',
      torrent,
      '--save',
      save,
      '--peer',
      `127.0.0.1:${served.port}`,
      '--utp',
    ]);
    expect(result).toMatchObject({ done: true, problems: [] });
    expect(served.server.stats().utpResets).toBe(1);
    expect(served.server.stats().accepted).toBeGreaterThanOrEqual(1);
    expect(await differingFiles(save, single)).toEqual([]);
  });
});
