import type { HashPool } from '../hashing/index.ts';
import type { Metainfo } from '../metainfo/index.ts';
import type { StagingStore, Store } from '../store/index.ts';
import type { OriginClient } from './origin.ts';

/** What ingest needs from the rest of the process. */
export interface IngestContext {
  store: Store & StagingStore;
  hashPool: HashPool;
  origin: OriginClient;
  signal?: AbortSignal;
}

export interface IngestProgress {
  source: string;
  bytesDone: number;
  /** null while the total is not known (an origin that does not say). */
  bytesTotal: number | null;
}

export interface IngestOptions {
  /** Piece length for new objects; default from the content's size. */
  pieceLength?: number;
  /** Known metainfo (--torrent, --info-hash): only pieces matching its hashes are kept. */
  metainfo?: Metainfo;
  /** Only these pieces of a known object (parsePieceList turns "0-99,200" into them). */
  pieces?: number[];
  ttlMs?: number;
  /** Name of a new object fetched from a URL (default: from the origin). */
  name?: string;
  /**
   * New objects are private (BEP 27: `private=1` in the info dictionary, a different info hash): clients then
   * use only the trackers in their metainfo, no DHT or PEX, and the agent announces them only there.
   */
  private?: boolean;
  /** Announce URLs written into new objects' metainfo (one tier each); a private object needs one. */
  trackers?: string[];
  /** Time allowed for an origin's response headers and between body chunks (default: the client's). */
  originTimeoutMs?: number;
  onProgress?: (progress: IngestProgress) => void;
}

/**
 * ingested: pieces added; unchanged: held whole already, nothing changed; updated: held whole already, its
 * expiry changed (--ttl); partial: some pieces failed their hash; failed: nothing done (see error).
 */
export type IngestStatus = 'ingested' | 'unchanged' | 'updated' | 'partial' | 'failed';

/** One line of `edgepeer ingest --json`. Field names are a stable interface for scripts. */
export interface IngestResult {
  source: string;
  status: IngestStatus;
  infoHash: string | null;
  name: string | null;
  length: number | null;
  pieceLength: number | null;
  pieces: number | null;
  piecesHeld: number | null;
  /** Pieces this run added to the store. */
  piecesAdded: number;
  magnet: string | null;
  durationMs: number;
  /** Through a controller: the edge (id) that did this ingest. */
  edge?: string;
  error?: { code: string; message: string; subject?: string };
}
