import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgepeerError } from '../../src/errors/index.ts';
import { allocSharedBuffer, createHashPool, type HashPool } from '../../src/hashing/index.ts';

/** What hashFiles must return: node:crypto over the concatenation, piece by piece. */
function referenceDigests(data: Buffer, pieceLength: number, pieces?: number[]): Buffer {
  const count = Math.ceil(data.length / pieceLength);
  const indexes = pieces ?? Array.from({ length: count }, (_, i) => i);
  return Buffer.concat(
    indexes.map((i) =>
      createHash('sha1')
        .update(data.subarray(i * pieceLength, (i + 1) * pieceLength))
        .digest(),
    ),
  );
}

async function expectEdgepeerError(promise: Promise<unknown>, code: string): Promise<EdgepeerError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(EdgepeerError);
  expect((error as EdgepeerError).code).toBe(code);
  return error as EdgepeerError;
}

describe('hash pool', () => {
  let pool: HashPool;
  let root: string;
  let fileCount = 0;

  /** Writes files of the given lengths with random bytes; returns them and their concatenation. */
  async function makeFiles(lengths: number[]) {
    const files: { path: string; length: number }[] = [];
    const contents: Buffer[] = [];
    for (const length of lengths) {
      const path = join(root, `f${fileCount++}.bin`);
      const content = randomBytes(length);
      await writeFile(path, content);
      files.push({ path, length });
      contents.push(content);
    }
    return { files, data: Buffer.concat(contents) };
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'edgepeer-hashing-'));
    pool = createHashPool({ threads: 2 });
  });

  afterAll(async () => {
    await pool?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('runs the number of threads asked for', () => {
    expect(pool.threads).toBe(2);
  });

  it('hashes one file whose last piece is short', async () => {
    const { files, data } = await makeFiles([5 * 16384 + 1234]);
    const digests = await pool.hashFiles(files, 16384);
    expect(digests.length).toBe(6 * 20);
    expect(digests.equals(referenceDigests(data, 16384))).toBe(true);
  });

  it('hashes one file that is an exact number of pieces', async () => {
    const { files, data } = await makeFiles([8 * 32768]);
    expect((await pool.hashFiles(files, 32768)).equals(referenceDigests(data, 32768))).toBe(true);
  });

  it('hashes several files with pieces spanning file boundaries and zero-length files anywhere', async () => {
    const { files, data } = await makeFiles([0, 10_000, 0, 3, 70_000, 0, 16384, 65_537, 0]);
    for (const pieceLength of [16384, 32768, 262144]) {
      const digests = await pool.hashFiles(files, pieceLength);
      expect(digests.equals(referenceDigests(data, pieceLength))).toBe(true);
    }
  });

  it('gives an empty result for content of zero bytes', async () => {
    const { files } = await makeFiles([0, 0]);
    expect((await pool.hashFiles(files, 16384)).length).toBe(0);
    expect((await pool.hashFiles([], 16384)).length).toBe(0);
  });

  it('hashes only the pieces asked for, in the order given', async () => {
    const { files, data } = await makeFiles([40_000, 50_000, 1]);
    const pieces = [5, 0, 1, 2, 3, 2];
    const digests = await pool.hashFiles(files, 16384, { pieces });
    expect(digests.length).toBe(pieces.length * 20);
    expect(digests.equals(referenceDigests(data, 16384, pieces))).toBe(true);
  });

  it('hashes more files than threads, each smaller than a piece', async () => {
    const { files, data } = await makeFiles(Array.from({ length: 60 }, (_, i) => 1000 + i * 37));
    expect((await pool.hashFiles(files, 16384)).equals(referenceDigests(data, 16384))).toBe(true);
  });

  it('hashes a piece made of hundreds of tiny files, and pieces revisiting them out of order', async () => {
    const { files, data } = await makeFiles(Array.from({ length: 300 }, (_, i) => 50 + (i % 7)));
    expect((await pool.hashFiles(files, 65536)).equals(referenceDigests(data, 65536))).toBe(true);
    const pieces = [3, 0, 2, 1, 0];
    expect((await pool.hashFiles(files, 4096, { pieces })).equals(referenceDigests(data, 4096, pieces))).toBe(true);
  });

  it('serves concurrent calls, each with its own result', async () => {
    const inputs = await Promise.all([makeFiles([300_000]), makeFiles([1, 200_000]), makeFiles([123_456, 7])]);
    const blob = randomBytes(1 << 20);
    const [a, b, c, d] = await Promise.all([
      ...inputs.map(({ files }) => pool.hashFiles(files, 16384)),
      pool.sha1(blob),
    ]);
    inputs.forEach(({ data }, i) => {
      expect([a, b, c][i]!.equals(referenceDigests(data, 16384))).toBe(true);
    });
    expect(d!.equals(createHash('sha1').update(blob).digest())).toBe(true);
  });

  it('reports progress up to the bytes hashed', async () => {
    const { files, data } = await makeFiles([1 << 20, 12_345]);
    const seen: number[] = [];
    await pool.hashFiles(files, 16384, { onProgress: (bytes) => seen.push(bytes) });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBe(data.length);
    expect([...seen].sort((x, y) => x - y)).toEqual(seen);
  });

  it('copies every byte it hashes to the destinations, creating folders', async () => {
    const { files, data } = await makeFiles([70_000, 0, 5, 100_000]);
    const copyTo = files.map((_, i) => join(root, 'copy', `sub${i}`, `out${i}.bin`));
    const digests = await pool.hashFiles(files, 32768, { copyTo });
    expect(digests.equals(referenceDigests(data, 32768))).toBe(true);
    for (const [i, file] of files.entries()) {
      expect((await readFile(copyTo[i]!)).equals(await readFile(file.path))).toBe(true);
    }
  });

  it('copies only the pieces asked for, leaving the rest of an existing destination as it was', async () => {
    const { files, data } = await makeFiles([100_000]);
    const destination = join(root, 'partial.bin');
    const before = Buffer.alloc(100_000, 0xee);
    await writeFile(destination, before);
    await pool.hashFiles(files, 16384, { pieces: [2], copyTo: [destination] });
    const after = await readFile(destination);
    const expected = Buffer.from(before);
    data.copy(expected, 2 * 16384, 2 * 16384, 3 * 16384);
    expect(after.equals(expected)).toBe(true);
  });

  it('rejects with the signal reason when aborted, and promptly', async () => {
    const { files } = await makeFiles([48 << 20]);
    const controller = new AbortController();
    let bytesSeen = 0;
    const hashing = pool.hashFiles(files, 1 << 20, {
      signal: controller.signal,
      onProgress: (bytes) => {
        bytesSeen = bytes;
        controller.abort(new Error('stop here'));
      },
    });
    await expect(hashing).rejects.toThrow('stop here');
    expect(bytesSeen).toBeGreaterThan(0);
    expect(bytesSeen).toBeLessThan(48 << 20);

    // A task already inside a worker stops between reads: one 48 MiB piece, aborted as soon as it started.
    const inside = new AbortController();
    const oneTask = pool.hashFiles(files, 64 << 20, { signal: inside.signal });
    setImmediate(() => inside.abort());
    await expect(oneTask).rejects.toMatchObject({ name: 'AbortError' });

    await expect(pool.hashFiles(files, 1 << 20, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('names a missing file', async () => {
    const { files } = await makeFiles([20_000]);
    const missing = join(root, 'no-such-file.bin');
    const error = await expectEdgepeerError(
      pool.hashFiles([...files, { path: missing, length: 10 }], 16384),
      'EDGEPEER_SOURCE_UNREADABLE',
    );
    expect(error.details.subject).toBe(missing);
    expect(error.message).toContain(missing);
  });

  it('names a file shorter than its declared length', async () => {
    const { files } = await makeFiles([20_000, 30_000]);
    const declared = [files[0]!, { path: files[1]!.path, length: 30_001 }];
    const error = await expectEdgepeerError(pool.hashFiles(declared, 16384), 'EDGEPEER_SOURCE_UNREADABLE');
    expect(error.details.subject).toBe(files[1]!.path);
    expect(error.message).toContain('shorter');
  });

  it('names a directory given as a file', async () => {
    const folder = join(root, 'a-folder');
    await mkdir(folder);
    const error = await expectEdgepeerError(
      pool.hashFiles([{ path: folder, length: 10 }], 16384),
      'EDGEPEER_SOURCE_UNREADABLE',
    );
    expect(error.details.subject).toBe(folder);
  });

  it('names a destination it cannot create', async () => {
    const { files } = await makeFiles([1000]);
    const blocked = join(files[0]!.path, 'below-a-file.bin'); // a regular file cannot hold entries
    const error = await expectEdgepeerError(pool.hashFiles(files, 16384, { copyTo: [blocked] }), 'EDGEPEER_IO');
    expect(error.message).toContain(blocked);
  });

  it('refuses bad arguments with InvalidArgumentError', async () => {
    const { files } = await makeFiles([1000]);
    await expectEdgepeerError(pool.hashFiles(files, 0), 'EDGEPEER_INVALID_ARGUMENT');
    await expectEdgepeerError(pool.hashFiles(files, 16384, { pieces: [1] }), 'EDGEPEER_INVALID_ARGUMENT');
    await expectEdgepeerError(pool.hashFiles(files, 16384, { pieces: [0.5] }), 'EDGEPEER_INVALID_ARGUMENT');
    await expectEdgepeerError(pool.hashFiles(files, 16384, { copyTo: [] }), 'EDGEPEER_INVALID_ARGUMENT');
    await expectEdgepeerError(
      pool.hashFiles([{ path: files[0]!.path, length: -1 }], 16384),
      'EDGEPEER_INVALID_ARGUMENT',
    );
    await expectEdgepeerError(pool.verify(Buffer.alloc(1), Buffer.alloc(19)), 'EDGEPEER_INVALID_ARGUMENT');
    await expectEdgepeerError(pool.sha1('text' as unknown as Uint8Array), 'EDGEPEER_INVALID_ARGUMENT');
  });

  it('hashes bytes from the main thread: small, large, shared, and views into larger buffers', async () => {
    const large = randomBytes(3 << 20);
    const shared = allocSharedBuffer(1 << 20);
    large.copy(shared, 0, 0, shared.length);
    const cases: Uint8Array[] = [
      Buffer.alloc(0),
      randomBytes(100),
      large,
      large.subarray(12345, 12345 + (1 << 20)),
      shared,
      shared.subarray(7, 200_007),
    ];
    const digests = await Promise.all(cases.map((data) => pool.sha1(data)));
    cases.forEach((data, i) => {
      expect(digests[i]!.equals(createHash('sha1').update(data).digest())).toBe(true);
    });
  });

  it('verifies bytes against an expected digest', async () => {
    const data = randomBytes(200_000);
    const digest = createHash('sha1').update(data).digest();
    expect(await pool.verify(data, digest)).toBe(true);
    const flipped = Buffer.from(data);
    flipped[199_999]! ^= 1;
    expect(await pool.verify(flipped, digest)).toBe(false);
  });

  it('refuses work once closed', async () => {
    const closing = createHashPool({ threads: 1 });
    expect(closing.threads).toBe(1);
    const data = randomBytes(100_000);
    expect((await closing.sha1(data)).equals(createHash('sha1').update(data).digest())).toBe(true);
    await closing.close();
    await expect(closing.sha1(data)).rejects.toThrow('closed');
    expect(() => createHashPool({ threads: 0 })).toThrow(EdgepeerError);
  });

  it('keeps destination lengths equal to the files when the source is shorter than a piece', async () => {
    const { files } = await makeFiles([0]);
    const destination = join(root, 'empty-copy.bin');
    await pool.hashFiles(files, 16384, { copyTo: [destination] });
    expect((await stat(destination)).size).toBe(0);
  });
});
