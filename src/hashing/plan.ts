// Cuts a hashing job into tasks for the workers: each task is a few runs of consecutive pieces, with the
// files those pieces touch. Task sizes come from `batchBytes(remaining)`, so they can shrink towards the
// end of a job and the threads finish together (guided scheduling). Pure functions, no I/O.
import { InvalidArgumentError } from '../errors/index.ts';
import type { TaskFile } from './protocol.ts';

export interface HashInputFile {
  path: string;
  length: number;
}

export interface PlannedTask {
  files: TaskFile[];
  runs: [first: number, count: number][];
  /** Index of the task's first digest in the result (in pieces). */
  outputIndex: number;
  pieceCount: number;
  /** Content bytes the task reads: what progress counts. */
  bytes: number;
}

export interface HashPlan {
  totalLength: number;
  pieceCount: number;
  /** Pieces the result holds, in order. */
  resultPieces: number;
  tasks: PlannedTask[];
}

function checkInput(files: HashInputFile[], pieceLength: number, copyTo: string[] | undefined): void {
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
    throw new InvalidArgumentError(`piece length must be a positive integer, got ${pieceLength}`);
  }
  if (!Array.isArray(files)) throw new InvalidArgumentError('files must be an array');
  files.forEach((file, i) => {
    if (typeof file?.path !== 'string' || file.path === '') {
      throw new InvalidArgumentError(`file ${i} has no path`);
    }
    if (!Number.isSafeInteger(file.length) || file.length < 0) {
      throw new InvalidArgumentError(`${file.path}: length must be a non-negative integer, got ${file.length}`, {
        subject: file.path,
      });
    }
  });
  if (copyTo !== undefined) {
    if (!Array.isArray(copyTo) || copyTo.length !== files.length) {
      throw new InvalidArgumentError(`copyTo must name one destination per file (${files.length})`);
    }
    copyTo.forEach((destination, i) => {
      if (typeof destination !== 'string' || destination === '') {
        throw new InvalidArgumentError(`copyTo[${i}] is not a path`);
      }
    });
  }
}

/** Runs of consecutive piece indexes, in the order given. */
function toRuns(pieces: number[] | undefined, pieceCount: number): [number, number][] {
  if (pieces === undefined) return pieceCount === 0 ? [] : [[0, pieceCount]];
  if (!Array.isArray(pieces)) throw new InvalidArgumentError('pieces must be an array of piece indexes');
  const runs: [number, number][] = [];
  for (const piece of pieces) {
    if (!Number.isSafeInteger(piece) || piece < 0 || piece >= pieceCount) {
      throw new InvalidArgumentError(`piece index ${piece} is out of range (the content has ${pieceCount} pieces)`);
    }
    const last = runs.at(-1);
    if (last !== undefined && last[0] + last[1] === piece) last[1]++;
    else runs.push([piece, 1]);
  }
  return runs;
}

/** Index of the last file starting at or before `position` (files sorted by start). */
function fileIndexAt(starts: number[], position: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle]! <= position) low = middle;
    else high = middle - 1;
  }
  return low;
}

export function planHashing(
  files: HashInputFile[],
  pieceLength: number,
  options: {
    pieces?: number[] | undefined;
    copyTo?: string[] | undefined;
    /** Bytes of the next task, given the bytes of the job not yet given to a task (at least one piece is). */
    batchBytes: (remainingBytes: number) => number;
  },
): HashPlan {
  checkInput(files, pieceLength, options.copyTo);
  // Zero-length files hold no bytes: leave them out of the tasks (their destinations are made elsewhere).
  const taskFiles: TaskFile[] = [];
  let totalLength = 0;
  files.forEach((file, i) => {
    if (file.length > 0) {
      const copyTo = options.copyTo?.[i];
      taskFiles.push(
        copyTo === undefined
          ? { path: file.path, start: totalLength, length: file.length }
          : { path: file.path, start: totalLength, length: file.length, copyTo },
      );
    }
    totalLength += file.length;
  });
  if (!Number.isSafeInteger(totalLength)) throw new InvalidArgumentError('total length of the files is too large');
  const pieceCount = Math.ceil(totalLength / pieceLength);
  const runs = toRuns(options.pieces, pieceCount);
  const starts = taskFiles.map((file) => file.start);
  const requestedBytes = runs.reduce(
    (sum, [first, count]) => sum + Math.min((first + count) * pieceLength, totalLength) - first * pieceLength,
    0,
  );
  let remainingBytes = requestedBytes;
  let piecesPerTask = 1;

  const tasks: PlannedTask[] = [];
  let current: PlannedTask | undefined;
  let outputIndex = 0;
  const closeTask = () => {
    if (current !== undefined) tasks.push(current);
    current = undefined;
  };
  for (const [first, count] of runs) {
    let next = first;
    const end = first + count;
    while (next < end) {
      if (current === undefined) {
        current = { files: [], runs: [], outputIndex, pieceCount: 0, bytes: 0 };
        piecesPerTask = Math.max(1, Math.floor(options.batchBytes(remainingBytes) / pieceLength));
      }
      const take = Math.min(end - next, piecesPerTask - current.pieceCount);
      current.runs.push([next, take]);
      current.pieceCount += take;
      const bytes = Math.min((next + take) * pieceLength, totalLength) - next * pieceLength;
      current.bytes += bytes;
      remainingBytes -= bytes;
      outputIndex += take;
      next += take;
      if (current.pieceCount === piecesPerTask) closeTask();
    }
  }
  closeTask();
  for (const task of tasks) task.files = filesOf(task.runs, taskFiles, starts, pieceLength, totalLength);
  return { totalLength, pieceCount, resultPieces: outputIndex, tasks };
}

/** The files a task's runs touch, in content order, each once. */
function filesOf(
  runs: [number, number][],
  files: TaskFile[],
  starts: number[],
  pieceLength: number,
  totalLength: number,
): TaskFile[] {
  const indexes = new Set<number>();
  for (const [first, count] of runs) {
    const from = first * pieceLength;
    const to = Math.min((first + count) * pieceLength, totalLength);
    for (let i = fileIndexAt(starts, from); i < files.length && files[i]!.start < to; i++) indexes.add(i);
  }
  return [...indexes].sort((a, b) => a - b).map((i) => files[i]!);
}
