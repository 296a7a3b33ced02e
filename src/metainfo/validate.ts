// Checks shared by buildMetainfo and parseTorrent: what makes a set of files a torrent edgepeer can store.
import { MetainfoError } from '../errors/index.ts';
import { printablePath, unsafeComponentReason } from './path-components.ts';

/** mktorrent's largest (-l 28); larger pieces would make every piece buffer enormous. */
export const MAX_PIECE_LENGTH = 2 ** 28;

export function checkName(name: string, subject: string): void {
  const reason = unsafeComponentReason(name);
  if (reason !== undefined) throw new MetainfoError(`${subject}: name ${JSON.stringify(name)} ${reason}`, { subject });
}

export function checkPieceLength(pieceLength: number, subject: string): void {
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0 || pieceLength > MAX_PIECE_LENGTH) {
    throw new MetainfoError(`${subject}: piece length ${pieceLength} is not an integer from 1 to ${MAX_PIECE_LENGTH}`, {
      subject,
    });
  }
}

export function checkFileLength(length: number, where: string, subject: string): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new MetainfoError(`${subject}: ${where} has length ${length}, not a non-negative integer`, { subject });
  }
}

/**
 * Each multi-file path must be non-empty and safe, and no two files may land on the same place on disk:
 * neither the same path twice nor a file whose path is another file's directory.
 */
export function checkMultiFilePaths(paths: readonly (readonly string[])[], subject: string): void {
  const filePaths = new Set<string>();
  const directoryPaths = new Set<string>();
  paths.forEach((path, index) => {
    if (path.length === 0) throw new MetainfoError(`${subject}: file ${index} has an empty path`, { subject });
    for (const component of path) {
      const reason = unsafeComponentReason(component);
      if (reason !== undefined) {
        throw new MetainfoError(
          `${subject}: file ${index} path ${printablePath(path)} is unsafe: a component ${reason}`,
          {
            subject,
          },
        );
      }
    }
    const joined = path.join('/');
    if (filePaths.has(joined) || directoryPaths.has(joined)) {
      throw new MetainfoError(`${subject}: file ${index} path ${printablePath(path)} is used twice`, { subject });
    }
    filePaths.add(joined);
    for (let depth = 1; depth < path.length; depth++) directoryPaths.add(path.slice(0, depth).join('/'));
  });
  for (const directory of directoryPaths) {
    if (filePaths.has(directory)) {
      throw new MetainfoError(`${subject}: path ${JSON.stringify(directory)} is both a file and a directory`, {
        subject,
      });
    }
  }
}

export function checkPieceHashes(
  pieceHashesLength: number,
  totalLength: number,
  pieceLength: number,
  subject: string,
): void {
  if (totalLength === 0)
    throw new MetainfoError(`${subject}: the torrent has no content (total length 0)`, { subject });
  if (!Number.isSafeInteger(totalLength)) {
    throw new MetainfoError(`${subject}: total length ${totalLength} is too large`, { subject });
  }
  if (pieceHashesLength % 20 !== 0) {
    throw new MetainfoError(`${subject}: pieces is ${pieceHashesLength} bytes, not a multiple of 20`, { subject });
  }
  const expected = Math.ceil(totalLength / pieceLength);
  if (pieceHashesLength / 20 !== expected) {
    throw new MetainfoError(
      `${subject}: pieces holds ${pieceHashesLength / 20} hashes but ${totalLength} bytes in pieces of ${pieceLength} make ${expected}`,
      { subject },
    );
  }
}
