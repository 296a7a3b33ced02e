import { OriginError } from '../errors/index.ts';

/**
 * Cuts a byte stream into consecutive pieces of the given sizes. Each piece is one fresh buffer (one copy
 * from the socket's chunks, unavoidable for a contiguous piece). Back-pressure: the stream is read only as
 * fast as the consumer takes pieces. Fails if the stream ends early or carries more bytes than expected.
 */
export async function* cutPieces(
  stream: AsyncIterable<Uint8Array>,
  pieceSizes: Iterable<number>,
  subject: string,
  options: { lengthKnown: boolean } = { lengthKnown: true },
): AsyncGenerator<Buffer> {
  const sizes = pieceSizes[Symbol.iterator]();
  let next = sizes.next();
  let piece = next.done ? null : Buffer.allocUnsafeSlow(next.value);
  let filled = 0;
  let received = 0;
  for await (const chunk of stream) {
    received += chunk.byteLength;
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (piece === null) {
        throw new OriginError('EDGEPEER_ORIGIN_TRUNCATED', `${subject}: origin sent more bytes than expected`, {
          subject,
        });
      }
      const take = Math.min(piece.length - filled, chunk.byteLength - offset);
      piece.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === piece.length) {
        yield piece;
        next = sizes.next();
        piece = next.done ? null : Buffer.allocUnsafeSlow(next.value);
        filled = 0;
      }
    }
  }
  // Of a stream of unknown length, the last piece is whatever arrived.
  if (!options.lengthKnown) {
    if (piece !== null && filled > 0) yield piece.subarray(0, filled);
    return;
  }
  // Zero-length pieces never fill from data; everything else must have arrived.
  while (piece !== null && piece.length === 0) {
    yield piece;
    next = sizes.next();
    piece = next.done ? null : Buffer.allocUnsafeSlow(next.value);
  }
  if (piece !== null) {
    throw new OriginError(
      'EDGEPEER_ORIGIN_TRUNCATED',
      `${subject}: body ended after ${received} bytes, before the end of the expected data`,
      { subject },
    );
  }
}

/** Sizes of pieces first..last (inclusive) of content of `length` bytes cut in `pieceLength` pieces. */
export function* pieceSizes(length: number, pieceLength: number, first: number, last: number): Generator<number> {
  for (let i = first; i <= last; i++) yield Math.min(pieceLength, length - i * pieceLength);
}

/** Sizes of the pieces of a stream whose length is not known in advance. */
export function* endlessPieceSizes(pieceLength: number): Generator<number> {
  for (;;) yield pieceLength;
}

/** Groups sorted piece indexes into runs of consecutive indexes, each at most maxRun long. */
export function pieceRuns(indexes: number[], maxRun: number): Array<{ first: number; last: number }> {
  const runs: Array<{ first: number; last: number }> = [];
  for (const index of indexes) {
    const run = runs.at(-1);
    if (run && index === run.last + 1 && index - run.first < maxRun) run.last = index;
    else runs.push({ first: index, last: index });
  }
  return runs;
}

/** Runs `worker` over items with at most `limit` at once; the first failure stops new work and rejects. */
export async function forEachLimited<T>(items: T[], limit: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  async function lane(): Promise<void> {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await worker(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
