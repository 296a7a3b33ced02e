// A full disk and failing I/O. The real thing where we can make it (a 1 MiB tmpfs, mounted when the
// tests run as root; skipped otherwise), and injected faults for what no real file system here produces
// on demand (fdatasync failing after the write succeeded).
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pieceHash } from '../../src/metainfo/index.ts';
import { openStore, type StagingStore, type Store } from '../../src/store/index.ts';
import { makeObject, sha1, tempFolder } from './helpers.ts';

const small = makeObject({ name: 'small.bin', pieceLength: 16_384, fileLengths: [32_768], single: true });
const large = makeObject({ name: 'large.bin', pieceLength: 16_384, fileLengths: [2 * 1024 * 1024], single: true });

/** Every held piece of every object reads back as its hash says. */
async function expectConsistent(store: Store): Promise<void> {
  for (const object of store.list()) {
    for (let index = 0; index < object.bitfield.length; index++) {
      if (!object.bitfield.get(index)) continue;
      const piece = await store.readPiece(object.infoHash, index);
      expect(sha1(piece).equals(pieceHash(object.metainfo, index)), `${object.name} piece ${index}`).toBe(true);
    }
  }
}

function tryMount(folder: string, options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', folder], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const mountPoint = await mkdtemp(join(tmpdir(), 'edgepeer-tmpfs-'));
const canMount = process.getuid?.() === 0 && tryMount(mountPoint, 'size=1m');
if (canMount) execFileSync('umount', [mountPoint]);

afterAll(async () => {
  await rm(mountPoint, { recursive: true, force: true });
});

describe.skipIf(!canMount)('on a real full file system (1 MiB tmpfs)', () => {
  let store: Store & StagingStore;

  beforeEach(() => {
    expect(tryMount(mountPoint, 'size=1m')).toBe(true);
  });

  afterEach(async () => {
    await store?.close().catch(() => {});
    execFileSync('umount', ['-l', mountPoint]);
  });

  it('fails writes with DiskFullError, keeps everything committed, and can still purge to make room', async () => {
    const dataDir = join(mountPoint, 'store');
    store = await openStore(dataDir, { mode: 'write', commitIntervalMs: 0 });
    await store.addObject(small.metainfo);
    await store.writePiece(small.metainfo.infoHash, 0, small.piece(0));
    await store.addObject(large.metainfo);

    const acked: number[] = [];
    let failure: unknown;
    for (let index = 0; index < large.metainfo.pieceCount && failure === undefined; index++) {
      await store.writePiece(large.metainfo.infoHash, index, large.piece(index)).then(
        () => acked.push(index),
        (err) => {
          failure = err;
        },
      );
    }
    expect(failure).toMatchObject({ code: 'EDGEPEER_DISK_FULL', exitCode: 9 });
    expect((failure as Error).message).toContain('large.bin');
    expect(acked.length).toBeGreaterThan(10);
    for (const index of acked) expect(store.get(large.metainfo.infoHash)!.bitfield.get(index)).toBe(true);

    // A new object may not fit either; if it does not, nothing of it is left.
    const extra = makeObject({ name: 'extra', pieceLength: 16_384, fileLengths: [5, 6] });
    const addResult = await store.addObject(extra.metainfo).catch((err) => err);
    if (addResult instanceof Error) {
      expect(addResult).toMatchObject({ code: 'EDGEPEER_DISK_FULL' });
      expect(await readdir(join(dataDir, 'objects'))).not.toContain(extra.metainfo.infoHash);
    }

    // Small index records still commit on the full disk, past the journal's last page: it keeps a reserve.
    for (let ttl = 1; ttl <= 300; ttl++) await store.addObject(small.metainfo, { ttlMs: ttl * 1000 });
    // So does a purge, which frees the space.
    await store.removeObject(large.metainfo.infoHash, 'purge');
    await store.writePiece(small.metainfo.infoHash, 1, small.piece(1));
    await store.close();

    store = await openStore(dataDir, { mode: 'write' });
    expect(store.get(large.metainfo.infoHash)).toBeUndefined();
    expect(store.get(small.metainfo.infoHash)?.complete).toBe(true);
    await expectConsistent(store);
  });

  it('a read-only file system: writers are refused with a typed I/O error, readers still read', async () => {
    const dataDir = join(mountPoint, 'store');
    store = await openStore(dataDir, { mode: 'write', commitIntervalMs: 0 });
    await store.addObject(small.metainfo);
    await store.writePiece(small.metainfo.infoHash, 0, small.piece(0));
    await store.close();
    execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
    try {
      const refused = await openStore(dataDir, { mode: 'write' }).catch((err) => err);
      expect(refused).toMatchObject({ code: 'EDGEPEER_IO', exitCode: 9 });
      expect(refused.message).toContain(dataDir);
      store = await openStore(dataDir, { mode: 'read' });
      expect(await store.readPiece(small.metainfo.infoHash, 0)).toEqual(small.piece(0));
      await store.close();
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', mountPoint]);
    }
    store = await openStore(dataDir, { mode: 'write' });
    await expectConsistent(store);
  });
});

describe('injected faults: fdatasync fails after the bytes were written', () => {
  let dataDir: string;
  let removeFolder: () => Promise<void>;
  let store: Store & StagingStore;
  let restore: () => void = () => {};

  beforeEach(async () => {
    ({ path: dataDir, remove: removeFolder } = await tempFolder());
    store = await openStore(dataDir, { mode: 'write', commitIntervalMs: 0 });
    await store.addObject(small.metainfo);
  });

  afterEach(async () => {
    restore();
    await store.close().catch(() => {});
    await removeFolder();
  });

  /** Makes the `failing` calls (1-based, counted from now) of FileHandle.datasync fail with `code`. */
  async function failDatasync(failing: number[], code: string): Promise<void> {
    const probe = await open(join(dataDir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as { datasync: (this: unknown) => Promise<void> };
    await probe.close();
    const original = prototype.datasync;
    let calls = 0;
    prototype.datasync = function datasync(this: unknown) {
      calls++;
      if (failing.includes(calls)) return Promise.reject(Object.assign(new Error(`${code}: injected`), { code }));
      return original.call(this);
    };
    restore = () => {
      prototype.datasync = original;
    };
  }

  it('a failed data fdatasync (ENOSPC) rejects the batch with DiskFullError and marks nothing', async () => {
    await failDatasync([1], 'ENOSPC');
    const failure = await store.writePiece(small.metainfo.infoHash, 0, small.piece(0)).catch((err) => err);
    expect(failure).toMatchObject({ code: 'EDGEPEER_DISK_FULL' });
    expect(store.get(small.metainfo.infoHash)!.piecesHeld).toBe(0);
    await store.writePiece(small.metainfo.infoHash, 0, small.piece(0));
    expect(store.get(small.metainfo.infoHash)!.piecesHeld).toBe(1);
  });

  it('a failed journal fdatasync (EIO) rejects, zeroes the record, and the next commit lands cleanly', async () => {
    await failDatasync([2], 'EIO');
    const failure = await store.writePiece(small.metainfo.infoHash, 1, small.piece(1)).catch((err) => err);
    expect(failure).toMatchObject({ code: 'EDGEPEER_IO' });
    expect(store.get(small.metainfo.infoHash)!.bitfield.get(1)).toBe(false);
    await store.writePiece(small.metainfo.infoHash, 0, small.piece(0));
    await store.close();
    store = await openStore(dataDir, { mode: 'write' });
    expect(store.get(small.metainfo.infoHash)!.bitfield.get(0)).toBe(true);
    expect(store.get(small.metainfo.infoHash)!.bitfield.get(1)).toBe(false);
    await expectConsistent(store);
  });

  it('a journal it cannot repair refuses further commits until reopened, and reopens consistent', async () => {
    await failDatasync([2, 3], 'EIO');
    await expect(store.writePiece(small.metainfo.infoHash, 1, small.piece(1))).rejects.toMatchObject({
      code: 'EDGEPEER_IO',
    });
    restore();
    await expect(store.writePiece(small.metainfo.infoHash, 0, small.piece(0))).rejects.toMatchObject({
      code: 'EDGEPEER_IO',
      message: expect.stringContaining('reopen the store'),
    });
    await store.close();
    store = await openStore(dataDir, { mode: 'write' });
    await expectConsistent(store);
    await store.writePiece(small.metainfo.infoHash, 0, small.piece(0));
    expect(store.get(small.metainfo.infoHash)!.bitfield.get(0)).toBe(true);
  });
});
