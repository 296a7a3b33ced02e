import { InvalidArgumentError } from '../errors/index.ts';
import { PIECE_HASH_LENGTH } from './derive.ts';
import type { Metainfo, PieceSpan } from './types.ts';

function checkPieceIndex(metainfo: Metainfo, pieceIndex: number): void {
  if (!Number.isInteger(pieceIndex) || pieceIndex < 0 || pieceIndex >= metainfo.pieceCount) {
    throw new InvalidArgumentError(
      `piece ${pieceIndex} is out of range: ${metainfo.name} has pieces 0 to ${metainfo.pieceCount - 1}`,
      { subject: metainfo.infoHash },
    );
  }
}

/** Bytes in the piece: pieceLength, except for a shorter last piece. */
export function pieceSize(metainfo: Metainfo, pieceIndex: number): number {
  checkPieceIndex(metainfo, pieceIndex);
  return Math.min(metainfo.pieceLength, metainfo.length - pieceIndex * metainfo.pieceLength);
}

/** The piece's 20-byte SHA-1: a view into metainfo.pieceHashes, not a copy. */
export function pieceHash(metainfo: Metainfo, pieceIndex: number): Buffer {
  checkPieceIndex(metainfo, pieceIndex);
  const start = pieceIndex * PIECE_HASH_LENGTH;
  return metainfo.pieceHashes.subarray(start, start + PIECE_HASH_LENGTH);
}

/** Where the piece's bytes lie, one span per file, in order; zero-length files have no span. */
export function pieceSpans(metainfo: Metainfo, pieceIndex: number): PieceSpan[] {
  const size = pieceSize(metainfo, pieceIndex);
  return byteRangeSpans(metainfo, pieceIndex * metainfo.pieceLength, size);
}

/** Where `length` bytes of the content starting at `offset` lie, one span per file, skipping empty files. */
export function byteRangeSpans(metainfo: Metainfo, offset: number, length: number): PieceSpan[] {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > metainfo.length
  ) {
    throw new InvalidArgumentError(
      `byte range at ${offset} of length ${length} lies outside ${metainfo.name} (${metainfo.length} bytes)`,
      { subject: metainfo.infoHash },
    );
  }
  const spans: PieceSpan[] = [];
  if (length === 0) return spans;
  const end = offset + length;
  const { files } = metainfo;
  for (let fileIndex = firstFileEndingAfter(metainfo, offset); fileIndex < files.length; fileIndex++) {
    const file = files[fileIndex]!;
    if (file.offset >= end) break;
    if (file.length === 0) continue;
    const start = Math.max(offset, file.offset);
    const stop = Math.min(end, file.offset + file.length);
    spans.push({ fileIndex, fileOffset: start - file.offset, length: stop - start });
  }
  return spans;
}

/** Binary search: the first file whose last byte is at or after `offset` (files are in offset order). */
function firstFileEndingAfter(metainfo: Metainfo, offset: number): number {
  const { files } = metainfo;
  let low = 0;
  let high = files.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const file = files[middle]!;
    if (file.offset + file.length <= offset) low = middle + 1;
    else high = middle;
  }
  return low;
}
