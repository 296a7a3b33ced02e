// Where the bytes of a response come from: the piece source for held pieces, else the missing-piece
// policy's fetcher (one fetch per piece at a time, however many requests wait for it).
import { CorruptPieceError, LocalIoError, NotFoundError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import type { Metainfo } from '../metainfo/index.ts';
import type { CatalogObject, PieceSource } from '../store/types.ts';
import { type MissingPiecePolicy, type PieceFetcher, REDIRECT_TO_ORIGIN, REFUSE_MISSING } from './missing-pieces.ts';
import { PullThrough, sha1Verifier } from './pull-through.ts';
import type { HttpServerOptions, HttpServerStats, OriginLimits, ResponseSource } from './types.ts';

/** Why a request cannot be served from what this server holds. */
export class MissingPieceError extends Error {
  readonly pieceIndex: number;
  constructor(pieceIndex: number, cause?: unknown) {
    super(`piece ${pieceIndex} is not held here`, cause === undefined ? undefined : { cause });
    this.pieceIndex = pieceIndex;
  }
}

export class PieceReader {
  readonly fetcher: PieceFetcher | null;
  readonly #source: PieceSource;
  readonly #stats: HttpServerStats;
  readonly #onPulled: ((infoHash: string, bytes: number) => void) | undefined;
  /** Pieces being fetched, shared by every request that waits for one. */
  readonly #fetching = new Map<string, Promise<Buffer>>();

  constructor(
    source: PieceSource,
    policy: MissingPiecePolicy,
    stats: HttpServerStats,
    onPulled?: (infoHash: string, bytes: number) => void,
  ) {
    this.#source = source;
    this.fetcher = policy.kind === 'pull' ? policy.fetcher : null;
    this.#stats = stats;
    this.#onPulled = onPulled;
  }

  /** Verified bytes of a piece: from the source, else (a pulling policy) fetched from elsewhere. */
  read(object: CatalogObject, metainfo: Metainfo, pieceIndex: number): Promise<Buffer> {
    const fetcher = this.fetcher;
    if (object.bitfield.get(pieceIndex)) {
      const held = this.#source.getPiece(object.infoHash, pieceIndex);
      if (fetcher === null) return held;
      // The piece left the store (purged, or found corrupt and dropped) since the bitfield said so.
      return held.catch((err: unknown) =>
        err instanceof NotFoundError || err instanceof CorruptPieceError
          ? this.#fetch(fetcher, object, metainfo, pieceIndex)
          : Promise.reject(err),
      );
    }
    if (fetcher === null) return Promise.reject(new MissingPieceError(pieceIndex));
    return this.#fetch(fetcher, object, metainfo, pieceIndex);
  }

  /** Where `read` would take a piece from now: memory, disk, or (not held) the origin. For accounting. */
  sourceOf(object: CatalogObject, pieceIndex: number): ResponseSource {
    if (!object.bitfield.get(pieceIndex)) return 'pull-through';
    return this.#source.holds?.(object.infoHash, pieceIndex) === true ? 'cache' : 'disk';
  }

  /** As read, for the first piece of a response: a piece not to be had is a MissingPieceError (policy answers). */
  async readFirst(object: CatalogObject, metainfo: Metainfo, pieceIndex: number): Promise<Buffer> {
    try {
      return await this.read(object, metainfo, pieceIndex);
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof CorruptPieceError) {
        throw new MissingPieceError(pieceIndex, err);
      }
      throw err;
    }
  }

  /** One fetch per piece at a time, counted once, whatever the number of requests waiting for it. */
  #fetch(from: PieceFetcher, object: CatalogObject, metainfo: Metainfo, pieceIndex: number): Promise<Buffer> {
    const key = `${object.infoHash}:${pieceIndex}`;
    const shared = this.#fetching.get(key);
    if (shared !== undefined) return shared;
    const pending = from.fetchPiece(object, metainfo, pieceIndex).then(
      (data) => {
        this.#stats.piecesPulled += 1;
        this.#onPulled?.(object.infoHash, data.length);
        return data;
      },
      (err: unknown) => {
        this.#stats.pullFailures += 1;
        throw err;
      },
    );
    this.#fetching.set(key, pending);
    pending.then(
      () => this.#fetching.delete(key),
      () => this.#fetching.delete(key),
    );
    return pending;
  }
}

/**
 * The policy for requests touching pieces not held: one given as a strategy, or one of the agent's by
 * name ('pull-through' builds a PullThrough from the object's origin into `writePiece` or the store).
 */
export function missingPiecePolicyOf(
  options: HttpServerOptions,
  originDefaults: OriginLimits,
  logger: Logger,
): MissingPiecePolicy {
  const { policy } = options;
  if (typeof policy !== 'string') return policy;
  if (policy === 'refuse') return REFUSE_MISSING;
  if (policy === 'redirect') return REDIRECT_TO_ORIGIN;
  const writePiece = options.writePiece ?? options.store.writePiece?.bind(options.store);
  if (writePiece === undefined) {
    throw new LocalIoError('pull-through needs a store that can write pieces (or a writePiece option)');
  }
  const fetcher = new PullThrough({
    ...originDefaults,
    ...options.origin,
    verify: options.verify ?? sha1Verifier,
    writePiece,
    logger,
  });
  return { kind: 'pull', fetcher };
}
