// The content store on disk. One object = metainfo + data folder + bitmap of verified pieces. The bitmap
// and each object's summary live in the index (snapshot + checksummed journal); a piece enters the
// bitmap only in a journal record appended after fdatasync of its bytes. docs/store.md explains why each
// step is crash-safe.
import { EventEmitter } from 'node:events';
import { constants, lstatSync, readFileSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { LRUCache } from 'lru-cache';
import {
  fromSystemError,
  InvalidArgumentError,
  LocalIoError,
  NotFoundError,
  StoreCorruptError,
} from '../errors/index.ts';
import { encodeTorrent, type Metainfo, parseTorrent, pieceSize } from '../metainfo/index.ts';
import { Bitfield } from './bitfield.ts';
import {
  bufferTooSmall,
  checkMetainfo,
  checkPieceIndex,
  checkReason,
  expiryOf,
  findObject,
  notASpan,
  objectNotFound,
  pieceNotHeld,
  wrongPieceSize,
} from './checks.ts';
import { DataFiles } from './data-files.ts';
import { IndexFollower } from './follower.ts';
import { fsyncDirectory, removeTree, writeFileDurable } from './fs-util.ts';
import type { PooledHandle } from './handles.ts';
import {
  type IndexChange,
  journalFileName,
  type LoadedIndex,
  type ObjectEntry,
  recordOfEntry,
  SNAPSHOT_FILE,
} from './index-file.ts';
import { IndexWriter } from './index-writer.ts';
import {
  contentFilePath,
  contentFolders,
  DATA_DIR,
  INDEX_DIR,
  METAINFO_FILE,
  OBJECTS_DIR,
  objectDir,
  STAGING_DIR,
  TRASH_DIR,
} from './layout.ts';
import type { WriterLock } from './lock.ts';
import { ObjectGates } from './object-gates.ts';
import { ObjectView } from './object-view.ts';
import {
  encodeObject,
  encodeObjectRemoved,
  encodeObjectUpdated,
  encodePiecesAdded,
  encodePiecesRemoved,
} from './records.ts';
import { isPieceSpan } from './span.ts';
import {
  checkDataFiles,
  type DataFileRecords,
  piecesOfFile,
  readDataFileRecords,
  recordOf,
  writeDataFileRecords,
} from './startup-check.ts';
import type {
  AddObjectOptions,
  DataFileFinding,
  OpenStoreOptions,
  RemovalReason,
  StagingStore,
  Store,
  StoredObject,
  StoreEvents,
} from './types.ts';

/** Parsed metainfo kept in memory, by bytes of info dictionary (the piece hashes dominate). */
const METAINFO_CACHE_BYTES = 256 * 1024 * 1024;

interface PendingPiece {
  entry: ObjectEntry;
  pieceIndex: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** In the index folder, between a clean close and the next open: the data files' sizes, mtimes, inodes. */
const DATA_FILES_RECORD = 'data-files.json';

/** Pieces written since the last commit: they share one round of fdatasync and one journal append. */
class CommitBatch {
  readonly pieces: PendingPiece[] = [];
  readonly handles = new Set<PooledHandle>();
  bytes = 0;
  readonly done: Promise<void>;
  settle!: () => void;
  constructor() {
    this.done = new Promise((resolve) => {
      this.settle = resolve;
    });
  }
}

type StoreOptions = Required<Omit<OpenStoreOptions, 'mode' | 'writerChanged'>> &
  Pick<OpenStoreOptions, 'writerChanged'> & { mode: 'write' | 'read' };

export class DiskStore extends EventEmitter<StoreEvents> implements Store, StagingStore {
  readonly dataDir: string;
  readonly mode: 'write' | 'read';
  readonly #options: StoreOptions;
  readonly #indexDir: string;
  readonly #objectsDir: string;
  readonly #stagingDir: string;
  readonly #trashDir: string;

  readonly #entries: Map<string, ObjectEntry>;
  readonly #views = new WeakMap<ObjectEntry, StoredObject>();
  readonly #metainfos = new LRUCache<ObjectEntry, Metainfo>({
    maxSize: METAINFO_CACHE_BYTES,
    sizeCalculation: (metainfo) => Math.max(1, metainfo.info.length),
  });
  readonly #files: DataFiles;
  readonly #gates = new ObjectGates();

  /** Write mode: the journal and snapshot, appended to in order and compacted. */
  readonly #index: IndexWriter;
  /** Read mode: what follows the writer's commits. */
  readonly #follower: IndexFollower | null;
  #lock: WriterLock | null;

  /** Pieces written and waiting for the next group commit, and the one being committed. */
  #batch = new CommitBatch();
  #committingBatch: CommitBatch | null = null;
  #commitLoop: Promise<void> | null = null;
  #commitTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  #closing = false;
  /** The data files as the last clean close recorded them (read at open; the file is deleted then). */
  #recordedFiles: DataFileRecords = {};
  /** Objects whose metainfo failed to load ('object-damaged' told once). */
  readonly #damaged = new WeakSet<ObjectEntry>();

  constructor(dataDir: string, options: StoreOptions, loaded: LoadedIndex, lock: WriterLock | null) {
    super();
    this.dataDir = dataDir;
    this.mode = options.mode;
    this.#options = options;
    this.#indexDir = join(dataDir, INDEX_DIR);
    this.#objectsDir = join(dataDir, OBJECTS_DIR);
    this.#stagingDir = join(dataDir, STAGING_DIR);
    this.#trashDir = join(dataDir, TRASH_DIR);
    this.#entries = loaded.entries;
    this.#index = new IndexWriter(this.#indexDir, loaded, {
      compactJournalBytes: options.compactJournalBytes,
      entries: () => this.#entries.values(),
      announce: (change) => this.#announce(change),
    });
    this.#follower = options.mode === 'read' ? new IndexFollower(this.#indexDir, loaded) : null;
    this.#lock = lock;
    this.#files = new DataFiles(dataDir, { writable: options.mode === 'write', maxOpen: options.maxOpenFiles });
  }

  // Opening and recovery

  /** Write mode, at open: cut a torn journal tail, then remove what a crash left half done. */
  async recover(loaded: LoadedIndex): Promise<void> {
    await this.#index.open(loaded);
    // Read before the sweep below deletes it: a crash from now on leaves no record to trust.
    this.#recordedFiles = await readDataFileRecords(join(this.#indexDir, DATA_FILES_RECORD));
    const keep = new Set([SNAPSHOT_FILE, journalFileName(this.#index.generation)]);
    for (const name of await readdir(this.#indexDir)) {
      if (!keep.has(name)) await unlink(join(this.#indexDir, name)).catch(() => {});
    }
    // Staging folders are only ever made by the writer, so any found now were left by a crash.
    await this.#emptyFolder(this.#stagingDir);
    await this.#emptyFolder(this.#trashDir);
    // An object folder without an index entry is an object whose creation never committed.
    for (const name of await readdir(this.#objectsDir)) {
      if (!this.#entries.has(name)) await removeTree(join(this.#objectsDir, name));
    }
    this.#index.compactIfDue();
  }

  async checkDataFiles(): Promise<DataFileFinding[]> {
    this.#assertWritable();
    const findings: DataFileFinding[] = [];
    for (const entry of [...this.#entries.values()]) {
      if (entry.bitfield.count() === 0) continue;
      let metainfo: Metainfo;
      try {
        metainfo = this.#metainfoOf(entry);
      } catch {
        continue; // reported where the metainfo is used
      }
      const folder = this.#files.folderOf(entry.infoHash);
      const problems = checkDataFiles(
        metainfo,
        (fileIndex) => contentFilePath(folder, metainfo, fileIndex),
        this.#recordedFiles[entry.infoHash],
      );
      for (const { fileIndex, path, problem } of problems) {
        const held = piecesOfFile(metainfo, fileIndex).filter((index) => entry.bitfield.get(index));
        if (held.length > 0) await this.removePieces(entry.infoHash, held, 'corrupt');
        findings.push({ infoHash: entry.infoHash, name: entry.name, path, problem, piecesRemoved: held.length });
      }
    }
    this.#recordedFiles = {};
    return findings;
  }

  /** At a clean close: what checkDataFiles compares with at the next open, for objects whose metainfo is known. */
  async #recordDataFiles(): Promise<void> {
    const records: DataFileRecords = {};
    for (const entry of this.#entries.values()) {
      const metainfo = this.#metainfos.get(entry);
      if (metainfo === undefined || entry.bitfield.count() === 0) continue;
      const folder = this.#files.folderOf(entry.infoHash);
      try {
        records[entry.infoHash] = metainfo.files.map((_, fileIndex) =>
          recordOf(lstatSync(contentFilePath(folder, metainfo, fileIndex))),
        );
      } catch {
        // A file gone already: the next open finds it by itself.
      }
    }
    await writeDataFileRecords(join(this.#indexDir, DATA_FILES_RECORD), records).catch(() => {});
  }

  async #emptyFolder(folder: string): Promise<void> {
    for (const name of await readdir(folder)) await removeTree(join(folder, name));
  }

  // Reading state

  list(): StoredObject[] {
    this.#refresh();
    return [...this.#entries.values()].map((entry) => this.#viewOf(entry));
  }

  get(infoHash: string): StoredObject | undefined {
    this.#refresh();
    // Callers nearly always pass the lower-case form already: try it before making one.
    const entry = this.#entries.get(infoHash) ?? this.#entries.get(infoHash.toLowerCase());
    return entry === undefined ? undefined : this.#viewOf(entry);
  }

  find(id: string): StoredObject {
    this.#refresh();
    const entry = findObject(this.#entries.values(), (infoHash) => this.#entries.get(infoHash), id);
    return this.#viewOf(entry);
  }

  listExpired(now: number = Date.now()): StoredObject[] {
    this.#refresh();
    const expired: StoredObject[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) expired.push(this.#viewOf(entry));
    }
    return expired;
  }

  metainfoOf(infoHash: string): Metainfo | undefined {
    // Once per HTTP request: the lower-case form callers nearly always pass is tried first, as in get().
    const entry = this.#entries.get(infoHash) ?? this.#entries.get(infoHash.toLowerCase());
    if (entry === undefined) return undefined;
    try {
      return this.#metainfoOf(entry);
    } catch (err) {
      if (!this.#damaged.has(entry)) {
        this.#damaged.add(entry);
        this.emit('object-damaged', entry.infoHash, err as Error);
      }
      return undefined;
    }
  }

  #viewOf(entry: ObjectEntry): StoredObject {
    let view = this.#views.get(entry);
    if (view === undefined) {
      view = new ObjectView(entry, this.#loadMetainfo);
      this.#views.set(entry, view);
    }
    return view;
  }

  readonly #loadMetainfo = (entry: ObjectEntry): Metainfo => this.#metainfoOf(entry);

  /** The object's metainfo, read from its folder on first use (opening 100k objects reads none). */
  #metainfoOf(entry: ObjectEntry): Metainfo {
    const cached = this.#metainfos.get(entry);
    if (cached !== undefined) return cached;
    const path = join(objectDir(this.dataDir, entry.infoHash), METAINFO_FILE);
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      throw new StoreCorruptError(`the metainfo of ${entry.name} (${entry.infoHash}) cannot be read from ${path}`, {
        subject: entry.infoHash,
        cause: err,
      });
    }
    let metainfo: Metainfo;
    try {
      metainfo = parseTorrent(data, path);
    } catch (err) {
      throw new StoreCorruptError(`the metainfo of ${entry.name} (${entry.infoHash}) in ${path} is damaged`, {
        subject: entry.infoHash,
        cause: err,
      });
    }
    if (metainfo.infoHash !== entry.infoHash) {
      throw new StoreCorruptError(`${path} holds the metainfo of ${metainfo.infoHash}, not of ${entry.infoHash}`, {
        subject: entry.infoHash,
      });
    }
    this.#metainfos.set(entry, metainfo);
    return metainfo;
  }

  #entryOrThrow(infoHash: string): ObjectEntry {
    const entry = this.#entries.get(infoHash.toLowerCase());
    if (entry === undefined) throw objectNotFound(infoHash);
    return entry;
  }

  async readPiece(infoHash: string, pieceIndex: number): Promise<Buffer> {
    const entry = this.#heldEntry(infoHash, pieceIndex);
    return this.#files.readPiece(entry, this.#metainfoOf(entry), pieceIndex);
  }

  readPieceSpanSync(infoHash: string, pieceIndex: number, from: number, to: number, into?: Buffer): Buffer | undefined {
    const entry = this.#heldEntry(infoHash, pieceIndex);
    const metainfo = this.#metainfoOf(entry);
    const size = pieceSize(metainfo, pieceIndex);
    if (!isPieceSpan(from, to, size)) throw notASpan(entry, pieceIndex, from, to, size);
    if (into !== undefined && into.length < to - from) throw bufferTooSmall(entry, into, to - from);
    return this.#files.readSpanSync(entry, metainfo, pieceIndex, from, to, into);
  }

  /** The object holding `pieceIndex` (read mode: after catching up with the writer); NotFoundError if not held. */
  #heldEntry(infoHash: string, pieceIndex: number): ObjectEntry {
    this.#refresh();
    const entry = this.#entryOrThrow(infoHash);
    checkPieceIndex(entry, pieceIndex);
    if (!entry.bitfield.get(pieceIndex)) throw pieceNotHeld(entry, pieceIndex);
    return entry;
  }

  // Read mode: follow what the writer commits

  /**
   * Read mode: applies what the writer committed since we last looked (src/store/follower.ts). Runs before
   * every read of state; costs an fstat and a few bytes' read when nothing is new.
   */
  #refresh(): void {
    if (this.#follower === null || this.#closing) return;
    if (this.#options.writerChanged !== undefined && !this.#options.writerChanged()) return;
    for (const change of this.#follower.catchUp(this.#entries)) this.#announce(change);
  }

  /** Emits the event for a durable change; a listener that throws must not undo or stall the store. */
  #announce(change: IndexChange): void {
    try {
      switch (change.kind) {
        case 'object-added': {
          const entry = this.#entries.get(change.infoHash);
          if (entry !== undefined) this.emit('object-added', this.#viewOf(entry));
          break;
        }
        case 'pieces-added':
          this.emit('pieces-added', change.infoHash, change.pieceIndexes);
          break;
        case 'pieces-removed':
          this.emit('pieces-removed', change.infoHash, change.pieceIndexes, change.reason);
          break;
        case 'object-removed':
          this.#files.drop(change.infoHash);
          this.emit('object-removed', change.infoHash, change.reason);
          break;
        case 'object-updated':
          break;
      }
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  // Writing: the serial journal

  #assertWritable(): void {
    if (this.mode !== 'write') {
      throw new InvalidArgumentError(`the store in ${this.dataDir} is open read-only`, { subject: this.dataDir });
    }
    if (this.#closing) throw new LocalIoError(`the store in ${this.dataDir} is closed`, { subject: this.dataDir });
  }

  // Writing: objects

  async addObject(metainfo: Metainfo, options: AddObjectOptions = {}): Promise<StoredObject> {
    this.#assertWritable();
    checkMetainfo(metainfo);
    const expiresAt = expiryOf(options);
    return this.#gates.exclusive(metainfo.infoHash, async () => {
      const existing = this.#entries.get(metainfo.infoHash);
      if (existing !== undefined) return this.#refreshObject(existing, expiresAt, options.source);
      const folder = objectDir(this.dataDir, metainfo.infoHash);
      try {
        await removeTree(folder); // left by a crash before its creation committed
        const dataFolder = join(folder, DATA_DIR);
        await mkdir(dataFolder, { recursive: true });
        await writeFileDurable(join(folder, METAINFO_FILE), encodeTorrent(metainfo));
        await createSparseFiles(dataFolder, metainfo);
        for (const path of [...contentFolders(dataFolder, metainfo), dataFolder, folder, this.#objectsDir]) {
          await fsyncDirectory(path);
        }
        return await this.#commitNewObject(metainfo, new Bitfield(metainfo.pieceCount), expiresAt, options.source);
      } catch (err) {
        await removeTree(folder).catch(() => {});
        throw fromSystemError(err, folder);
      }
    });
  }

  async #commitNewObject(
    metainfo: Metainfo,
    bitfield: Bitfield,
    expiresAt: number | null,
    source: string | undefined,
  ): Promise<StoredObject> {
    const entry: ObjectEntry = {
      infoHash: metainfo.infoHash,
      name: metainfo.name,
      pieceLength: metainfo.pieceLength,
      pieceCount: metainfo.pieceCount,
      length: metainfo.length,
      addedAt: Date.now(),
      expiresAt,
      source: source ?? null,
      bitfield,
    };
    await this.#index.commit([encodeObject(recordOfEntry(entry))], () => {
      this.#entries.set(entry.infoHash, entry);
      this.#metainfos.set(entry, metainfo);
      return [{ kind: 'object-added', infoHash: entry.infoHash }];
    });
    return this.#viewOf(entry);
  }

  /** addObject/adoptStaging of an object already held: refresh TTL and source. */
  async #refreshObject(
    entry: ObjectEntry,
    expiresAt: number | null,
    source: string | undefined,
  ): Promise<StoredObject> {
    const nextExpiry = expiresAt ?? entry.expiresAt;
    const nextSource = source ?? entry.source;
    if (nextExpiry !== entry.expiresAt || nextSource !== entry.source) {
      const record = { infoHash: entry.infoHash, expiresAt: nextExpiry, source: nextSource };
      await this.#index.commit([encodeObjectUpdated(record)], () => {
        entry.expiresAt = nextExpiry;
        entry.source = nextSource;
        return [];
      });
    }
    return this.#viewOf(entry);
  }

  async removeObject(infoHash: string, reason: RemovalReason): Promise<void> {
    this.#assertWritable();
    checkReason(reason);
    const target = this.#entryOrThrow(infoHash);
    await this.#gates.exclusive(target.infoHash, async () => {
      await this.#flush();
      const entry = this.#entries.get(target.infoHash);
      if (entry === undefined) {
        throw new NotFoundError(`no object with info hash ${target.infoHash} in the store`, { subject: infoHash });
      }
      await this.#index.commit([encodeObjectRemoved({ infoHash: entry.infoHash, reason })], () => {
        this.#entries.delete(entry.infoHash);
        this.#metainfos.delete(entry);
        return [{ kind: 'object-removed', infoHash: entry.infoHash, reason }];
      });
      // Durably gone from the index: now the files. Rename first so a new object of the same info hash
      // never meets half-deleted files; whatever a crash leaves in trash/ goes at the next open.
      const trashPath = join(this.#trashDir, `${entry.infoHash}.${Date.now()}.${Math.random().toString(36).slice(2)}`);
      try {
        await rename(objectDir(this.dataDir, entry.infoHash), trashPath);
      } catch {
        return; // already gone, or not renameable: open removes orphans in objects/
      }
      await removeTree(trashPath).catch(() => {});
    });
  }

  // Writing: pieces

  async writePiece(infoHash: string, pieceIndex: number, data: Uint8Array): Promise<void> {
    this.#assertWritable();
    const entry = this.#entryOrThrow(infoHash);
    checkPieceIndex(entry, pieceIndex);
    if (entry.bitfield.get(pieceIndex)) return; // verified bytes are never rewritten under readers
    const metainfo = this.#metainfoOf(entry);
    const size = pieceSize(metainfo, pieceIndex);
    if (data.byteLength !== size) throw wrongPieceSize(entry, pieceIndex, size, data.byteLength);
    const gate = await this.#gates.enterWriter(entry.infoHash);
    let acquired: PooledHandle[];
    try {
      if (this.#entries.get(entry.infoHash) !== entry) {
        throw new NotFoundError(`${entry.name} (${entry.infoHash}) was removed while piece ${pieceIndex} was written`, {
          subject: entry.infoHash,
        });
      }
      acquired = await this.#files.writePiece(entry, metainfo, pieceIndex, data);
    } catch (err) {
      this.#gates.leaveWriter(entry.infoHash, gate);
      throw err;
    }
    // From here on synchronous until the piece is in the batch, so a removal waiting for this object's
    // writers to finish is sure to find the piece in the batch it flushes.
    const committed = new Promise<void>((resolve, reject) => {
      const batch = this.#batch;
      batch.pieces.push({ entry, pieceIndex, resolve, reject });
      batch.bytes += size;
      for (const pooled of acquired) {
        if (batch.handles.has(pooled)) this.#files.release(pooled);
        else batch.handles.add(pooled);
      }
    });
    this.#gates.leaveWriter(entry.infoHash, gate);
    this.#scheduleCommit();
    return committed;
  }

  #scheduleCommit(): void {
    const batch = this.#batch;
    if (
      batch.pieces.length >= this.#options.commitMaxPieces ||
      batch.bytes >= this.#options.commitMaxBytes ||
      batch.handles.size >= this.#options.maxOpenFiles // many small files: do not pile up open handles
    ) {
      this.#startCommit();
    } else if (this.#commitTimer === null && this.#commitLoop === null) {
      // Idle committer: wait commitIntervalMs for company (0: just the rest of this event-loop turn).
      // A busy committer takes the batch as soon as it is done, so under load batches form by themselves.
      const delay = this.#options.commitIntervalMs;
      this.#commitTimer =
        delay === 0 ? setImmediate(() => this.#startCommit()) : setTimeout(() => this.#startCommit(), delay);
    }
  }

  #startCommit(): void {
    if (this.#commitTimer !== null) {
      clearTimeout(this.#commitTimer as NodeJS.Timeout);
      clearImmediate(this.#commitTimer as NodeJS.Immediate);
      this.#commitTimer = null;
    }
    if (this.#commitLoop !== null) return; // the running loop takes the batch when it is done
    this.#commitLoop = this.#runCommits().finally(() => {
      this.#commitLoop = null;
    });
  }

  /** Group commit: while one batch syncs, writes gather in the next; it commits as soon as this one is done. */
  async #runCommits(): Promise<void> {
    while (this.#batch.pieces.length > 0) {
      const batch = this.#batch;
      this.#batch = new CommitBatch();
      this.#committingBatch = batch;
      await this.#commitBatch(batch);
      this.#committingBatch = null;
    }
  }

  async #commitBatch(batch: CommitBatch): Promise<void> {
    const handles = [...batch.handles];
    try {
      await Promise.all(
        handles.map((pooled) =>
          pooled.handle.datasync().catch((err) => Promise.reject(fromSystemError(err, pooled.path))),
        ),
      );
      await this.#commitPieces(batch.pieces);
      for (const piece of batch.pieces) {
        if (piece.entry.bitfield.get(piece.pieceIndex)) piece.resolve();
        else {
          const { name, infoHash } = piece.entry;
          piece.reject(
            new NotFoundError(`${name} was removed before its piece ${piece.pieceIndex} was committed`, {
              subject: infoHash,
            }),
          );
        }
      }
    } catch (err) {
      for (const piece of batch.pieces) piece.reject(err);
    } finally {
      for (const pooled of handles) this.#files.release(pooled);
      batch.settle();
    }
  }

  /** One journal record per object for all the batch's pieces. */
  #commitPieces(pieces: readonly PendingPiece[]): Promise<IndexChange[]> {
    const byObject = new Map<ObjectEntry, Set<number>>();
    for (const { entry, pieceIndex } of pieces) {
      if (this.#entries.get(entry.infoHash) !== entry || entry.bitfield.get(pieceIndex)) continue;
      const indexes = byObject.get(entry) ?? new Set<number>();
      indexes.add(pieceIndex);
      byObject.set(entry, indexes);
    }
    if (byObject.size === 0) return Promise.resolve([]);
    const groups = [...byObject].map(([entry, set]) => ({ entry, pieceIndexes: [...set].sort((a, b) => a - b) }));
    const frames = groups.map(({ entry, pieceIndexes }) =>
      encodePiecesAdded({ infoHash: entry.infoHash, pieceIndexes }),
    );
    return this.#index.commit(frames, () => {
      const changes: IndexChange[] = [];
      for (const { entry, pieceIndexes } of groups) {
        if (this.#entries.get(entry.infoHash) !== entry) continue;
        const added = pieceIndexes.filter((index) => entry.bitfield.set(index));
        if (added.length > 0) changes.push({ kind: 'pieces-added', infoHash: entry.infoHash, pieceIndexes: added });
      }
      return changes;
    });
  }

  /** Resolves when every piece written before this call is committed (or failed). */
  async #flush(): Promise<void> {
    const waits: Promise<void>[] = [];
    if (this.#committingBatch !== null) waits.push(this.#committingBatch.done);
    if (this.#batch.pieces.length > 0) {
      waits.push(this.#batch.done);
      this.#startCommit();
    }
    await Promise.all(waits);
  }

  async removePieces(infoHash: string, pieceIndexes: number[], reason: RemovalReason): Promise<void> {
    this.#assertWritable();
    checkReason(reason);
    const target = this.#entryOrThrow(infoHash);
    if (!Array.isArray(pieceIndexes)) throw new InvalidArgumentError('pieceIndexes must be an array of piece indexes');
    for (const index of pieceIndexes) checkPieceIndex(target, index);
    await this.#gates.exclusive(target.infoHash, async () => {
      await this.#flush();
      const entry = this.#entries.get(target.infoHash);
      if (entry === undefined) return;
      const held = [...new Set(pieceIndexes)].filter((index) => entry.bitfield.get(index)).sort((a, b) => a - b);
      if (held.length === 0) return;
      await this.#index.commit([encodePiecesRemoved({ infoHash: entry.infoHash, pieceIndexes: held, reason })], () => {
        for (const index of held) entry.bitfield.set(index, false);
        return [{ kind: 'pieces-removed', infoHash: entry.infoHash, pieceIndexes: held, reason }];
      });
      await this.#files.releaseSpace(entry, this.#metainfoOf(entry), held).catch(() => {});
    });
  }

  // Staging

  async createStaging(): Promise<string> {
    this.#assertWritable();
    try {
      return await mkdtemp(join(this.#stagingDir, 'staging-'));
    } catch (err) {
      throw fromSystemError(err, this.#stagingDir);
    }
  }

  #checkStagingDir(stagingDir: string): string {
    const folder = resolve(stagingDir);
    if (dirname(folder) !== this.#stagingDir || !basename(folder).startsWith('staging-')) {
      throw new InvalidArgumentError(`${stagingDir} is not a staging folder of the store in ${this.dataDir}`, {
        subject: stagingDir,
      });
    }
    return folder;
  }

  async discardStaging(stagingDir: string): Promise<void> {
    this.#assertWritable();
    const folder = this.#checkStagingDir(stagingDir);
    await removeTree(folder).catch((err) => {
      throw fromSystemError(err, folder);
    });
  }

  async adoptStaging(stagingDir: string, metainfo: Metainfo, options: AddObjectOptions = {}): Promise<StoredObject> {
    this.#assertWritable();
    const staged = this.#checkStagingDir(stagingDir);
    checkMetainfo(metainfo);
    const expiresAt = expiryOf(options);
    return this.#gates.exclusive(metainfo.infoHash, async () => {
      const existing = this.#entries.get(metainfo.infoHash);
      if (existing !== undefined) {
        await removeTree(staged);
        return this.#refreshObject(existing, expiresAt, options.source);
      }
      await checkStagedFiles(staged, metainfo);
      const folder = objectDir(this.dataDir, metainfo.infoHash);
      const dataFolder = join(folder, DATA_DIR);
      let moved = false;
      try {
        await syncStagedData(staged, metainfo);
        await removeTree(folder);
        await mkdir(folder, { recursive: true });
        await writeFileDurable(join(folder, METAINFO_FILE), encodeTorrent(metainfo));
        await rename(staged, dataFolder);
        moved = true;
        for (const path of [folder, this.#stagingDir, this.#objectsDir]) await fsyncDirectory(path);
        return await this.#commitNewObject(metainfo, Bitfield.full(metainfo.pieceCount), expiresAt, options.source);
      } catch (err) {
        // Not committed: give the data back to the caller's staging folder so it can retry or discard.
        if (moved) await rename(dataFolder, staged).catch(() => {});
        await removeTree(folder).catch(() => {});
        throw fromSystemError(err, staged);
      }
    });
  }

  // Closing

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.mode === 'write') {
      await this.#gates.quiesce();
      await this.#flush();
      await this.#index.close();
      await this.#recordDataFiles();
    }
    this.#follower?.close();
    await this.#files.close();
    await this.#lock?.release();
  }
}

/** Creates every file of the object at its full length without writing data (sparse). */
async function createSparseFiles(dataFolder: string, metainfo: Metainfo): Promise<void> {
  for (let fileIndex = 0; fileIndex < metainfo.files.length; fileIndex++) {
    const path = contentFilePath(dataFolder, metainfo, fileIndex);
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW);
    try {
      await handle.truncate(metainfo.files[fileIndex]!.length);
    } finally {
      await handle.close();
    }
  }
}

/** The staged folder must hold each file as a regular file of the right length, with no symlink on the way. */
async function checkStagedFiles(staged: string, metainfo: Metainfo): Promise<void> {
  const folders = contentFolders(staged, metainfo);
  for (const folder of folders) {
    const stat = await lstat(folder).catch(() => null);
    if (stat === null || !stat.isDirectory()) {
      throw new InvalidArgumentError(`staged folder ${folder} is missing or not a real folder`, { subject: folder });
    }
  }
  for (let fileIndex = 0; fileIndex < metainfo.files.length; fileIndex++) {
    const path = contentFilePath(staged, metainfo, fileIndex);
    const expected = metainfo.files[fileIndex]!.length;
    const stat = await lstat(path).catch(() => null);
    if (stat === null || !stat.isFile()) {
      throw new InvalidArgumentError(`staged file ${path} is missing or not a regular file`, { subject: path });
    }
    if (stat.size !== expected) {
      throw new InvalidArgumentError(`staged file ${path} has ${stat.size} bytes, its metainfo says ${expected}`, {
        subject: path,
      });
    }
  }
}

/** The caller hashed the staged bytes; make them and their names durable before the bitmap says "held". */
async function syncStagedData(staged: string, metainfo: Metainfo): Promise<void> {
  const paths = metainfo.files.map((_, fileIndex) => contentFilePath(staged, metainfo, fileIndex));
  const parallel = 8;
  for (let start = 0; start < paths.length; start += parallel) {
    await Promise.all(
      paths.slice(start, start + parallel).map(async (path) => {
        const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          await handle.datasync();
        } finally {
          await handle.close();
        }
      }),
    );
  }
  for (const folder of contentFolders(staged, metainfo)) await fsyncDirectory(folder);
  await fsyncDirectory(staged);
}
