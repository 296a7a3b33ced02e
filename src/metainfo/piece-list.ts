// Piece lists as people write them ("0-99,200", flags and the admin API) and as the library takes them
// (number[]). Text is parsed where it enters; indexes are checked against an object where it is known.
import { InvalidArgumentError } from '../errors/index.ts';

/** More pieces than any metainfo holds (its hashes alone would be 1.3 GB): a list beyond names none. */
const MAX_PIECES = 2 ** 26;

/**
 * "0-99,200" -> the sorted, unique piece indexes it names; every part must be N or N-M. With `pieceCount`,
 * every index must also be below it (the message then names the part that is not).
 */
export function parsePieceList(spec: string, pieceCount: number = MAX_PIECES): number[] {
  const fail = (what: string): never => {
    throw new InvalidArgumentError(`piece list ${JSON.stringify(spec)}: ${what}`, { subject: spec });
  };
  if (!Number.isSafeInteger(pieceCount) || pieceCount < 0 || pieceCount > MAX_PIECES) {
    throw new InvalidArgumentError(`piece count ${pieceCount} is not an integer from 0 to ${MAX_PIECES}`);
  }
  if (spec.trim() === '') fail('is empty');
  const ranges: Array<[number, number]> = [];
  for (const rawPart of spec.split(',')) {
    const part = rawPart.trim();
    const match = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (match === null) return fail(`${JSON.stringify(part)} is not a piece index or range (expected N or N-M)`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) fail(`range ${JSON.stringify(part)} is reversed`);
    if (last >= pieceCount) {
      fail(
        pieceCount === 0
          ? `${JSON.stringify(part)} is out of range: the object has no pieces`
          : `${JSON.stringify(part)} is out of range: pieces are 0 to ${pieceCount - 1}`,
      );
    }
    ranges.push([first, last]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const indexes: number[] = [];
  for (const [first, last] of ranges) {
    const from = Math.max(first, (indexes.at(-1) ?? -1) + 1);
    for (let index = from; index <= last; index++) indexes.push(index);
  }
  return indexes;
}

/** Sorted unique indexes as a piece list, runs as ranges: [0, 1, 2, 7] -> "0-2,7" (parsePieceList's inverse). */
export function formatPieceList(indexes: readonly number[]): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * The unique indexes of `indexes`, sorted, each an integer below `pieceCount`; else InvalidArgumentError
 * naming the first that is not and the object (`name`).
 */
export function checkPieceIndexes(indexes: readonly number[], pieceCount: number, name: string): number[] {
  if (!Array.isArray(indexes)) throw new InvalidArgumentError('pieces must be an array of piece indexes');
  for (const index of indexes) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= pieceCount) {
      throw new InvalidArgumentError(
        pieceCount === 0
          ? `piece ${index} is out of range: ${name} has no pieces`
          : `piece ${index} is out of range: ${name} has pieces 0 to ${pieceCount - 1}`,
        { subject: name },
      );
    }
  }
  return [...new Set(indexes)].sort((a, b) => a - b);
}
