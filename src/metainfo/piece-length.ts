import { InvalidArgumentError } from '../errors/index.ts';

const MIN_PIECE_LENGTH = 16 * 1024;
const MAX_PIECE_LENGTH = 16 * 1024 * 1024;
const MAX_PIECES = 2000;

/**
 * The smallest power of two from 16 KiB to 16 MiB that makes at most 2000 pieces: between 1000 and 2000
 * pieces except where a bound applies. Few pieces keep metainfo small; not too few keep swarms efficient.
 */
export function defaultPieceLength(totalLength: number): number {
  if (!Number.isSafeInteger(totalLength) || totalLength < 0) {
    throw new InvalidArgumentError(`total length ${totalLength} is not a non-negative integer`);
  }
  let pieceLength = MIN_PIECE_LENGTH;
  while (pieceLength < MAX_PIECE_LENGTH && Math.ceil(totalLength / pieceLength) > MAX_PIECES) pieceLength *= 2;
  return pieceLength;
}
