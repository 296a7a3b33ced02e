// The public surface of src/store: the content store (objects = metainfo + data + bitmap of verified
// pieces), its staging area, the piece cache and the bitfield. docs/store.md describes the layout on disk.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fromSystemError, InvalidArgumentError } from '../errors/index.ts';
import { type LoadedIndex, loadIndex } from './index-file.ts';
import { INDEX_DIR, OBJECTS_DIR, STAGING_DIR, TRASH_DIR } from './layout.ts';
import { acquireWriterLock, type WriterLock } from './lock.ts';
import { DiskStore } from './store.ts';
import type { OpenStoreOptions, StagingStore, Store } from './types.ts';

export { Bitfield, countSetBits } from './bitfield.ts';
export { type WritingSocket, whenWritten } from './lent-spans.ts';
export { type LockHolder, readLockHolder } from './lock.ts';
export { MemoryStore } from './memory-store.ts';
export { CachingSource, createPieceCache, type PieceCacheOptions } from './piece-cache.ts';
export {
  parseScrubWindow,
  Scrubber,
  type ScrubOptions,
  type ScrubPass,
  type ScrubStatus,
  type ScrubWindow,
} from './scrub.ts';
export {
  createPieceSlab,
  createSharedPieceCache,
  type PieceSlab,
  SharedCachingSource,
  type SharedPieceCacheOptions,
} from './shared-piece-cache.ts';
export type {
  AddObjectOptions,
  BitfieldView,
  Catalog,
  CatalogEvents,
  CatalogObject,
  DataFileFinding,
  OpenStoreOptions,
  PieceCache,
  PieceCacheStats,
  PieceSource,
  RemovalReason,
  StagingStore,
  Store,
  StoredObject,
  StoreEvents,
} from './types.ts';
export {
  type RawPieces,
  removeCorruptPieces,
  VerifyingSource,
  type VerifyingSourceOptions,
  type VerifyingStats,
  type VerifyPolicy,
} from './verifying-source.ts';

const DEFAULTS = {
  commitIntervalMs: 0,
  commitMaxPieces: 256,
  commitMaxBytes: 128 * 1024 * 1024,
  compactJournalBytes: 16 * 1024 * 1024,
  maxOpenFiles: 256,
};

function positive(name: keyof typeof DEFAULTS, value: number | undefined): number {
  if (value === undefined) return DEFAULTS[name];
  if (!Number.isFinite(value) || value < 0 || (name !== 'commitIntervalMs' && value < 1)) {
    throw new InvalidArgumentError(`store option ${name} must be a positive number, got ${value}`);
  }
  return value;
}

/**
 * Opens the store in `dataDir`. 'write' creates it if needed, takes the writer lock (StoreLockedError
 * naming the holder's pid) and repairs what a crash left; 'read' takes no lock, changes nothing on disk
 * and follows what the writer commits (an absent store reads as empty).
 */
export async function openStore(dataDir: string, options: OpenStoreOptions): Promise<Store & StagingStore> {
  if (typeof dataDir !== 'string' || dataDir.trim() === '') {
    throw new InvalidArgumentError(`the store's data dir must be a path, got ${JSON.stringify(dataDir)}`);
  }
  if (options?.mode !== 'write' && options?.mode !== 'read') {
    throw new InvalidArgumentError(`store mode must be 'write' or 'read', got ${String(options?.mode)}`);
  }
  const settings = {
    mode: options.mode,
    commitIntervalMs: positive('commitIntervalMs', options.commitIntervalMs),
    commitMaxPieces: positive('commitMaxPieces', options.commitMaxPieces),
    commitMaxBytes: positive('commitMaxBytes', options.commitMaxBytes),
    compactJournalBytes: positive('compactJournalBytes', options.compactJournalBytes),
    maxOpenFiles: positive('maxOpenFiles', options.maxOpenFiles),
    ...(options.writerChanged === undefined ? {} : { writerChanged: options.writerChanged }),
  };
  const root = resolve(dataDir);
  let lock: WriterLock | null = null;
  try {
    if (settings.mode === 'write') {
      for (const folder of [INDEX_DIR, OBJECTS_DIR, STAGING_DIR, TRASH_DIR]) {
        await mkdir(join(root, folder), { recursive: true });
      }
      lock = await acquireWriterLock(root);
    }
    const loaded: LoadedIndex = loadIndex(join(root, INDEX_DIR));
    const store = new DiskStore(root, settings, loaded, lock);
    if (settings.mode === 'write') await store.recover(loaded);
    return store;
  } catch (err) {
    await lock?.release();
    throw fromSystemError(err, root);
  }
}
