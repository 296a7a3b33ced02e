// Issue 12's first promise against real clients: bytes that change on disk AFTER their piece was verified
// and left the piece cache are never served, over HTTP (curl: a range, a piece URL, the whole object) or
// over the peer wire (python3-libtorrent). With the former default (verifyPolicy 'first-read') each of
// these served the changed bytes with 200/206, and libtorrent saw a hash failure.
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pieceUrl } from '../../src/http/index.ts';
import { run, type ServedSet, SINGLE_FILE, serveObjects, stopServed, webSeedOf } from '../http/interop-fixtures.ts';
import {
  freshDir,
  libtorrentLeech,
  makeContent,
  type ServedObjects,
  serveObjects as serveOverWire,
  storedFilePath,
  SINGLE_FILE as WIRE_SINGLE_FILE,
  writeTorrentFile,
} from '../wire/interop-support.ts';

/** Flips the byte at `offset` of a file in place, as bit rot or a stray write would: no event, no eviction. */
async function flipByte(path: string, offset: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

describe('HTTP: bytes changed on disk after their piece was verified', () => {
  let dir: string;
  let served: ServedSet;
  let url: string;
  let data: Buffer;
  let dataFile: string;
  const pieceLength = SINGLE_FILE.pieceLength;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-integrity-http-'));
    // The cache holds one piece: after the first full download, verified pieces are on disk only.
    served = await serveObjects(dir, [SINGLE_FILE], { cacheBytes: pieceLength });
    const object = served.objects[0]!;
    data = object.data;
    url = webSeedOf(served.base, object) + encodeURIComponent(SINGLE_FILE.name);
    dataFile = join(served.dataDir, 'objects', object.metainfo.infoHash, 'data', SINGLE_FILE.name);
    const body = join(dir, 'first.bin');
    await run('curl', ['-sS', '-f', '-o', body, url]);
    expect((await readFile(body)).equals(data)).toBe(true);
    expect(served.cache.stats().corruptPieces).toBe(0);
  });
  afterAll(async () => {
    await stopServed(served);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** curl's status code and body for `url` with optional extra arguments. */
  async function curl(target: string, args: string[] = []): Promise<{ status: number; body: Buffer }> {
    const bodyFile = join(dir, 'body.bin');
    await rm(bodyFile, { force: true });
    const { stdout } = await run('curl', ['-sS', '-o', bodyFile, '-w', '%{http_code}', ...args, target]).catch(
      (err: { stdout: string }) => ({ stdout: err.stdout }),
    );
    const body = await readFile(bodyFile).catch(() => Buffer.alloc(0));
    return { status: Number(stdout), body };
  }

  const held = (index: number) => served.store.get(served.objects[0]!.metainfo.infoHash)!.bitfield.get(index);

  it('a range over the changed byte is refused, and the piece leaves the store', async () => {
    const offset = 3 * pieceLength + 5000;
    await flipByte(dataFile, offset);
    const { status, body } = await curl(url, ['-H', `Range: bytes=${offset - 100}-${offset + 100}`]);
    expect(status).toBe(503);
    expect(body.includes(data.subarray(offset - 100, offset + 101))).toBe(false);
    expect(held(3)).toBe(false);
  });

  it('a piece URL of a changed piece is refused', async () => {
    const offset = 6 * pieceLength + 17;
    await flipByte(dataFile, offset);
    const object = served.objects[0]!;
    const { status } = await curl(pieceUrl(served.base, object.metainfo.infoHash, 6));
    expect(status).toBe(503);
    expect(held(6)).toBe(false);
  });

  it('the whole object stops before the changed piece: every byte sent is a verified one', async () => {
    const offset = 10 * pieceLength + 99;
    await flipByte(dataFile, offset);
    const { status, body } = await curl(url, ['-H', `Range: bytes=${8 * pieceLength}-`]);
    // The head went out with pieces 8 and 9; the connection is cut before any byte of piece 10.
    expect(status).toBe(206);
    expect(body.length).toBeLessThanOrEqual(2 * pieceLength);
    expect(body.equals(data.subarray(8 * pieceLength, 8 * pieceLength + body.length))).toBe(true);
    expect(held(10)).toBe(false);
    expect(served.cache.stats().corruptPieces).toBe(3);
  });
});

describe('peer wire: bytes changed on disk after their piece was verified', () => {
  let dir: string;
  let served: ServedObjects;
  afterAll(async () => {
    await served?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('libtorrent never receives the changed piece, and is told it is gone', async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-integrity-wire-'));
    const object = makeContent(WIRE_SINGLE_FILE);
    const { metainfo } = object;
    served = await serveOverWire([{ object }], {}, metainfo.pieceLength);
    const torrent = await writeTorrentFile(join(dir, 'torrents'), metainfo);
    const peer = `127.0.0.1:${served.port}`;
    const first = await libtorrentLeech(['--torrent', torrent, '--save', await freshDir(dir, 'first'), '--peer', peer]);
    expect(first).toMatchObject({ done: true, problems: [] });

    const changed = 9;
    await flipByte(storedFilePath(served, metainfo, 0), changed * metainfo.pieceLength + 100);
    const count = metainfo.pieceCount;
    const second = await libtorrentLeech([
      '--torrent',
      torrent,
      '--save',
      await freshDir(dir, 'second'),
      '--peer',
      peer,
      '--until',
      `pieces:${count - 1}`,
      '--peer-lacks',
      String(changed),
    ]);
    const others = [...Array(count).keys()].filter((i) => i !== changed);
    expect(second).toMatchObject({ done: true, problems: [], have: others, donthave: [changed] });
    expect(served.cache.stats().corruptPieces).toBe(1);
    expect(served.store.get(metainfo.infoHash)!.bitfield.get(changed)).toBe(false);
  });
});
