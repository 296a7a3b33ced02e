// The messages between the pool (main thread) and workers/hash-worker.ts. Plain, cloneable data only.
// The worker imports this file for its types alone, so it stays free of the rest of src/.

/** One file of a task: where its bytes sit in the concatenated content, and where to copy them. */
export interface TaskFile {
  path: string;
  /** Offset of the file's first byte in the concatenation of all files. */
  start: number;
  length: number;
  /** Destination that receives every byte read, at the same offset (already created with `length`). */
  copyTo?: string;
}

/** Hash the pieces of `runs` (each a first piece index and a count of consecutive pieces), in that order. */
export interface PiecesTask {
  /** The files the runs touch, ordered by `start`; zero-length files are left out. */
  files: TaskFile[];
  pieceLength: number;
  /** Length of the whole content: the last piece ends there. */
  totalLength: number;
  runs: [first: number, count: number][];
  /** Int32Array over shared memory; non-zero asks the worker to stop between reads. */
  abortFlag: Int32Array;
}

export type TaskFailure =
  | { kind: 'system'; path: string; code: string | undefined; message: string; destination: boolean }
  | { kind: 'short'; path: string; expectedLength: number; actualLength: number }
  | { kind: 'aborted' };

/** Digests (20 bytes per piece, in task order) or why the task stopped. */
export type PiecesResult = Uint8Array | { failure: TaskFailure };
