// aria2c downloads from edgepeer's peer wire server. aria2c cannot be told to dial a peer, so a minimal
// HTTP tracker (a few lines of node:http) hands it the server's address; DHT, LPD and PEX are off, so
// the server is its only source. aria2c checks every piece's SHA-1; the files are compared as well.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { magnetLink } from '../../src/metainfo/index.ts';
import {
  ARIA2_COMMON,
  type ContentObject,
  differingFiles,
  freePort,
  freshDir,
  MULTI_FILE,
  makeContent,
  miniTracker,
  runProgram,
  type ServedObjects,
  SINGLE_FILE,
  serveObjects,
  writeTorrentFile,
} from '../wire/interop-support.ts';

describe('aria2c downloads from the peer wire server (peer from a minimal tracker)', () => {
  let dir: string;
  let single: ContentObject;
  let multi: ContentObject;
  let served: ServedObjects;
  let tracker: Awaited<ReturnType<typeof miniTracker>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-wire-aria2-'));
    single = makeContent(SINGLE_FILE);
    multi = makeContent(MULTI_FILE);
    served = await serveObjects([{ object: single }, { object: multi }]);
    tracker = await miniTracker(served.port);
  });
  afterAll(async () => {
    await tracker?.close();
    await served?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function aria2(target: string, label: string, extra: string[] = []) {
    const save = await freshDir(dir, label);
    const result = await runProgram(
      'aria2c',
      [...ARIA2_COMMON, `--dir=${save}`, `--listen-port=${await freePort()}`, ...extra, target],
      90_000,
    );
    return { save, result };
  }

  it('downloads a single-file torrent (last piece shorter) and the data verifies', async () => {
    const torrent = await writeTorrentFile(join(dir, 'torrents'), single.metainfo);
    const { save, result } = await aria2(torrent, 'single', [`--bt-tracker=${tracker.url}`]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await differingFiles(save, single)).toEqual([]);
    // aria2c starts with an encrypted handshake (MSE); the server answers it and selects plaintext.
    expect(served.server.stats()).toMatchObject({ encryptedHandshakes: 1, notBitTorrent: 0 });
  });

  it('downloads a multi-file torrent and the data verifies', async () => {
    const torrent = await writeTorrentFile(join(dir, 'torrents'), multi.metainfo);
    const { save, result } = await aria2(torrent, 'multi', [`--bt-tracker=${tracker.url}`]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await differingFiles(save, multi)).toEqual([]);
  });

  it('downloads from a magnet link, fetching the metadata over ut_metadata (BEP 9)', async () => {
    const before = served.server.stats().metadataPiecesSent;
    const { save, result } = await aria2(magnetLink(single.metainfo, { trackers: [tracker.url] }), 'magnet');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(served.server.stats().metadataPiecesSent).toBeGreaterThan(before);
    expect(await differingFiles(save, single)).toEqual([]);
  });
});
