import { InvalidArgumentError } from '../errors/index.ts';

/**
 * The least default: Transmission's (transmission-create picks 32 KiB for anything under 50 MiB) and the least
 * mktorrent accepts (-l 15); 16 KiB pieces, one block each, are refused by mktorrent and rare elsewhere.
 */
const MIN_PIECE_LENGTH = 32 * 1024;
const MAX_PIECE_LENGTH = 16 * 1024 * 1024;
const MAX_PIECES = 2000;

/**
 * The smallest power of two from 32 KiB to 16 MiB that makes at most 2000 pieces: between 1000 and 2000
 * pieces except where a bound applies (libtorrent's automatic size aims at the same range). Few pieces keep
 * metainfo small; not too few keep swarms efficient. 1 GiB: 1 MiB pieces; 100 MiB: 64 KiB.
 */
export function defaultPieceLength(totalLength: number): number {
  if (!Number.isSafeInteger(totalLength) || totalLength < 0) {
    throw new InvalidArgumentError(`total length ${totalLength} is not a non-negative integer`);
  }
  let pieceLength = MIN_PIECE_LENGTH;
  while (pieceLength < MAX_PIECE_LENGTH && Math.ceil(totalLength / pieceLength) > MAX_PIECES) pieceLength *= 2;
  return pieceLength;
}
