import { InvalidArgumentError } from '../errors/index.ts';

/** "0-99,200" -> the sorted, unique piece indexes it names; every part must be N or N-M within the object. */
export function parsePieceList(spec: string, pieceCount: number): number[] {
  const fail = (what: string): never => {
    throw new InvalidArgumentError(`piece list ${JSON.stringify(spec)}: ${what}`, { subject: spec });
  };
  if (!Number.isSafeInteger(pieceCount) || pieceCount < 0) {
    throw new InvalidArgumentError(`piece count ${pieceCount} is not a non-negative integer`);
  }
  if (spec.trim() === '') fail('is empty');
  const selected = new Uint8Array(pieceCount);
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
    selected.fill(1, first, last + 1);
  }
  const indexes: number[] = [];
  selected.forEach((isSelected, index) => {
    if (isSelected === 1) indexes.push(index);
  });
  return indexes;
}
