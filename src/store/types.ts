// The contract of src/store: the one owner of object state (metainfo, data, bitmap of verified pieces).
// Wire and HTTP servers, ingest and the tracker client see only this interface and the piece cache.
import type { EventEmitter } from 'node:events';
import type { Metainfo } from '../metainfo/types.ts';

/** Why pieces left the store. Peers and trackers are told in every case. */
export type RemovalReason = 'purge' | 'expired' | 'corrupt' | 'policy';

/** Which pieces an object holds, verified and durable. BitTorrent bit order (bit 0 = high bit of byte 0). */
export interface BitfieldView {
  readonly length: number;
  get(pieceIndex: number): boolean;
  count(): number;
  /** A copy in BitTorrent wire format, ceil(length / 8) bytes, spare bits zero. */
  toBuffer(): Buffer;
}

/**
 * What the servers know of an object without its metainfo: enough to route a request, size a piece and
 * answer with a bitfield. Everything here is in memory; nothing throws.
 */
export interface CatalogObject {
  infoHash: string;
  /** metainfo.name and metainfo.length. */
  name: string;
  length: number;
  pieceLength: number;
  pieceCount: number;
  /** Live view: reflects pieces as they are added and removed. */
  bitfield: BitfieldView;
  piecesHeld: number;
  complete: boolean;
  /** ms since the epoch when the object entered the store. */
  addedAt: number;
  /** ms since the epoch when the object expires (TTL), or null. */
  expiresAt: number | null;
  /** Where it was ingested from (path or URL), as given. */
  source: string | null;
}

/** An object as the store's owners see it (ingest, purge, the admin API): with its metainfo. */
export interface StoredObject extends CatalogObject {
  /** Read lazily from the store; StoreCorruptError when it cannot be read (Catalog.metainfoOf never throws). */
  metainfo: Metainfo;
}

export interface AddObjectOptions {
  ttlMs?: number;
  source?: string;
}

export interface CatalogEvents {
  'object-added': [object: CatalogObject];
  /** Pieces became durable and visible in the bitmap. */
  'pieces-added': [infoHash: string, pieceIndexes: number[]];
  'pieces-removed': [infoHash: string, pieceIndexes: number[], reason: RemovalReason];
  'object-removed': [infoHash: string, reason: RemovalReason];
  /** The object's metainfo could not be read (once per object and open): it cannot be served. */
  'object-damaged': [infoHash: string, error: Error];
}

/** The store's events are the catalog's. */
export type StoreEvents = CatalogEvents;

/**
 * What the wire and HTTP servers, the announce client and the scrub read of the objects a process serves:
 * synchronous and in memory, with change events. The disk store is one; the controller's view of its
 * edges will be another.
 */
export interface Catalog extends EventEmitter<CatalogEvents> {
  /** All objects, in no particular order. */
  list(): CatalogObject[];
  /** By info hash, any case. */
  get(infoHash: string): CatalogObject | undefined;
  /**
   * The object's metainfo, or undefined when the object is unknown or its metainfo cannot be read (missing,
   * damaged: then 'object-damaged' is emitted, once). Never throws: for paths a remote client drives (peer
   * handshakes, HTTP requests).
   */
  metainfoOf(infoHash: string): Metainfo | undefined;
}

/**
 * Where verified piece bytes come from: the piece cache over the disk store on an edge; a remote edge on
 * the controller. Layers compose over one another (caching over verifying over the store's raw reads).
 */
export interface PieceSource {
  /**
   * The verified bytes of a held piece. NotFoundError if the piece is not held, CorruptPieceError if the
   * bytes failed their check, AbortError-like rejection when `signal` aborts.
   */
  getPiece(infoHash: string, pieceIndex: number, signal?: AbortSignal): Promise<Buffer>;
  /** True when the piece's bytes are in memory now (nothing read, no hit counted): accounting's `source`. */
  holds?(infoHash: string, pieceIndex: number): boolean;
  /**
   * Verified bytes [from, to) of a piece without waiting, or undefined (then call getPiece): from memory,
   * or a read of at most `maxReadBytes` that the source can do synchronously and check. Never throws for
   * the state of the piece; InvalidArgumentError unless 0 <= from < to <= the piece's size. A read may go
   * `into` the given buffer (the caller can tell by the result's `.buffer`).
   */
  readSpanSync(
    infoHash: string,
    pieceIndex: number,
    from: number,
    to: number,
    maxReadBytes: number,
    into?: Buffer,
  ): Buffer | undefined;
  /**
   * A source with this lends the spans readSpanSync gives from memory shared with other threads (a view, not
   * a copy): each must be given back here, once, when nothing reads it any more (the socket wrote it or
   * failed); until then its bytes stay as they are. Other results are not lent and may be given back too
   * (ignored).
   */
  releaseSpan?(span: Uint8Array): void;
}

export interface OpenStoreOptions {
  /**
   * 'write' takes the store's writer lock (one writer at a time across processes; StoreLockedError if held).
   * 'read' takes no lock and sees what writers have committed.
   */
  mode: 'write' | 'read';
  /**
   * Group commit: written pieces wait for a shared fdatasync + journal append. When no commit is running, a
   * batch waits this many ms for more pieces (default 0: the rest of the event-loop turn); pieces written
   * while a commit runs form the next batch, committed as soon as it is done...
   */
  commitIntervalMs?: number;
  /** ...or at once when this many pieces (default 256) or bytes (default 128 MiB) are pending. */
  commitMaxPieces?: number;
  commitMaxBytes?: number;
  /** The journal is folded into a new snapshot once it exceeds max(this, snapshot size); default 16 MiB. */
  compactJournalBytes?: number;
  /** Data files kept open at most (default 256). */
  maxOpenFiles?: number;
  /**
   * Read mode: false when the writer surely committed nothing since the last call (a writer in the same
   * process tells its serving threads through shared memory); the store then skips its look at the journal
   * before a read of state (an fstat and a read). Default: it looks every time.
   */
  writerChanged?: () => boolean;
}

/**
 * A catalog that owns its objects' bytes: adds and removes objects and pieces, and reads pieces as they
 * are held, unverified (the piece cache's verifying layer checks them). The disk store, and the memory
 * store for tests and for processes that keep nothing on disk; both pass test/store/store-contract.ts.
 */
export interface Store extends Catalog {
  /** 'read': follows a writer's commits and changes nothing (writes reject with LocalIoError). */
  readonly mode: 'write' | 'read';
  list(): StoredObject[];
  get(infoHash: string): StoredObject | undefined;
  /** By info hash (40 hex, any case) or exact name; NotFoundError, or InvalidArgumentError if a name is ambiguous. */
  find(id: string): StoredObject;
  /** Objects whose TTL has run out at `now` (ms since the epoch; default now), for `purge --expired`. */
  listExpired(now?: number): StoredObject[];
  /** Creates the object with an empty bitmap, or returns the existing one (TTL and source refreshed). */
  addObject(metainfo: Metainfo, options?: AddObjectOptions): Promise<StoredObject>;
  /**
   * Writes a piece whose bytes the caller has verified against its hash. Resolves once the bytes are
   * durable on disk and the piece is visible in the bitmap (writes are committed in batches).
   */
  writePiece(infoHash: string, pieceIndex: number, data: Uint8Array): Promise<void>;
  /** Reads a held piece from disk as it is, unverified (the piece cache verifies). */
  readPiece(infoHash: string, pieceIndex: number): Promise<Buffer>;
  /**
   * Bytes [from, to) of a held piece (offsets within the piece), unverified, read synchronously on the data
   * files' handles that are already open: for small reads whose wait on the thread pool would cost more
   * than the read. Undefined, touching no disk, when a needed file is not open (readPiece opens it).
   * Errors as readPiece; InvalidArgumentError unless 0 <= from < to <= the piece's size. With `into`
   * (at least to - from bytes) the bytes are read into it and a view of its start is returned.
   */
  readPieceSpanSync(infoHash: string, pieceIndex: number, from: number, to: number, into?: Buffer): Buffer | undefined;
  removePieces(infoHash: string, pieceIndexes: number[], reason: RemovalReason): Promise<void>;
  removeObject(infoHash: string, reason: RemovalReason): Promise<void>;
  /**
   * Writer only, once after open and before anything is announced: checks every object's data files and
   * takes out of the bitmap (reason 'corrupt') the pieces of a file that is missing, not a regular file,
   * shorter than its metainfo says, or changed (size, mtime, inode) since the last clean close. Reads the
   * metainfo of every object that holds pieces; objects whose metainfo cannot be read are left alone.
   */
  checkDataFiles(): Promise<DataFileFinding[]>;
  /** Commits pending writes, records the data files' sizes and mtimes (writer), releases the lock. */
  close(): Promise<void>;
}

/** A data file found wrong at open, and the held pieces that left the bitmap because of it. */
export interface DataFileFinding {
  infoHash: string;
  name: string;
  path: string;
  problem: string;
  piecesRemoved: number;
}

/**
 * Staging for content whose metainfo is not known until it has all been hashed (a new local file or URL).
 * The staging folder is on the store's filesystem, laid out as the torrent's files will be.
 */
export interface StagingStore {
  /** A fresh, empty folder under the store; removed at the next open if never adopted (crash). */
  createStaging(): Promise<string>;
  /**
   * Moves verified staged data into the store as `metainfo` with every piece held (the caller hashed
   * exactly these bytes). Idempotent: if the object exists, the staged copy is dropped and the existing
   * object is returned with its TTL and source refreshed.
   */
  adoptStaging(stagingDir: string, metainfo: Metainfo, options?: AddObjectOptions): Promise<StoredObject>;
  /** Removes a staging folder that will not be adopted. */
  discardStaging(stagingDir: string): Promise<void>;
}

/**
 * The agent's piece stack as one object (createPieceCache): caching(verifying(store)). Cached pieces are
 * answered from memory; others are read from the store and checked before anyone sees them ('checksum':
 * SHA-1 on the first read in this process, block sums after; a span of a piece checked since start may be
 * read at once, for at most `maxReadBytes`). A piece that fails its check is reported through the
 * verifying layer's onCorrupt (the agent takes it out of the store) and rejects with CorruptPieceError.
 */
export interface PieceCache extends PieceSource {
  /** The cached piece (counted as a hit), or undefined without reading anything. */
  peekPiece(infoHash: string, pieceIndex: number): Buffer | undefined;
  /** Drops cached pieces of an object (after purge). */
  evict(infoHash: string, pieceIndexes?: number[]): void;
  /** Indexes of an object's pieces in memory now, in no order (reads nothing, counts no hit). */
  cachedPieces(infoHash: string): number[];
  stats(): PieceCacheStats;
  /**
   * Reads a held piece from the store (not from memory) and checks it against its SHA-1, for the background
   * scrub: 'ok' (its block sums are recorded anew, as on a first read), 'corrupt' (reported as getPiece
   * would, counted in corruptPieces), 'gone' (not held, or removed meanwhile). The piece is not added to the
   * cache: cold content read by the scrub must not push out what clients read.
   */
  scrubPiece(infoHash: string, pieceIndex: number): Promise<ScrubResult>;
}

export type ScrubResult = 'ok' | 'corrupt' | 'gone';

export interface PieceCacheStats {
  /** getPiece answered from memory or by a read already in progress; readSpanSync and peekPiece from memory. */
  hits: number;
  /** getPiece calls that read the piece from disk. */
  misses: number;
  /** Bytes of cached pieces, and their budget. */
  bytes: number;
  maxBytes: number;
  corruptPieces: number;
  /** readSpanSync answers read directly from disk, and their bytes. */
  directReads: number;
  directBytes: number;
}
