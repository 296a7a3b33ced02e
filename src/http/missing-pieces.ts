// What a request gets when it needs pieces this server does not hold: a refusal (503 with Retry-After), a
// redirect to where the bytes are, or the bytes fetched from elsewhere, verified, then served. The HTTP
// server asks the policy and knows nothing of origins or edges: the agent redirects to and pulls from the
// object's origin; the controller will redirect to and fetch from an edge that holds the piece.

import { originFileUrl } from '../ingest/index.ts';
import type { Metainfo } from '../metainfo/types.ts';
import type { CatalogObject } from '../store/types.ts';

/** A request that touches a piece not held here. */
export interface MissingPieceRequest {
  object: CatalogObject;
  metainfo: Metainfo;
  /** 'object': a file URL (BEP 19 web seed); 'piece': a piece URL. */
  route: 'object' | 'piece';
  /** The file the URL names, or -1 for a piece URL. */
  fileIndex: number;
  /** The first piece the request needs that is not held. */
  pieceIndex: number;
}

/** Where the bytes of a request are instead, or why there is no such place. */
export type Location = { location: string; holder: string } | { reason: string };

/** Fetches verified pieces from elsewhere (and may store them). */
export interface PieceFetcher {
  /** Null when the object's pieces can be fetched; else why not (the request is then refused with it). */
  cannotFetch(object: CatalogObject, metainfo: Metainfo): string | null;
  /** The piece's verified bytes. The server asks once per piece at a time, however many requests wait. */
  fetchPiece(object: CatalogObject, metainfo: Metainfo, pieceIndex: number): Promise<Buffer>;
  close(): Promise<void>;
}

export type MissingPiecePolicy =
  | { kind: 'refuse' }
  | { kind: 'redirect'; locate(request: MissingPieceRequest): Location }
  | { kind: 'pull'; fetcher: PieceFetcher };

export const REFUSE_MISSING: MissingPiecePolicy = { kind: 'refuse' };

/** Object URLs go to the same file at the object's http(s) origin; a piece URL has no equivalent there. */
export const REDIRECT_TO_ORIGIN: MissingPiecePolicy = {
  kind: 'redirect',
  locate({ object, metainfo, route, fileIndex }) {
    if (route === 'piece') return { reason: 'a piece URL has no origin equivalent to redirect to' };
    const location = originFileUrl(object.source, metainfo, fileIndex);
    return location === null ? { reason: 'the object has no http(s) origin' } : { location, holder: 'the origin' };
  },
};
