import { type EdgepeerError, fromSystemError, InvalidArgumentError, isEdgepeerError } from '../errors/index.ts';
import { checkPieceIndexes } from '../metainfo/index.ts';
import type { Store, StoredObject } from '../store/index.ts';

export interface PurgeRequest {
  /** Info hashes or names. */
  ids: string[];
  /** With ids: purge only these pieces of each object (parsePieceList turns "0-9,20" into them). */
  pieces?: number[];
  /** Also every object whose TTL has run out. */
  expired?: boolean;
  /** Also every object added longer ago than this. */
  olderThanMs?: number;
  now?: number;
}

/** `queued`: through a controller, for an edge that is down; it purges when it is back. */
export type PurgeStatus = 'purged' | 'pieces-purged' | 'queued' | 'not-found' | 'ambiguous' | 'failed';

/** One line of `edgepeer purge --json`. Field names are a stable interface for scripts. */
export interface PurgeResult {
  id: string;
  status: PurgeStatus;
  infoHash: string | null;
  name: string | null;
  piecesRemoved: number;
  /** Through a controller: the edge (id) this purge was done on. */
  edge?: string;
  error?: { code: string; message: string; subject?: string };
}

/** Purges what the request selects; one result per selected object or unknown id, in order. */
export async function purge(store: Store, request: PurgeRequest): Promise<PurgeResult[]> {
  if (request.pieces !== undefined && (request.expired || request.olderThanMs !== undefined)) {
    throw new InvalidArgumentError(
      '--pieces purges pieces of named objects; it cannot go with --expired or --older-than',
    );
  }
  const now = request.now ?? Date.now();
  const results: PurgeResult[] = [];
  const selected = new Map<string, { id: string; object: StoredObject }>();
  for (const id of request.ids) {
    try {
      const object = store.find(id);
      if (!selected.has(object.infoHash)) selected.set(object.infoHash, { id, object });
    } catch (err) {
      // A name several objects have is no missing object: the caller must give an info hash.
      results.push(failure(id, err, err instanceof InvalidArgumentError ? 'ambiguous' : 'not-found'));
    }
  }
  if (request.expired) {
    for (const object of store.listExpired(now)) select(selected, object);
  }
  if (request.olderThanMs !== undefined) {
    const cutoff = now - request.olderThanMs;
    for (const object of store.list()) if (object.addedAt < cutoff) select(selected, object);
  }
  for (const { id, object } of selected.values()) {
    results.push(await purgeOne(store, id, object, request.pieces));
  }
  return results;
}

function select(selected: Map<string, { id: string; object: StoredObject }>, object: StoredObject): void {
  if (!selected.has(object.infoHash)) selected.set(object.infoHash, { id: object.infoHash, object });
}

async function purgeOne(
  store: Store,
  id: string,
  object: StoredObject,
  pieces: number[] | undefined,
): Promise<PurgeResult> {
  const base = { id, infoHash: object.infoHash, name: object.metainfo.name };
  try {
    if (pieces === undefined) {
      const held = object.piecesHeld;
      await store.removeObject(object.infoHash, 'purge');
      return { ...base, status: 'purged', piecesRemoved: held };
    }
    const held = checkPieceIndexes(pieces, object.pieceCount, object.name).filter((i) => object.bitfield.get(i));
    if (held.length > 0) await store.removePieces(object.infoHash, held, 'purge');
    return { ...base, status: 'pieces-purged', piecesRemoved: held.length };
  } catch (err) {
    return { ...failure(id, err, 'failed'), infoHash: object.infoHash, name: object.metainfo.name };
  }
}

function failure(id: string, err: unknown, status: PurgeStatus): PurgeResult {
  const error: EdgepeerError = isEdgepeerError(err) ? err : fromSystemError(err, id);
  return { id, status, infoHash: null, name: null, piecesRemoved: 0, error: error.toJSON() };
}
