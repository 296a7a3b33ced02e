// Worker entry of the hashing pool (src/hashing). Each task reads its own pieces straight from the files
// into one buffer this thread reuses, hashes them, and optionally writes the same bytes to a destination:
// no file bytes cross threads. Everything is synchronous on purpose: this thread has nothing else to do,
// and piscina's Atomics hand-off is fastest for synchronous tasks.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { move } from 'piscina';
import type { PiecesResult, PiecesTask, TaskFailure, TaskFile } from '../src/hashing/protocol.ts';

/** Bytes read per system call: 1 MiB and 4 MiB measured alike (docs/benchmarks.md); the smaller costs less memory. */
const READ_CHUNK = 1024 * 1024;
const DIGEST_LENGTH = 20;

let readBuffer: Buffer | undefined;

class TaskStop extends Error {
  readonly failure: TaskFailure;
  constructor(failure: TaskFailure) {
    super(failure.kind);
    this.failure = failure;
  }
}

/**
 * Open descriptors of one task, opened on first use, closed when the task ends. A task may cover thousands
 * of small files: only the most recently opened few stay open, so no task runs out of descriptors.
 */
class OpenFiles {
  static readonly keepOpen = 16;
  readonly #sources = new Map<string, number>();
  readonly #destinations = new Map<string, number>();

  source(file: TaskFile): number {
    let fd = this.#sources.get(file.path);
    if (fd === undefined) {
      fd = systemCall(file.path, false, () => openSync(file.path, 'r'));
      OpenFiles.#remember(this.#sources, file.path, fd);
      const actualLength = systemCall(file.path, false, () => fstatSync(fd!).size);
      if (actualLength < file.length) throw shortFile(file, actualLength);
    }
    return fd;
  }

  destination(path: string): number {
    let fd = this.#destinations.get(path);
    if (fd === undefined) {
      // The pool created the file with its final length; other workers write other ranges of it.
      fd = systemCall(path, true, () => openSync(path, 'r+'));
      OpenFiles.#remember(this.#destinations, path, fd);
    }
    return fd;
  }

  close(): void {
    for (const fd of [...this.#sources.values(), ...this.#destinations.values()]) closeQuietly(fd);
    this.#sources.clear();
    this.#destinations.clear();
  }

  static #remember(open: Map<string, number>, path: string, fd: number): void {
    open.set(path, fd);
    if (open.size <= OpenFiles.keepOpen) return;
    const [oldestPath, oldestFd] = open.entries().next().value!;
    open.delete(oldestPath);
    closeQuietly(oldestFd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Closing a descriptor we only read from or already wrote fully cannot lose data.
  }
}

function systemCall<T>(path: string, destination: boolean, call: () => T): T {
  try {
    return call();
  } catch (err) {
    const error = err as NodeJS.ErrnoException;
    throw new TaskStop({ kind: 'system', path, code: error.code, message: error.message, destination });
  }
}

function shortFile(file: TaskFile, actualLength: number): TaskStop {
  return new TaskStop({ kind: 'short', path: file.path, expectedLength: file.length, actualLength });
}

/** The task's file holding content offset `position`, searched from `hint` on (positions only grow within a run). */
function fileAt(files: TaskFile[], position: number, hint: number): number {
  for (let i = hint; i < files.length; i++) {
    const file = files[i]!;
    if (position >= file.start && position < file.start + file.length) return i;
  }
  for (let i = 0; i < hint; i++) {
    const file = files[i]!;
    if (position >= file.start && position < file.start + file.length) return i;
  }
  throw new Error(`no file of the task holds content offset ${position}`);
}

/** Reads exactly `length` bytes of `file` at `fileOffset` into the buffer, copying them on when asked. */
function readSpan(open: OpenFiles, file: TaskFile, buffer: Buffer, at: number, length: number, fileOffset: number) {
  const fd = open.source(file);
  let done = 0;
  while (done < length) {
    const n = systemCall(file.path, false, () => readSync(fd, buffer, at + done, length - done, fileOffset + done));
    if (n === 0) throw shortFile(file, fileOffset + done);
    done += n;
  }
  if (file.copyTo !== undefined) {
    const destination = file.copyTo;
    const out = open.destination(destination);
    let written = 0;
    while (written < length) {
      written += systemCall(destination, true, () =>
        writeSync(out, buffer, at + written, length - written, fileOffset + written),
      );
    }
  }
}

function hashRuns(task: PiecesTask, open: OpenFiles): Uint8Array {
  const { files, pieceLength, totalLength, runs, abortFlag } = task;
  const pieceTotal = runs.reduce((sum, [, count]) => sum + count, 0);
  const digests = Buffer.allocUnsafeSlow(pieceTotal * DIGEST_LENGTH);
  readBuffer ??= Buffer.allocUnsafeSlow(READ_CHUNK);
  const buffer = readBuffer;
  let digestAt = 0;
  let fileHint = 0;

  for (const [first, count] of runs) {
    const runEnd = Math.min((first + count) * pieceLength, totalLength);
    let position = first * pieceLength; // next byte to read
    let hashed = position; // next byte to hash
    let pieceEnd = Math.min(hashed + pieceLength, runEnd);
    let hash = createHash('sha1');

    while (position < runEnd) {
      if (Atomics.load(abortFlag, 0) !== 0) throw new TaskStop({ kind: 'aborted' });
      // Fill the buffer, across file boundaries when a piece spans them.
      let filled = 0;
      while (filled < buffer.length && position < runEnd) {
        fileHint = fileAt(files, position, fileHint);
        const file = files[fileHint]!;
        const length = Math.min(buffer.length - filled, file.start + file.length - position, runEnd - position);
        readSpan(open, file, buffer, filled, length, position - file.start);
        filled += length;
        position += length;
      }
      // Hash what was read, closing each piece at its boundary.
      let at = 0;
      while (at < filled) {
        const take = Math.min(filled - at, pieceEnd - hashed);
        hash.update(buffer.subarray(at, at + take));
        at += take;
        hashed += take;
        if (hashed === pieceEnd) {
          hash.digest().copy(digests, digestAt);
          digestAt += DIGEST_LENGTH;
          pieceEnd = Math.min(hashed + pieceLength, runEnd);
          hash = createHash('sha1');
        }
      }
    }
  }
  return digests;
}

/** Default task: digests of the task's pieces, moved (not copied) to the main thread. */
export default function hashPieces(task: PiecesTask): PiecesResult {
  const open = new OpenFiles();
  try {
    return move(hashRuns(task, open)) as Uint8Array;
  } catch (err) {
    if (err instanceof TaskStop) return { failure: err.failure };
    throw err;
  } finally {
    open.close();
  }
}

/** SHA-1 of bytes handed over by the main thread (shared memory or a transferred copy). */
export function sha1(data: Uint8Array): Uint8Array {
  const digest = Buffer.allocUnsafeSlow(DIGEST_LENGTH);
  createHash('sha1').update(data).digest().copy(digest);
  return move(digest) as Uint8Array;
}
