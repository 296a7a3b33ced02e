/** True when [from, to) is a non-empty span within a piece of `size` bytes (any piece, when size is unknown). */
export function isPieceSpan(from: number, to: number, size = Number.MAX_SAFE_INTEGER): boolean {
  return Number.isSafeInteger(from) && Number.isSafeInteger(to) && from >= 0 && to > from && to <= size;
}
