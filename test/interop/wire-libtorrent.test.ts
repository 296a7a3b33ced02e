// python3-libtorrent downloads from edgepeer's peer wire server, dialling its port directly (TCP only;
// no tracker, DHT, LSD, uTP). libtorrent checks every piece's SHA-1, so a finish without hash failures
// means every byte served was right; the files are compared as well.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { magnetLink } from '../../src/metainfo/index.ts';
import {
  type ContentObject,
  corruptOnDisk,
  differingFiles,
  freshDir,
  libtorrentLeech,
  MULTI_FILE,
  makeContent,
  type ServedObjects,
  SINGLE_FILE,
  serveObjects,
  writeTorrentFile,
} from '../wire/interop-support.ts';

describe('libtorrent downloads from the peer wire server', () => {
  let dir: string;
  let single: ContentObject;
  let multi: ContentObject;
  let served: ServedObjects;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-wire-lt-'));
    single = makeContent(SINGLE_FILE);
    multi = makeContent(MULTI_FILE);
    served = await serveObjects([{ object: single }, { object: multi }]);
  });
  afterAll(async () => {
    await served?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function leech(object: ContentObject, label: string, extra: string[] = []) {
    const torrent = await writeTorrentFile(join(dir, 'torrents'), object.metainfo);
    const save = await freshDir(dir, label);
    const result = await libtorrentLeech([
      '--torrent',
      torrent,
      '--save',
      save,
      '--peer',
      `127.0.0.1:${served.port}`,
      ...extra,
    ]);
    return { save, result };
  }

  it('downloads a single-file torrent (last piece shorter) and the data verifies', async () => {
    const { save, result } = await leech(single, 'single');
    expect(result).toMatchObject({ done: true, problems: [] });
    expect(await differingFiles(save, single)).toEqual([]);
  });

  it('downloads a multi-file torrent (pieces spanning files, an empty file) and the data verifies', async () => {
    const { save, result } = await leech(multi, 'multi');
    expect(result).toMatchObject({ done: true, problems: [] });
    expect(await differingFiles(save, multi)).toEqual([]);
  });

  it('downloads with libtorrent default and forced encryption (encrypted handshake, plaintext payload)', async () => {
    for (const policy of ['default', 'forced']) {
      const before = served.server.stats().encryptedHandshakes;
      const { save, result } = await leech(single, `${policy}-encryption`, ['--encryption', policy]);
      expect(result).toMatchObject({ done: true, problems: [] });
      expect(await differingFiles(save, single)).toEqual([]);
      expect(served.server.stats().encryptedHandshakes).toBeGreaterThan(before);
    }
  });

  it('downloads with RC4 as all libtorrent offers (as Transmission does), with the default settings', async () => {
    const before = served.server.stats().encryptedHandshakes;
    const { save, result } = await leech(single, 'rc4-only', ['--encryption', 'rc4']);
    expect(result).toMatchObject({ done: true, problems: [] });
    expect(await differingFiles(save, single)).toEqual([]);
    expect(served.server.stats()).toMatchObject({ encryptedHandshakes: before + 1, rc4Refused: 0, rc4Streams: 1 });
  });

  it('downloads from a magnet link, fetching the metadata over ut_metadata (BEP 9)', async () => {
    const save = await freshDir(dir, 'magnet');
    const before = served.server.stats().metadataPiecesSent;
    const result = await libtorrentLeech([
      '--magnet',
      magnetLink(multi.metainfo),
      '--save',
      save,
      '--peer',
      `127.0.0.1:${served.port}`,
    ]);
    expect(result).toMatchObject({ done: true, has_metadata: true, problems: [] });
    expect(served.server.stats().metadataPiecesSent).toBeGreaterThan(before);
    expect(await differingFiles(save, multi)).toEqual([]);
  });
});

describe('libtorrent and a server holding only some pieces', () => {
  let dir: string;
  let served: ServedObjects;
  afterAll(async () => {
    await served?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sees exactly the pieces held advertised, and receives exactly those', async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-wire-lt-partial-'));
    const object = makeContent(SINGLE_FILE);
    const held = [0, 3, 4, 7, 11, 20]; // 21 pieces; 20 is the short last one
    served = await serveObjects([{ object, held }]);
    const torrent = await writeTorrentFile(join(dir, 'torrents'), object.metainfo);
    const save = await freshDir(dir, 'partial');
    const result = await libtorrentLeech([
      '--torrent',
      torrent,
      '--save',
      save,
      '--peer',
      `127.0.0.1:${served.port}`,
      '--until',
      `pieces:${held.length}`,
    ]);
    expect(result).toMatchObject({ done: true, problems: [], have: held, peer_pieces: held });
    const stats = served.server.stats();
    expect(stats.uploadedBytes).toBe(
      5 * object.metainfo.pieceLength + (object.metainfo.length % object.metainfo.pieceLength),
    );
  });
});

describe('libtorrent and a piece corrupted on disk', () => {
  let dir: string;
  let served: ServedObjects;
  afterAll(async () => {
    await served?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('never receives the corrupt piece, and is told it is gone (lt_donthave)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-wire-lt-corrupt-'));
    const object = makeContent(SINGLE_FILE);
    const corrupt = 9;
    served = await serveObjects([{ object }]);
    await corruptOnDisk(served, object.metainfo, corrupt);
    const torrent = await writeTorrentFile(join(dir, 'torrents'), object.metainfo);
    const save = await freshDir(dir, 'corrupt');
    const count = object.metainfo.pieceCount;
    const result = await libtorrentLeech([
      '--torrent',
      torrent,
      '--save',
      save,
      '--peer',
      `127.0.0.1:${served.port}`,
      '--until',
      `pieces:${count - 1}`,
      '--peer-lacks',
      String(corrupt),
    ]);
    const others = [...Array(count).keys()].filter((i) => i !== corrupt);
    // No hash failure: not one byte of the rotten piece went out. The piece was advertised at first
    // (nobody knew), then withdrawn with lt_donthave.
    expect(result).toMatchObject({ done: true, problems: [], have: others, donthave: [corrupt] });
    expect(served.cache.stats().corruptPieces).toBe(1);
    expect(served.store.get(object.metainfo.infoHash)!.bitfield.get(corrupt)).toBe(false);
  });
});
