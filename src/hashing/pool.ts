// The hashing pool: piscina worker threads running workers/hash-worker. The main thread only plans tasks
// and collects digests; workers read (and copy) file bytes themselves. Each call keeps a small window of
// tasks in flight, so a 100 GB input costs no more memory than a 100 MB one and concurrent callers share
// the threads fairly.
import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { Piscina } from 'piscina';
import {
  type EdgepeerError,
  fromSystemError,
  InvalidArgumentError,
  LocalIoError,
  SourceUnreadableError,
} from '../errors/index.ts';
import { type HashInputFile, type PlannedTask, planHashing } from './plan.ts';
import type { PiecesResult, PiecesTask, TaskFailure } from './protocol.ts';

export interface HashFilesOptions {
  /** Only these piece indexes, in this order; the result holds 20 bytes per entry. */
  pieces?: number[];
  /** One destination per file: every byte read is also written there at the same offset. */
  copyTo?: string[];
  /** Called with the content bytes hashed so far, as tasks complete. */
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
}

export interface HashPool {
  readonly threads: number;
  /**
   * Piece digests (20 bytes each, concatenated) of the concatenation of `files`, cut in pieces of
   * `pieceLength`. Workers read the files themselves: no file bytes cross threads. With `pieces`, only those
   * indexes, in that order. With `copyTo`, every byte read is also written to the destination at the same
   * offset; destinations are created as needed (with the file's length, keeping bytes already there) and
   * fsynced, with their folders, before the promise resolves.
   * Fails with SourceUnreadableError (missing, unreadable or short file, naming it), DiskFullError or
   * LocalIoError (destinations), InvalidArgumentError (bad arguments); on abort, with `signal.reason`, once
   * the running tasks have stopped (within one 1 MiB read each).
   */
  hashFiles(files: HashInputFile[], pieceLength: number, options?: HashFilesOptions): Promise<Buffer>;
  /**
   * SHA-1 of bytes in the main thread. Up to 64 KiB, hashed in place (cheaper than the trip to a worker);
   * above, in a worker: without a copy when `data` lies in shared memory (allocSharedBuffer), else through
   * one copy into reused shared memory. At most 2 per thread run at once; further calls wait their turn.
   */
  sha1(data: Uint8Array): Promise<Buffer>;
  /** True if sha1(data) equals `expected` (20 bytes). */
  verify(data: Uint8Array, expected: Uint8Array): Promise<boolean>;
  /** Waits for running tasks and stops the threads; later calls throw. */
  close(): Promise<void>;
}

export interface HashPoolOptions {
  /** Worker threads; default os.availableParallelism(). */
  threads?: number;
}

const DIGEST_LENGTH = 20;
/** Upper bound of bytes per task: big enough to make task overhead (~0.1 ms) vanish, small enough to balance. */
const MAX_BATCH_BYTES = 32 * 1024 * 1024;
/** Tasks per thread a call keeps queued or running: one running, one ready, so no thread waits on the main one. */
const TASKS_IN_FLIGHT_PER_THREAD = 2;
/** Below this size, hashing in place costs less than the trip to a worker (measured: docs/benchmarks.md). */
const INLINE_SHA1_MAX_BYTES = 64 * 1024;
/** Larger staging buffers for sha1() copies are not kept between calls. */
const STAGING_KEEP_MAX_BYTES = 4 * 1024 * 1024;
/** Destinations opened at once while preparing or syncing them. */
const FILE_OPEN_CONCURRENCY = 16;

/** The worker entry next to this module's tree: .ts when running from sources, .js from dist/. */
function workerFileUrl(): string {
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`../../workers/hash-worker${extension}`, import.meta.url).href;
}

/**
 * A Buffer over shared memory: sha1() and verify() hand it to a worker without copying it. Worth it for
 * pieces assembled in the main thread (from an origin) before they are hashed.
 */
export function allocSharedBuffer(size: number): Buffer {
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError(`buffer size must be a byte count`);
  return Buffer.from(new SharedArrayBuffer(size));
}

export function createHashPool(options: HashPoolOptions = {}): HashPool {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isSafeInteger(threads) || threads < 1) {
    throw new InvalidArgumentError(`threads must be a positive integer, got ${threads}`);
  }
  return new PiscinaHashPool(threads);
}

class PiscinaHashPool implements HashPool {
  readonly threads: number;
  readonly #piscina: Piscina;
  readonly #sha1Slots: Semaphore;
  readonly #staging: StagingBuffers;
  #closed = false;

  constructor(threads: number) {
    this.threads = threads;
    this.#piscina = new Piscina({ filename: workerFileUrl(), minThreads: threads, maxThreads: threads });
    this.#sha1Slots = new Semaphore(threads * TASKS_IN_FLIGHT_PER_THREAD);
    this.#staging = new StagingBuffers(threads * TASKS_IN_FLIGHT_PER_THREAD);
  }

  async hashFiles(files: HashInputFile[], pieceLength: number, options: HashFilesOptions = {}): Promise<Buffer> {
    this.#checkOpen();
    const { signal, onProgress, copyTo } = options;
    signal?.throwIfAborted();
    const plan = planHashing(files, pieceLength, {
      pieces: options.pieces,
      copyTo,
      // Each task takes an eighth of a thread's share of what is left: large tasks first, single pieces
      // last, so no thread idles while another finishes a big one.
      batchBytes: (remaining) => Math.min(MAX_BATCH_BYTES, Math.ceil(remaining / (this.threads * 8))),
    });
    if (copyTo !== undefined) await prepareDestinations(files, copyTo, signal);
    const digests = await this.#runTasks(plan.tasks, plan.totalLength, pieceLength, plan.resultPieces, {
      signal,
      onProgress,
    });
    if (copyTo !== undefined) await syncDestinations(copyTo);
    return digests;
  }

  async #runTasks(
    tasks: PlannedTask[],
    totalLength: number,
    pieceLength: number,
    resultPieces: number,
    options: { signal: AbortSignal | undefined; onProgress: ((bytesDone: number) => void) | undefined },
  ): Promise<Buffer> {
    const { signal, onProgress } = options;
    const result = Buffer.allocUnsafe(resultPieces * DIGEST_LENGTH);
    const abortFlag = new Int32Array(new SharedArrayBuffer(4));
    let firstError: unknown;
    const stop = (err: unknown) => {
      firstError ??= err;
      Atomics.store(abortFlag, 0, 1);
    };
    const onAbort = () => stop(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort(); // aborted while destinations were being prepared

    let next = 0;
    let bytesDone = 0;
    // Each lane runs tasks one after another; `threads * 2` lanes keep every thread busy with one queued.
    const lane = async () => {
      while (next < tasks.length && firstError === undefined) {
        const task = tasks[next++]!;
        const message: PiecesTask = { files: task.files, pieceLength, totalLength, runs: task.runs, abortFlag };
        let answer: PiecesResult;
        try {
          answer = await this.#piscina.run(message);
        } catch (err) {
          stop(err);
          return;
        }
        if (!(answer instanceof Uint8Array)) {
          stop(taskError(answer.failure, signal));
          return;
        }
        result.set(answer, task.outputIndex * DIGEST_LENGTH);
        bytesDone += task.bytes;
        if (firstError === undefined && onProgress !== undefined) {
          try {
            onProgress(bytesDone);
          } catch (err) {
            stop(err);
          }
        }
      }
    };
    try {
      const lanes = Math.min(tasks.length, this.threads * TASKS_IN_FLIGHT_PER_THREAD);
      await Promise.all(Array.from({ length: lanes }, lane));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (firstError !== undefined) throw firstError;
    return result;
  }

  async sha1(data: Uint8Array): Promise<Buffer> {
    this.#checkOpen();
    if (!ArrayBuffer.isView(data)) throw new InvalidArgumentError('sha1 needs bytes (a Uint8Array)');
    if (data.byteLength <= INLINE_SHA1_MAX_BYTES) return createHash('sha1').update(data).digest();
    // Dispatch only when a slot is free: a copy (for non-shared input) exists only while its task runs.
    await this.#sha1Slots.acquire();
    try {
      this.#checkOpen();
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const answer: Uint8Array =
        bytes.buffer instanceof SharedArrayBuffer
          ? await this.#piscina.run(bytes, { name: 'sha1' })
          : await this.#runOnCopy(bytes);
      return Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength);
    } finally {
      this.#sha1Slots.release();
    }
  }

  /** A worker cannot see ordinary memory: copy the bytes into a reused shared staging buffer. */
  async #runOnCopy(data: Uint8Array): Promise<Uint8Array> {
    const staging = this.#staging.take(data.byteLength);
    try {
      const view = new Uint8Array(staging, 0, data.byteLength);
      view.set(data);
      return await this.#piscina.run(view, { name: 'sha1' });
    } finally {
      this.#staging.give(staging);
    }
  }

  async verify(data: Uint8Array, expected: Uint8Array): Promise<boolean> {
    if (!ArrayBuffer.isView(expected) || expected.byteLength !== DIGEST_LENGTH) {
      throw new InvalidArgumentError(`an expected SHA-1 digest is ${DIGEST_LENGTH} bytes`);
    }
    const digest = await this.sha1(data);
    return digest.equals(expected);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#piscina.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the hash pool is closed');
  }
}

function taskError(failure: TaskFailure, signal: AbortSignal | undefined): unknown {
  switch (failure.kind) {
    case 'aborted':
      return signal?.reason ?? new DOMException('hashing was aborted', 'AbortError');
    case 'short':
      return new SourceUnreadableError(
        `${failure.path}: shorter than its declared length (${failure.actualLength} of ${failure.expectedLength} bytes)`,
        { subject: failure.path, expectedLength: failure.expectedLength, actualLength: failure.actualLength },
      );
    case 'system': {
      const cause = Object.assign(new Error(failure.message), { code: failure.code });
      const error = fromSystemError(cause, failure.path);
      // fromSystemError speaks of sources; a destination we cannot write is a local I/O failure.
      return failure.destination && error instanceof SourceUnreadableError
        ? new LocalIoError(`cannot write ${error.message}`, error.details)
        : error;
    }
  }
}

/** Creates each destination (and its folders) with its final length, keeping bytes already there. */
async function prepareDestinations(
  files: HashInputFile[],
  copyTo: string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  await forEachLimited(copyTo, FILE_OPEN_CONCURRENCY, async (destination, i) => {
    signal?.throwIfAborted();
    const length = files[i]!.length;
    try {
      await mkdir(dirname(destination), { recursive: true });
      const handle = await open(destination, 'a+');
      try {
        if ((await handle.stat()).size !== length) await handle.truncate(length);
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw destinationError(err, destination);
    }
  });
}

/** Makes the copied bytes durable: each destination, then the folders holding them. */
async function syncDestinations(copyTo: string[]): Promise<void> {
  await forEachLimited(copyTo, FILE_OPEN_CONCURRENCY, (destination) => syncPath(destination));
  const folders = [...new Set(copyTo.map((destination) => dirname(destination)))];
  await forEachLimited(folders, FILE_OPEN_CONCURRENCY, (folder) => syncPath(folder));
}

async function syncPath(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw destinationError(err, path);
  }
}

function destinationError(err: unknown, path: string): EdgepeerError {
  const error = fromSystemError(err, path);
  return error instanceof SourceUnreadableError
    ? new LocalIoError(`cannot write ${error.message}`, error.details)
    : error;
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Shared memory for copies of sha1() inputs, reused: fresh memory costs page faults on every call, which
 * measured slower than the copy itself. Keeps at most `keep` buffers of at most STAGING_KEEP_MAX_BYTES.
 */
class StagingBuffers {
  readonly #free: SharedArrayBuffer[] = [];
  readonly #keep: number;

  constructor(keep: number) {
    this.#keep = keep;
  }

  take(size: number): SharedArrayBuffer {
    const index = this.#free.findIndex((buffer) => buffer.byteLength >= size);
    if (index >= 0) return this.#free.splice(index, 1)[0]!;
    return new SharedArrayBuffer(size);
  }

  give(buffer: SharedArrayBuffer): void {
    if (buffer.byteLength > STAGING_KEEP_MAX_BYTES) return;
    if (this.#free.length >= this.#keep) this.#free.shift();
    this.#free.push(buffer);
  }
}

/** Counts free slots; acquire() waits for one. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(slots: number) {
    this.#free = slots;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const wake = this.#waiting.shift();
    if (wake === undefined) this.#free++;
    else wake();
  }
}
