import { open as fsOpen, link, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type EdgepeerError, InvalidArgumentError } from '../../src/errors/index.ts';
import { openStore, type StagingStore, type Store } from '../../src/store/index.ts';
import { readFrames } from '../../src/store/records.ts';
import { heldPieces, makeObject, nextEvent, sha1, tempFolder } from './helpers.ts';

let dataDir: string;
let removeFolder: () => Promise<void>;
const opened: Store[] = [];

async function open(mode: 'write' | 'read' = 'write', extra = {}): Promise<Store & StagingStore> {
  const store = await openStore(dataDir, { mode, ...extra });
  opened.push(store);
  return store;
}

beforeEach(async () => {
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await removeFolder();
});

const single = makeObject({ name: 'clip.mp4', pieceLength: 16_384, fileLengths: [100_000], single: true });
const multi = makeObject({
  name: 'album',
  pieceLength: 16_384,
  fileLengths: [10_000, 0, 30_000, 5],
  filePaths: [['cd1', 'a.flac'], ['empty.txt'], ['cd2', 'b.flac'], ['notes.txt']],
});

async function writeAll(store: Store, object: typeof single): Promise<void> {
  const { metainfo } = object;
  await Promise.all(
    Array.from({ length: metainfo.pieceCount }, (_, index) =>
      store.writePiece(metainfo.infoHash, index, object.piece(index)),
    ),
  );
}

describe('content store', () => {
  it('round-trips a single-file object, laid out as D/<name> with the file created sparse at add', async () => {
    const store = await open();
    const added = await store.addObject(single.metainfo, { source: '/srv/clip.mp4' });
    expect(added).toMatchObject({ infoHash: single.metainfo.infoHash, name: 'clip.mp4', piecesHeld: 0 });
    const dataFile = join(dataDir, 'objects', single.metainfo.infoHash, 'data', 'clip.mp4');
    const created = await stat(dataFile);
    expect(created.size).toBe(100_000);
    expect(created.blocks).toBe(0);

    await writeAll(store, single);
    expect(added.complete).toBe(true);
    expect(JSON.parse(JSON.stringify(added))).toMatchObject({
      infoHash: single.metainfo.infoHash,
      pieces: 7,
      piecesHeld: 7,
      bitfield: 'fe',
      source: '/srv/clip.mp4',
    });
    expect(added.bitfield.count()).toBe(single.metainfo.pieceCount);
    expect(await readFile(dataFile)).toEqual(single.content);
    for (let index = 0; index < single.metainfo.pieceCount; index++) {
      expect(await store.readPiece(single.metainfo.infoHash.toUpperCase(), index)).toEqual(single.piece(index));
    }
  });

  it('round-trips a multi-file object with an empty file and pieces spanning files, as D/<name>/<path...>', async () => {
    const store = await open();
    await store.addObject(multi.metainfo);
    await writeAll(store, multi);
    const folder = join(dataDir, 'objects', multi.metainfo.infoHash, 'data', 'album');
    expect(await readFile(join(folder, 'cd1', 'a.flac'))).toEqual(multi.fileContents[0]);
    expect(await readFile(join(folder, 'empty.txt'))).toEqual(Buffer.alloc(0));
    expect(await readFile(join(folder, 'cd2', 'b.flac'))).toEqual(multi.fileContents[2]);
    expect(await readFile(join(folder, 'notes.txt'))).toEqual(multi.fileContents[3]);
    for (let index = 0; index < multi.metainfo.pieceCount; index++) {
      expect(sha1(await store.readPiece(multi.metainfo.infoHash, index))).toEqual(sha1(multi.piece(index)));
    }
  });

  it('group-commits concurrent writes: one pieces-added event for the batch, all durable when they resolve', async () => {
    const store = await open('write', { commitIntervalMs: 50, commitMaxPieces: 1000 });
    await store.addObject(single.metainfo);
    const events: number[][] = [];
    store.on('pieces-added', (_infoHash, indexes) => events.push(indexes));
    await writeAll(store, single);
    expect(events).toEqual([[0, 1, 2, 3, 4, 5, 6]]);
  });

  it('commits as soon as the batch reaches commitMaxPieces', async () => {
    const store = await open('write', { commitIntervalMs: 60_000, commitMaxPieces: 3 });
    await store.addObject(single.metainfo);
    const events: number[][] = [];
    store.on('pieces-added', (_infoHash, indexes) => events.push(indexes));
    await Promise.all([0, 1, 2].map((index) => store.writePiece(single.metainfo.infoHash, index, single.piece(index))));
    expect(events).toEqual([[0, 1, 2]]);
  });

  it('keeps the bitmap across reopen without rehashing: a byte changed on disk meanwhile goes unnoticed at open', async () => {
    const first = await open();
    await first.addObject(single.metainfo, { ttlMs: 60_000, source: 'origin' });
    await Promise.all([0, 2, 4].map((index) => first.writePiece(single.metainfo.infoHash, index, single.piece(index))));
    await first.close();

    const dataFile = join(dataDir, 'objects', single.metainfo.infoHash, 'data', 'clip.mp4');
    const bytes = await readFile(dataFile);
    bytes[0]! ^= 0xff;
    await writeFile(dataFile, bytes);

    const second = await open();
    const object = second.find('clip.mp4');
    expect(object.bitfield.toBuffer()).toEqual(Buffer.from([0b1010_1000]));
    expect(object.source).toBe('origin');
    expect(object.expiresAt).toBeGreaterThan(Date.now());
    // Served from disk as it is: only the piece cache verifies, on read.
    expect((await second.readPiece(single.metainfo.infoHash, 0))[0]).toBe(single.piece(0)[0]! ^ 0xff);
  });

  it('finds by info hash in any case or by exact name, and names the candidates of an ambiguous name', async () => {
    const store = await open();
    const twin = makeObject({
      name: 'clip.mp4',
      pieceLength: 16_384,
      fileLengths: [5000],
      single: true,
      seed: 'other',
    });
    await store.addObject(single.metainfo);
    expect(store.find(single.metainfo.infoHash.toUpperCase()).name).toBe('clip.mp4');
    expect(store.find('clip.mp4').infoHash).toBe(single.metainfo.infoHash);
    await store.addObject(twin.metainfo);
    const ambiguous = (() => {
      try {
        store.find('clip.mp4');
      } catch (err) {
        return err as EdgepeerError;
      }
    })();
    expect(ambiguous?.code).toBe('EDGEPEER_INVALID_ARGUMENT');
    expect(ambiguous?.message).toContain(single.metainfo.infoHash);
    expect(ambiguous?.message).toContain(twin.metainfo.infoHash);
    expect(() => store.find('nothing')).toThrow(expect.objectContaining({ code: 'EDGEPEER_NOT_FOUND' }));
    expect(store.get('zz')).toBeUndefined();
  });

  it('re-adding an object returns it with TTL and source refreshed, durably', async () => {
    const store = await open();
    await store.addObject(single.metainfo, { ttlMs: 1000, source: 'a' });
    await store.writePiece(single.metainfo.infoHash, 1, single.piece(1));
    const again = await store.addObject(single.metainfo, { ttlMs: 3_600_000, source: 'b' });
    expect(again.piecesHeld).toBe(1);
    expect(again.source).toBe('b');
    await store.close();
    const reopened = await open();
    expect(reopened.get(single.metainfo.infoHash)?.source).toBe('b');
    expect(reopened.get(single.metainfo.infoHash)!.expiresAt!).toBeGreaterThan(Date.now() + 3_000_000);
  });

  it('lists expired objects', async () => {
    const store = await open();
    await store.addObject(single.metainfo, { ttlMs: 1000 });
    await store.addObject(multi.metainfo);
    expect(store.listExpired()).toEqual([]);
    expect(store.listExpired(Date.now() + 2000).map((object) => object.name)).toEqual(['clip.mp4']);
  });

  it('removes pieces durably, then frees their space, and tells listeners after the change is durable', async () => {
    const store = await open();
    await store.addObject(single.metainfo);
    await writeAll(store, single);
    const dataFile = join(dataDir, 'objects', single.metainfo.infoHash, 'data', 'clip.mp4');
    const blocksBefore = (await stat(dataFile)).blocks;
    const removed = nextEvent<[string, number[], string]>(store, 'pieces-removed');
    await store.removePieces(single.metainfo.infoHash, [2, 1, 2], 'purge');
    expect(await removed).toEqual([single.metainfo.infoHash, [1, 2], 'purge']);
    expect(heldPieces(store.get(single.metainfo.infoHash)!.bitfield)).toEqual([0, 3, 4, 5, 6]);
    expect((await stat(dataFile)).blocks).toBeLessThan(blocksBefore);
    await expect(store.readPiece(single.metainfo.infoHash, 1)).rejects.toMatchObject({ code: 'EDGEPEER_NOT_FOUND' });
    await store.close();
    const reopened = await open('read');
    expect(heldPieces(reopened.get(single.metainfo.infoHash)!.bitfield)).toEqual([0, 3, 4, 5, 6]);
  });

  it('removes an object: index first, then its files; it is gone after reopen and can be added again', async () => {
    const store = await open();
    await store.addObject(multi.metainfo);
    await writeAll(store, multi);
    const removed = nextEvent<[string, string]>(store, 'object-removed');
    await store.removeObject(multi.metainfo.infoHash, 'expired');
    expect(await removed).toEqual([multi.metainfo.infoHash, 'expired']);
    expect(await readdir(join(dataDir, 'objects'))).toEqual([]);
    expect(store.list()).toEqual([]);
    await store.addObject(multi.metainfo);
    expect(store.get(multi.metainfo.infoHash)!.piecesHeld).toBe(0);
    await store.writePiece(multi.metainfo.infoHash, 0, multi.piece(0));
    expect(await store.readPiece(multi.metainfo.infoHash, 0)).toEqual(multi.piece(0));
  });

  it('refuses bad input with typed errors naming what was wrong', async () => {
    const store = await open();
    await store.addObject(single.metainfo);
    const { infoHash } = single.metainfo;
    await expect(store.writePiece(infoHash, 0, Buffer.alloc(10))).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message: expect.stringContaining('16384 bytes, got 10'),
    });
    await expect(store.writePiece(infoHash, 7, Buffer.alloc(1))).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message: expect.stringContaining('out of range'),
    });
    await expect(store.writePiece('00'.repeat(20), 0, Buffer.alloc(1))).rejects.toMatchObject({
      code: 'EDGEPEER_NOT_FOUND',
    });
    await expect(store.readPiece(infoHash, 0)).rejects.toMatchObject({ code: 'EDGEPEER_NOT_FOUND' });
    await expect(store.removePieces(infoHash, [-1], 'purge')).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
    await expect(store.removeObject(infoHash, 'bogus' as 'purge')).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
    await expect(store.addObject({ ...single.metainfo, infoHash: 'xyz' })).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
    await expect(store.addObject(single.metainfo, { ttlMs: -5 })).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
    await expect(openStore('', { mode: 'read' })).rejects.toMatchObject({ code: 'EDGEPEER_INVALID_ARGUMENT' });
    await expect(openStore(dataDir, { mode: 'write', commitMaxPieces: 0 })).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
    await expect(openStore(dataDir, { mode: 'sideways' as 'read' })).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
  });

  it('never opens a path outside the data folder, whatever the metainfo says', async () => {
    const store = await open();
    const escaping = {
      ...multi.metainfo,
      infoHash: 'cd'.repeat(20),
      files: multi.metainfo.files.map((file, index) => (index === 0 ? { ...file, path: ['..', '..', 'x'] } : file)),
    };
    await expect(store.addObject(escaping)).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message: expect.stringContaining('unsafe'),
    });
    await expect(store.addObject({ ...single.metainfo, infoHash: 'ef'.repeat(20), name: '..' })).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
    expect(await readdir(join(dataDir, 'objects'))).toEqual([]);
  });

  it('a reader sees what the writer commits, without a lock, and hears of it', async () => {
    const writer = await open();
    const reader = await open('read');
    expect(reader.list()).toEqual([]);
    await writer.addObject(single.metainfo);
    expect(reader.get(single.metainfo.infoHash)?.piecesHeld).toBe(0);
    const heard: number[][] = [];
    reader.on('pieces-added', (_infoHash, indexes) => heard.push(indexes));
    await writer.writePiece(single.metainfo.infoHash, 3, single.piece(3));
    expect(heldPieces(reader.get(single.metainfo.infoHash)!.bitfield)).toEqual([3]);
    expect(heard).toEqual([[3]]);
    expect(await reader.readPiece(single.metainfo.infoHash, 3)).toEqual(single.piece(3));
    await expect(reader.writePiece(single.metainfo.infoHash, 0, single.piece(0))).rejects.toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
    });
    await writer.removeObject(single.metainfo.infoHash, 'purge');
    expect(reader.list()).toEqual([]);
  });

  it('a reader of a store that does not exist sees it empty and creates nothing', async () => {
    const missing = join(dataDir, 'not-there');
    const reader = await openStore(missing, { mode: 'read' });
    expect(reader.list()).toEqual([]);
    await reader.close();
    await expect(stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('compacts the journal into a snapshot and reopens to the same state; readers follow across compactions', async () => {
    const store = await open('write', { compactJournalBytes: 1, commitMaxPieces: 1 });
    const reader = await open('read');
    await store.addObject(single.metainfo);
    await store.addObject(multi.metainfo, { source: 'm' });
    for (let index = 0; index < single.metainfo.pieceCount; index++) {
      await store.writePiece(single.metainfo.infoHash, index, single.piece(index));
      expect(reader.get(single.metainfo.infoHash)?.piecesHeld).toBe(index + 1);
    }
    await store.removePieces(single.metainfo.infoHash, [0], 'policy');
    await store.close();
    const files = await readdir(join(dataDir, 'index'));
    expect(files).toContain('snapshot');
    expect(files.filter((name) => name.startsWith('journal-'))).toHaveLength(1);
    const reopened = await open();
    expect(heldPieces(reopened.get(single.metainfo.infoHash)!.bitfield)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(reopened.get(multi.metainfo.infoHash)!.source).toBe('m');
    expect(heldPieces(reader.get(single.metainfo.infoHash)!.bitfield)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a reader notices a compaction within a second even when the old journal keeps a link', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const writer = await open('write', { compactJournalBytes: 1, commitMaxPieces: 1 });
      await writer.addObject(single.metainfo);
      const reader = await open('read');
      expect(reader.get(single.metainfo.infoHash)?.piecesHeld).toBe(0);
      const journals = async () =>
        (await readdir(join(dataDir, 'index'))).filter((name) => name.startsWith('journal-'));
      const [followed] = await journals();
      // A second name keeps the journal's link count up after the compaction unlinks it (as NFS may show it).
      await link(join(dataDir, 'index', followed!), join(dataDir, 'old-journal'));
      await writer.writePiece(single.metainfo.infoHash, 0, single.piece(0));
      await writer.writePiece(single.metainfo.infoHash, 1, single.piece(1));
      expect(await journals()).not.toContain(followed);
      vi.advanceTimersByTime(1_001);
      expect(heldPieces(reader.get(single.metainfo.infoHash)!.bitfield)).toEqual([0, 1]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('cuts a torn journal tail at open and keeps everything before it', async () => {
    const store = await open();
    await store.addObject(single.metainfo);
    await writeAll(store, single);
    await store.close();
    const [journal] = (await readdir(join(dataDir, 'index'))).filter((name) => name.startsWith('journal-'));
    const journalPath = join(dataDir, 'index', journal!);
    const before = await readFile(journalPath);
    const intactEnd = readFrames(before).validEnd;
    // A record torn by a crash: its start is on disk, the rest is not (the file's zero reserve follows).
    const torn = Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 3, 9, 9]);
    const handle = await fsOpen(journalPath, 'r+');
    await handle.write(torn, 0, torn.length, intactEnd);
    await handle.close();
    const reopened = await open();
    expect(reopened.get(single.metainfo.infoHash)!.complete).toBe(true);
    expect((await readFile(journalPath)).subarray(intactEnd, intactEnd + torn.length)).toEqual(
      Buffer.alloc(torn.length),
    );
    await reopened.writePiece(single.metainfo.infoHash, 0, single.piece(0));
    await reopened.removePieces(single.metainfo.infoHash, [6], 'purge');
    await reopened.close();
    const again = await open('read');
    expect(heldPieces(again.get(single.metainfo.infoHash)!.bitfield)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('removes at open an object folder whose creation never reached the index', async () => {
    const store = await open();
    await store.addObject(single.metainfo);
    await store.close();
    const orphan = join(dataDir, 'objects', 'ab'.repeat(20));
    await writeFile(join(dataDir, 'objects', 'leftover.tmp'), 'x');
    await import('node:fs/promises').then((fs) => fs.mkdir(join(orphan, 'data'), { recursive: true }));
    await open();
    expect(await readdir(join(dataDir, 'objects'))).toEqual([single.metainfo.infoHash]);
  });
});

describe('synchronous span reads', () => {
  const { infoHash: singleHash } = single.metainfo;
  const { infoHash: multiHash } = multi.metainfo;

  it('reads bytes of a piece within one file, across files and in the last short piece', async () => {
    const store = await open();
    await store.addObject(single.metainfo);
    await store.addObject(multi.metainfo);
    await writeAll(store, single);
    await writeAll(store, multi);
    // Writing left the files' handles open in the pool.
    expect(store.readPieceSpanSync(singleHash.toUpperCase(), 1, 100, 16_000)).toEqual(
      single.piece(1).subarray(100, 16_000),
    );
    // Piece 0 of the album is a.flac's 10,000 bytes, then (past the empty file) the start of b.flac.
    expect(store.readPieceSpanSync(multiHash, 0, 9_000, 11_000)).toEqual(multi.content.subarray(9_000, 11_000));
    // The last piece (7,237 bytes) ends with notes.txt's 5 bytes.
    expect(store.readPieceSpanSync(multiHash, 2, 7_000, 7_237)).toEqual(multi.piece(2).subarray(7_000));
    expect(store.readPieceSpanSync(singleHash, 6, 0, 1_696)).toEqual(single.piece(6));
    // Into a caller's buffer: a view of its start, the rest untouched; too small a buffer is refused.
    const into = Buffer.alloc(4_000, 0xee);
    const read = store.readPieceSpanSync(multiHash, 0, 9_000, 11_000, into);
    expect(read?.buffer).toBe(into.buffer);
    expect(read).toEqual(multi.content.subarray(9_000, 11_000));
    expect(into[2_000]).toBe(0xee);
    expect(() => store.readPieceSpanSync(multiHash, 0, 0, 5_000, into)).toThrow(InvalidArgumentError);
  });

  it('answers undefined when a needed file is not open, opening nothing; reads once readPiece opened it', async () => {
    const writer = await open();
    await writer.addObject(multi.metainfo);
    await writeAll(writer, multi);
    await writer.close();
    const store = await open('write', { maxOpenFiles: 1 });
    expect(store.readPieceSpanSync(multiHash, 0, 0, 100)).toBeUndefined();
    // Reading piece 0 opens a.flac, then b.flac; one handle is kept: b.flac, the last used.
    expect(await store.readPiece(multiHash, 0)).toEqual(multi.piece(0));
    expect(store.readPieceSpanSync(multiHash, 0, 9_000, 11_000)).toBeUndefined();
    expect(store.readPieceSpanSync(multiHash, 0, 10_000, 11_000)).toEqual(multi.content.subarray(10_000, 11_000));
    // The last piece is b.flac's end (open), then notes.txt (not open): refused, b.flac's reference returned...
    expect(store.readPieceSpanSync(multiHash, 2, 7_000, 7_237)).toBeUndefined();
    // ...so the pool can close b.flac when reading the last piece opens notes.txt.
    expect(await store.readPiece(multiHash, 2)).toEqual(multi.piece(2));
    expect(store.readPieceSpanSync(multiHash, 2, 7_000, 7_237)).toBeUndefined();
    expect(store.readPieceSpanSync(multiHash, 2, 7_232, 7_237)).toEqual(multi.fileContents[3]);
  });

  it('refuses spans outside the piece, pieces not held and removed objects with typed errors', async () => {
    const store = await open();
    await store.addObject(single.metainfo);
    await Promise.all([0, 6].map((index) => store.writePiece(singleHash, index, single.piece(index))));
    for (const [from, to] of [
      [-1, 10],
      [10, 10],
      [20, 10],
      [0, 16_385],
      [0.5, 10],
      [0, Number.NaN],
    ] as const) {
      expect(() => store.readPieceSpanSync(singleHash, 0, from, to)).toThrow(
        expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }),
      );
    }
    expect(() => store.readPieceSpanSync(singleHash, 6, 0, 1_697)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT', message: expect.stringContaining('1696 bytes') }),
    );
    expect(() => store.readPieceSpanSync(singleHash, 7, 0, 1)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_INVALID_ARGUMENT' }),
    );
    expect(() => store.readPieceSpanSync(singleHash, 1, 0, 1)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_NOT_FOUND' }),
    );
    expect(() => store.readPieceSpanSync('00'.repeat(20), 0, 0, 1)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_NOT_FOUND' }),
    );
    await store.removePieces(singleHash, [0], 'purge');
    expect(() => store.readPieceSpanSync(singleHash, 0, 0, 1)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_NOT_FOUND' }),
    );
    expect(store.readPieceSpanSync(singleHash, 6, 0, 10)).toEqual(single.piece(6).subarray(0, 10));
    await store.removeObject(singleHash, 'purge');
    expect(() => store.readPieceSpanSync(singleHash, 6, 0, 10)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_NOT_FOUND' }),
    );
  });

  it('reports a data file shorter than its metainfo as store corruption, naming the file', async () => {
    const store = await open();
    await store.addObject(single.metainfo);
    await writeAll(store, single);
    const dataFile = join(dataDir, 'objects', singleHash, 'data', 'clip.mp4');
    const file = await fsOpen(dataFile, 'r+');
    await file.truncate(99_000);
    await file.close();
    expect(() => store.readPieceSpanSync(singleHash, 6, 0, 1_696)).toThrow(
      expect.objectContaining({
        code: 'EDGEPEER_STORE_CORRUPT',
        details: expect.objectContaining({ subject: dataFile }),
      }),
    );
    expect(store.readPieceSpanSync(singleHash, 6, 0, 100)).toEqual(single.piece(6).subarray(0, 100));
  });

  it('a reader follows the writer before reading: a piece the writer removed is not held', async () => {
    const writer = await open();
    await writer.addObject(single.metainfo);
    await writeAll(writer, single);
    const reader = await open('read');
    expect(reader.readPieceSpanSync(singleHash, 3, 0, 10)).toBeUndefined();
    await reader.readPiece(singleHash, 3);
    expect(reader.readPieceSpanSync(singleHash, 3, 0, 10)).toEqual(single.piece(3).subarray(0, 10));
    await writer.removePieces(singleHash, [3], 'purge');
    expect(() => reader.readPieceSpanSync(singleHash, 3, 0, 10)).toThrow(
      expect.objectContaining({ code: 'EDGEPEER_NOT_FOUND' }),
    );
  });
});

describe('closing', () => {
  it('lets writes in progress finish and commit, and refuses new ones', async () => {
    const store = await openStore(dataDir, { mode: 'write' });
    await store.addObject(single.metainfo);
    const inFlight = Array.from({ length: single.metainfo.pieceCount }, (_, index) =>
      store.writePiece(single.metainfo.infoHash, index, single.piece(index)),
    );
    const closed = store.close();
    await expect(store.writePiece(single.metainfo.infoHash, 0, single.piece(0))).rejects.toMatchObject({
      code: 'EDGEPEER_IO',
      message: expect.stringContaining('closed'),
    });
    await Promise.all(inFlight);
    await closed;
    const reopened = await open('read');
    expect(reopened.get(single.metainfo.infoHash)?.complete).toBe(true);
  });
});
