import { createHash } from 'node:crypto';
import type { FileEntry } from './types.ts';

export const PIECE_HASH_LENGTH = 20;

/** SHA-1 of the bencoded info dictionary as lowercase hex: the v1 info hash. */
export function infoHashOf(info: Uint8Array): string {
  return createHash('sha1').update(info).digest('hex');
}

/** Gives each file its offset in the concatenated content; returns the files and the total length. */
export function layOutFiles(files: readonly { path: string[]; length: number }[]): {
  files: FileEntry[];
  length: number;
} {
  let offset = 0;
  const laidOut = files.map((file) => {
    const entry: FileEntry = { path: [...file.path], length: file.length, offset };
    offset += file.length;
    return entry;
  });
  return { files: laidOut, length: offset };
}

export function pieceCountFor(length: number, pieceLength: number): number {
  return Math.ceil(length / pieceLength);
}
