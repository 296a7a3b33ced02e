import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHashPool, type HashPool } from '../../src/hashing/index.ts';
import { type IngestContext, ingestSource, OriginClient } from '../../src/ingest/index.ts';
import { buildMetainfo, encodeTorrent, parseTorrent, pieceHash } from '../../src/metainfo/index.ts';
import { openStore, type StagingStore, type Store } from '../../src/store/index.ts';
import { TestOrigin } from '../helpers/origin.ts';

const PIECE = 16 * 1024;

function sha1Pieces(data: Buffer, pieceLength: number): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += pieceLength) {
    out.push(
      createHash('sha1')
        .update(data.subarray(at, at + pieceLength))
        .digest(),
    );
  }
  return Buffer.concat(out);
}

function expectedSingle(name: string, data: Buffer, pieceLength = PIECE) {
  return buildMetainfo({
    name,
    pieceLength,
    multiFile: false,
    files: [{ path: [], length: data.length }],
    pieceHashes: sha1Pieces(data, pieceLength),
  });
}

let dir: string;
let store: Store & StagingStore;
let pool: HashPool;
let origin: TestOrigin;
let originUrl: string;
let client: OriginClient;
let ctx: IngestContext;

// 10.5 pieces: the last piece is short.
const content = randomBytes(PIECE * 10 + PIECE / 2);

beforeAll(async () => {
  pool = createHashPool({ threads: 2 });
  origin = new TestOrigin();
  originUrl = await origin.start();
});

afterAll(async () => {
  await pool.close();
  await origin.stop();
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-ingest-'));
  store = await openStore(join(dir, 'store'), { mode: 'write' });
  client = new OriginClient({ timeoutMs: 2000, connections: 4 });
  ctx = { store, hashPool: pool, origin: client };
  origin.faults = {};
  origin.requests = [];
  origin.files.clear();
  origin.files.set('/media/clip.bin', content);
});

afterEach(async () => {
  await client.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ingest from a local path', () => {
  it('refuses --name for a local file rather than ignore it', async () => {
    const path = join(dir, 'clip.bin');
    await writeFile(path, content);
    const result = await ingestSource(path, { name: 'other.bin' }, ctx);
    expect(result).toMatchObject({ status: 'failed', error: { code: 'EDGEPEER_INVALID_ARGUMENT' } });
    expect(result.error?.message).toContain('--name names content fetched from a URL');
    expect(store.list()).toEqual([]);
  });

  it('ingests a file as a complete object, mktorrent-compatible, and is idempotent', async () => {
    const path = join(dir, 'clip.bin');
    await writeFile(path, content);
    const first = await ingestSource(path, { pieceLength: PIECE }, ctx);
    const expected = expectedSingle('clip.bin', content);
    expect(first).toMatchObject({
      status: 'ingested',
      infoHash: expected.infoHash,
      name: 'clip.bin',
      length: content.length,
      pieceLength: PIECE,
      pieces: 11,
      piecesHeld: 11,
      piecesAdded: 11,
    });
    expect(first.magnet).toContain(`xt=urn:btih:${expected.infoHash}`);
    expect(first.error).toBeUndefined();
    const again = await ingestSource(path, { pieceLength: PIECE }, ctx);
    expect(again).toMatchObject({ status: 'unchanged', infoHash: expected.infoHash, piecesAdded: 0 });
    expect(store.list()).toHaveLength(1);
    for (let i = 0; i < 11; i++) {
      const piece = await store.readPiece(expected.infoHash, i);
      expect(createHash('sha1').update(piece).digest()).toEqual(pieceHash(expected, i));
    }
  });

  it('makes a private object (BEP 27) with its trackers: private=1 in the info dictionary, another info hash', async () => {
    const path = join(dir, 'clip.bin');
    await writeFile(path, content);
    const tracker = 'http://127.0.0.1:6969/a1b2c3d4e5f6a7b8c9d0e1f2/announce';
    const result = await ingestSource(path, { pieceLength: PIECE, private: true, trackers: [tracker] }, ctx);
    const open = expectedSingle('clip.bin', content);
    expect(result.status).toBe('ingested');
    expect(result.infoHash).not.toBe(open.infoHash);
    const metainfo = store.metainfoOf(result.infoHash as string)!;
    expect(metainfo.private).toBe(true);
    expect(metainfo.info.includes(Buffer.from('7:privatei1e'))).toBe(true);
    expect(metainfo.announceList).toEqual([[tracker]]);
    const reread = parseTorrent(encodeTorrent(metainfo));
    expect(reread).toMatchObject({ infoHash: result.infoHash, private: true, announceList: [[tracker]] });
  });

  it('says updated, not unchanged, when a re-ingest of whole content gives it another TTL', async () => {
    const path = join(dir, 'ttl.bin');
    await writeFile(path, content);
    const first = await ingestSource(path, { pieceLength: PIECE }, ctx);
    expect(first.status).toBe('ingested');
    const withTtl = await ingestSource(path, { pieceLength: PIECE, ttlMs: 3_600_000 }, ctx);
    expect(withTtl).toMatchObject({ status: 'updated', piecesAdded: 0 });
    expect(store.get(first.infoHash as string)?.expiresAt).not.toBeNull();
    // The same again (the expiry moves on by the clock; a new TTL means a new expiry) and with none given.
    expect((await ingestSource(path, { pieceLength: PIECE }, ctx)).status).toBe('unchanged');
    const torrentTtl = await ingestSource(
      path,
      { pieceLength: PIECE, metainfo: store.metainfoOf(first.infoHash as string), ttlMs: 7_200_000 },
      ctx,
    );
    expect(torrentTtl).toMatchObject({ status: 'updated', piecesAdded: 0 });
  });

  it('names a data dir it may not write as a local failure, not the source as unreadable', async () => {
    const path = join(dir, 'fine.bin');
    await writeFile(path, content);
    // As root (CI) no permission is refused: the store's own call fails as it would for another user.
    const staging = join(dir, 'store', 'staging', 'x');
    const denied = Object.assign(new Error(`EACCES: permission denied, mkdir '${staging}'`), {
      code: 'EACCES',
      path: staging,
    });
    const result = await ingestSource(
      path,
      { pieceLength: PIECE },
      {
        ...ctx,
        store: Object.assign(Object.create(store), { createStaging: () => Promise.reject(denied) }),
      },
    );
    expect(result).toMatchObject({ status: 'failed', error: { code: 'EDGEPEER_IO', subject: staging } });
    expect(result.error?.message).toMatch(
      /permission denied: edgepeer writes its store there; check the owner and mode/,
    );
    // The source itself unreadable stays what it was.
    const missing = await ingestSource(join(dir, 'missing.bin'), {}, ctx);
    expect(missing.error?.code).toBe('EDGEPEER_SOURCE_UNREADABLE');
  });

  it('ingests a folder as a multi-file object', async () => {
    const root = join(dir, 'album');
    await mkdir(join(root, 'disc1'), { recursive: true });
    await writeFile(join(root, 'disc1', 'a.bin'), content.subarray(0, 20_000));
    await writeFile(join(root, 'cover.jpg'), content.subarray(20_000, 50_000));
    const result = await ingestSource(root, { pieceLength: PIECE }, ctx);
    expect(result).toMatchObject({ status: 'ingested', name: 'album', length: 50_000, pieces: 4, piecesHeld: 4 });
    const object = store.get(result.infoHash as string);
    expect(object?.metainfo.files.map((f) => f.path.join('/'))).toEqual(['cover.jpg', 'disc1/a.bin']);
  });

  it('closes every handle on the source when it fills known metainfo from a local file', async () => {
    const path = join(dir, 'clip.bin');
    await writeFile(path, content);
    const openOnSource = async () => {
      const fds = await readdir('/proc/self/fd');
      const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
      return targets.filter((target) => target === path).length;
    };
    // pieces are read in parallel: each task that found the file not yet open used to open it again
    const result = await ingestSource(path, { metainfo: expectedSingle('clip.bin', content) }, ctx);
    expect(result).toMatchObject({ status: 'ingested', piecesHeld: 11 });
    expect(await openOnSource()).toBe(0);
  });

  it('reports an unreadable path by name and stores nothing', async () => {
    const missing = join(dir, 'nope.bin');
    const result = await ingestSource(missing, {}, ctx);
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('EDGEPEER_SOURCE_UNREADABLE');
    expect(result.error?.message).toContain(missing);
    expect(store.list()).toHaveLength(0);
  });

  it('keeps only pieces that match known metainfo', async () => {
    const metainfo = expectedSingle('clip.bin', content);
    const damaged = Buffer.from(content);
    damaged[PIECE * 3 + 5] = (damaged[PIECE * 3 + 5] ?? 0) ^ 1;
    const path = join(dir, 'clip.bin');
    await writeFile(path, damaged);
    const result = await ingestSource(path, { metainfo }, ctx);
    expect(result.status).toBe('partial');
    expect(result.error?.code).toBe('EDGEPEER_HASH_MISMATCH');
    expect(result.piecesHeld).toBe(10);
    expect(store.get(metainfo.infoHash)?.bitfield.get(3)).toBe(false);
  });
});

describe('a failed ingest of a known object', () => {
  it('leaves no empty object behind when it added the object and could fill nothing', async () => {
    const metainfo = expectedSingle('clip.bin', content);
    origin.faults = { status: 404 };
    const result = await ingestSource(`${originUrl}/media/clip.bin`, { metainfo }, ctx);
    expect(result).toMatchObject({ status: 'failed', infoHash: metainfo.infoHash, piecesHeld: 0 });
    expect(store.get(metainfo.infoHash)).toBeUndefined();
  });

  it('keeps an object that was there before', async () => {
    const metainfo = expectedSingle('clip.bin', content);
    await store.addObject(metainfo);
    origin.faults = { status: 404 };
    expect((await ingestSource(`${originUrl}/media/clip.bin`, { metainfo }, ctx)).status).toBe('failed');
    expect(store.get(metainfo.infoHash)).toBeDefined();
  });
});

describe('ingest from an origin URL', () => {
  it('fetches in parallel ranges and gives the same object as the local file', async () => {
    const result = await ingestSource(`${originUrl}/media/clip.bin`, { pieceLength: PIECE }, ctx);
    expect(result).toMatchObject({
      status: 'ingested',
      infoHash: expectedSingle('clip.bin', content).infoHash,
      piecesHeld: 11,
    });
    expect(origin.requests.filter((r) => r.range && r.range !== 'bytes=0-0').length).toBeGreaterThan(1);
  });

  it('fills a known multi-file object from the folder holding <name>/<path...>, as a web seed reads it', async () => {
    const metainfo = buildMetainfo({
      name: 'album',
      pieceLength: PIECE,
      multiFile: true,
      files: [
        { path: ['cover.jpg'], length: 30_000 },
        { path: ['disc 1', 'a.bin'], length: 20_000 },
      ],
      pieceHashes: sha1Pieces(content.subarray(0, 50_000), PIECE),
    });
    origin.files.set('/shelf/album/cover.jpg', content.subarray(0, 30_000));
    origin.files.set('/shelf/album/disc 1/a.bin', content.subarray(30_000, 50_000));
    const result = await ingestSource(`${originUrl}/shelf/`, { metainfo }, ctx);
    expect(result).toMatchObject({ status: 'ingested', piecesHeld: 4 });
    // the same rule pull-through and redirects follow (src/ingest/origin.ts originFileUrl)
    expect(new Set(origin.requests.map((r) => r.path))).toEqual(
      new Set(['/shelf/album/cover.jpg', '/shelf/album/disc 1/a.bin']),
    );
  });

  it('copes with an origin that ignores Range', async () => {
    origin.faults = { ignoreRange: true };
    const result = await ingestSource(`${originUrl}/media/clip.bin`, { pieceLength: PIECE }, ctx);
    expect(result).toMatchObject({ status: 'ingested', infoHash: expectedSingle('clip.bin', content).infoHash });
  });

  it('retries a range cut short, then succeeds', async () => {
    origin.faults = { truncateAfter: 1000 };
    const result = await ingestSource(`${originUrl}/media/clip.bin`, { pieceLength: PIECE }, ctx);
    expect(result.status).toBe('ingested');
  });

  it('fails clearly on a body that is always truncated', async () => {
    origin.faults = { ignoreRange: true, truncateAfter: PIECE * 2 + 7, truncateAlways: true };
    const result = await ingestSource(`${originUrl}/media/clip.bin`, { pieceLength: PIECE }, ctx);
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('EDGEPEER_ORIGIN_TRUNCATED');
    expect(store.list()).toHaveLength(0);
  });

  it('names the URL and status of a 4xx', async () => {
    const url = `${originUrl}/media/missing.bin`;
    const result = await ingestSource(url, {}, ctx);
    expect(result.error).toMatchObject({ code: 'EDGEPEER_ORIGIN_STATUS', subject: url });
    expect(result.error?.message).toMatch(/404/);
  });

  it('times out on a stalled origin', async () => {
    await client.close();
    client = new OriginClient({ timeoutMs: 100, connections: 4 });
    ctx = { ...ctx, origin: client };
    origin.faults = { stall: true };
    const result = await ingestSource(`${originUrl}/media/clip.bin`, {}, ctx);
    expect(result.error?.code).toBe('EDGEPEER_ORIGIN_TIMEOUT');
  });

  it("times out on a stalled origin after the ingest's own timeout, on a client whose own is long", async () => {
    await client.close();
    client = new OriginClient({ timeoutMs: 600_000, connections: 4 });
    ctx = { ...ctx, origin: client };
    origin.faults = { stall: true };
    // Without originTimeoutMs this would wait ten minutes, far past the test's own timeout.
    const result = await ingestSource(`${originUrl}/media/clip.bin`, { originTimeoutMs: 100 }, ctx);
    expect(result.error?.code).toBe('EDGEPEER_ORIGIN_TIMEOUT');
    const bad = await ingestSource(`${originUrl}/media/clip.bin`, { originTimeoutMs: 0 }, ctx);
    expect(bad.error).toMatchObject({ code: 'EDGEPEER_INVALID_ARGUMENT' });
    expect(bad.error?.message).toMatch(/origin timeout must be .* got 0/);
  });

  it('fetches only the chosen pieces of known metainfo, with range requests', async () => {
    const metainfo = expectedSingle('clip.bin', content);
    const result = await ingestSource(`${originUrl}/media/clip.bin`, { metainfo, pieces: [2, 3, 10] }, ctx);
    expect(result).toMatchObject({ status: 'ingested', piecesHeld: 3, piecesAdded: 3 });
    const object = store.get(metainfo.infoHash);
    expect([...Array(11).keys()].filter((i) => object?.bitfield.get(i))).toEqual([2, 3, 10]);
    expect(origin.requests.map((r) => r.range)).toEqual(
      expect.arrayContaining([`bytes=${2 * PIECE}-${4 * PIECE - 1}`, `bytes=${10 * PIECE}-${content.length - 1}`]),
    );
  });

  it('keeps the pieces verified before an origin failed mid-ingest; the next ingest fetches only the rest', async () => {
    const metainfo = expectedSingle('clip.bin', content);
    // Every answer breaks off 2 pieces and 7 bytes into its range, however often it is retried.
    origin.faults = { truncateAfter: PIECE * 2 + 7, truncateAlways: true };
    const pieces = [...Array(11).keys()];
    const failed = await ingestSource(`${originUrl}/media/clip.bin`, { metainfo, pieces }, ctx);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('EDGEPEER_ORIGIN_TRUNCATED');
    const object = store.get(metainfo.infoHash);
    const held = pieces.filter((i) => object?.bitfield.get(i));
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThan(11);
    for (const index of held) {
      const piece = await store.readPiece(metainfo.infoHash, index);
      expect(piece.equals(content.subarray(index * PIECE, (index + 1) * PIECE)), `piece ${index}`).toBe(true);
    }
    // The origin is well again: what was kept is not fetched again.
    origin.faults = {};
    origin.requests = [];
    const missing = pieces.filter((i) => !held.includes(i));
    const again = await ingestSource(`${originUrl}/media/clip.bin`, { metainfo, pieces: missing }, ctx);
    expect(again).toMatchObject({ piecesHeld: 11, piecesAdded: missing.length });
    for (const request of origin.requests) {
      const [from, to] = /bytes=(\d+)-(\d+)/
        .exec(request.range ?? '')!
        .slice(1)
        .map(Number) as [number, number];
      for (const index of held) expect(to < index * PIECE || from >= (index + 1) * PIECE, `piece ${index}`).toBe(true);
    }
  });

  it('keeps good pieces and drops corrupt ones from an origin', async () => {
    const metainfo = expectedSingle('clip.bin', content);
    origin.faults = { corruptOffset: PIECE * 5 + 1 };
    const result = await ingestSource(`${originUrl}/media/clip.bin`, { metainfo }, ctx);
    expect(result.status).toBe('partial');
    expect(result.piecesHeld).toBe(10);
    expect(store.get(metainfo.infoHash)?.bitfield.get(5)).toBe(false);
  });

  it('round-trips the metainfo through a .torrent file', async () => {
    const result = await ingestSource(`${originUrl}/media/clip.bin`, { pieceLength: PIECE }, ctx);
    const object = store.get(result.infoHash as string);
    const file = join(dir, 'x.torrent');
    await writeFile(file, encodeTorrent(object!.metainfo));
    expect(parseTorrent(await readFile(file)).infoHash).toBe(result.infoHash);
  });
});
