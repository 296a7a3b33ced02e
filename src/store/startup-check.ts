// What the writer checks of each object's data files when the store opens, before anything is announced:
// a file that is missing, not a regular file, shorter than the metainfo says, or (when the last run closed
// the store cleanly and recorded them) of another size, mtime or inode than at that close. The pieces of
// such a file leave the bitmap; libtorrent's resume data checks file sizes and mtimes the same way.
import { lstatSync, type Stats } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Metainfo } from '../metainfo/index.ts';

/** A data file as the last clean close left it: size, mtime (ms) and inode. */
export type FileRecord = [size: number, mtimeMs: number, inode: number];

/** Per info hash, one record per file of the metainfo, in its order. */
export type DataFileRecords = Record<string, FileRecord[]>;

export interface DataFileProblem {
  fileIndex: number;
  path: string;
  /** What is wrong, for the log: 'missing', 'not a regular file', 'shorter (…)', 'changed since the last run'. */
  problem: string;
}

export function recordOf(stats: Stats): FileRecord {
  return [stats.size, Math.round(stats.mtimeMs), stats.ino];
}

/** The problems of an object's data files; `recorded` is what the last clean close saw, if anything. */
export function checkDataFiles(
  metainfo: Metainfo,
  pathOf: (fileIndex: number) => string,
  recorded: FileRecord[] | undefined,
): DataFileProblem[] {
  const problems: DataFileProblem[] = [];
  metainfo.files.forEach((file, fileIndex) => {
    const path = pathOf(fileIndex);
    const problem = problemOf(path, file.length, recorded?.[fileIndex]);
    if (problem !== null) problems.push({ fileIndex, path, problem });
  });
  return problems;
}

function problemOf(path: string, length: number, recorded: FileRecord | undefined): string | null {
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch {
    return 'missing';
  }
  if (!stats.isFile()) return 'not a regular file';
  if (stats.size < length) return `shorter (${stats.size} bytes of ${length})`;
  if (recorded !== undefined && recordOf(stats).some((value, i) => value !== recorded[i])) {
    return 'changed since the last run';
  }
  return null;
}

/** The pieces that hold bytes of file `fileIndex`. */
export function piecesOfFile(metainfo: Metainfo, fileIndex: number): number[] {
  const file = metainfo.files[fileIndex];
  if (file === undefined || file.length === 0) return [];
  const first = Math.floor(file.offset / metainfo.pieceLength);
  const last = Math.floor((file.offset + file.length - 1) / metainfo.pieceLength);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** Reads the records a clean close wrote; none (or a damaged file) means sizes are all that can be checked. */
export async function readDataFileRecords(path: string): Promise<DataFileRecords> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as DataFileRecords) : {};
  } catch {
    return {};
  }
}

/** Written at a clean close (temp file + rename); the next open reads and deletes it. */
export async function writeDataFileRecords(path: string, records: DataFileRecords): Promise<void> {
  const temp = `${path}.tmp`;
  await writeFile(temp, JSON.stringify(records));
  await rename(temp, path);
}
