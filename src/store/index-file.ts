// The store's index: every object's summary (name, sizes, TTL, source) and bitmap, as a snapshot plus a
// journal of changes since (see records.ts for the frame format and docs/store.md for the protocol).
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreCorruptError } from '../errors/index.ts';
import { Bitfield } from './bitfield.ts';
import { fsyncDirectory } from './fs-util.ts';
import {
  decodeEnd,
  decodeHeader,
  decodeObject,
  decodeObjectRemoved,
  decodeObjectUpdated,
  decodePiecesAdded,
  decodePiecesRemoved,
  encodeEnd,
  encodeHeader,
  encodeObject,
  type Frame,
  type ObjectRecord,
  RecordType,
  readFrames,
} from './records.ts';
import type { RemovalReason } from './types.ts';

export const SNAPSHOT_FILE = 'snapshot';

export function journalFileName(generation: number): string {
  return `journal-${generation}`;
}

/** What the index knows of one object (its journal record, with a live bitfield); the metainfo stays in the object's folder. */
export interface ObjectEntry extends Omit<ObjectRecord, 'bitfield'> {
  bitfield: Bitfield;
}

export type IndexChange =
  | { kind: 'object-added'; infoHash: string }
  | { kind: 'object-updated'; infoHash: string }
  | { kind: 'pieces-added'; infoHash: string; pieceIndexes: number[] }
  | { kind: 'pieces-removed'; infoHash: string; pieceIndexes: number[]; reason: RemovalReason }
  | { kind: 'object-removed'; infoHash: string; reason: RemovalReason };

export function entryFromRecord(record: ObjectRecord): ObjectEntry {
  return {
    infoHash: record.infoHash,
    name: record.name,
    pieceLength: record.pieceLength,
    pieceCount: record.pieceCount,
    length: record.length,
    addedAt: record.addedAt,
    expiresAt: record.expiresAt,
    source: record.source,
    bitfield: new Bitfield(record.pieceCount, record.bitfield),
  };
}

export function recordOfEntry(entry: ObjectEntry): ObjectRecord {
  const { bitfield, ...summary } = entry;
  return { ...summary, bitfield: bitfield.toBuffer() };
}

/**
 * Applies one journal record to `entries`, keeping existing Bitfield objects (they are live views handed
 * out to callers). Returns what changed, or null when nothing did (replays are idempotent).
 */
export function applyFrame(entries: Map<string, ObjectEntry>, frame: Frame): IndexChange | null {
  switch (frame.type) {
    case RecordType.object: {
      const record = decodeObject(frame.payload);
      const existing = entries.get(record.infoHash);
      if (existing !== undefined && existing.pieceCount === record.pieceCount) {
        Object.assign(existing, { ...record, bitfield: existing.bitfield });
        existing.bitfield.assign(record.bitfield);
      } else {
        entries.set(record.infoHash, entryFromRecord(record));
      }
      return { kind: 'object-added', infoHash: record.infoHash };
    }
    case RecordType.objectUpdated: {
      const record = decodeObjectUpdated(frame.payload);
      const entry = entries.get(record.infoHash);
      if (entry === undefined) return null;
      entry.expiresAt = record.expiresAt;
      entry.source = record.source;
      return { kind: 'object-updated', infoHash: record.infoHash };
    }
    case RecordType.piecesAdded: {
      const record = decodePiecesAdded(frame.payload);
      const entry = entries.get(record.infoHash);
      if (entry === undefined) return null;
      const changed = record.pieceIndexes.filter((index) => index < entry.pieceCount && entry.bitfield.set(index));
      return changed.length === 0 ? null : { kind: 'pieces-added', infoHash: record.infoHash, pieceIndexes: changed };
    }
    case RecordType.piecesRemoved: {
      const record = decodePiecesRemoved(frame.payload);
      const entry = entries.get(record.infoHash);
      if (entry === undefined) return null;
      const changed = record.pieceIndexes.filter(
        (index) => index < entry.pieceCount && entry.bitfield.set(index, false),
      );
      return changed.length === 0
        ? null
        : { kind: 'pieces-removed', infoHash: record.infoHash, pieceIndexes: changed, reason: record.reason };
    }
    case RecordType.objectRemoved: {
      const record = decodeObjectRemoved(frame.payload);
      if (!entries.delete(record.infoHash)) return null;
      return { kind: 'object-removed', infoHash: record.infoHash, reason: record.reason };
    }
    default:
      throw new StoreCorruptError(`store index: unknown record type ${frame.type}`);
  }
}

export interface LoadedIndex {
  entries: Map<string, ObjectEntry>;
  generation: number;
  /** Changes when the snapshot is replaced; readers compare it to notice a compaction. */
  snapshotIdentity: string;
  /** Bytes of the snapshot file. */
  snapshotBytes: number;
  journalExists: boolean;
  /** End of the last intact journal record (0 if the journal has no intact header). */
  journalEnd: number;
  /** Size of the journal file as found (larger than journalEnd after a torn write). */
  journalLength: number;
}

/** Reads snapshot + journal (synchronously: it is one sequential read of two files, at open). */
export function loadIndex(indexDir: string): LoadedIndex {
  const entries = new Map<string, ObjectEntry>();
  const snapshot = readSnapshot(join(indexDir, SNAPSHOT_FILE), entries);
  const journal = readFileOrNull(join(indexDir, journalFileName(snapshot.generation)));
  const loaded: LoadedIndex = {
    entries,
    generation: snapshot.generation,
    snapshotIdentity: snapshot.identity,
    snapshotBytes: snapshot.bytes,
    journalExists: journal !== null,
    journalEnd: 0,
    journalLength: journal?.length ?? 0,
  };
  if (journal !== null) loaded.journalEnd = replayJournal(journal, snapshot.generation, entries, true).end;
  return loaded;
}

/**
 * Applies the journal's records in `bytes` (the whole journal when `fromStart`, else a tail of it that
 * starts on a record boundary) and reports where the intact part of `bytes` ends. A journal without an
 * intact header was torn while being created: it holds nothing.
 */
export function replayJournal(
  bytes: Buffer,
  generation: number,
  entries: Map<string, ObjectEntry>,
  fromStart: boolean,
): { end: number; changes: IndexChange[] } {
  const { frames, validEnd } = readFrames(bytes);
  let records = frames;
  if (fromStart) {
    const header = decodeHeader(frames[0]);
    if (header === null) return { end: 0, changes: [] };
    if (header.kind !== 'journal' || header.generation !== generation) {
      throw new StoreCorruptError(
        `store index: journal header says generation ${header.generation}, not ${generation}`,
      );
    }
    records = frames.slice(1);
  }
  const changes: IndexChange[] = [];
  for (const frame of records) {
    const change = applyFrame(entries, frame);
    if (change !== null) changes.push(change);
  }
  return { end: validEnd, changes };
}

function readSnapshot(
  path: string,
  entries: Map<string, ObjectEntry>,
): { generation: number; identity: string; bytes: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { generation: 0, identity: 'none', bytes: 0 };
    throw err;
  }
  try {
    const stat = fstatSync(fd);
    const buffer = Buffer.allocUnsafe(stat.size);
    let filled = 0;
    while (filled < stat.size) {
      const read = readSync(fd, buffer, filled, stat.size - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    const { frames, validEnd } = readFrames(buffer.subarray(0, filled));
    const header = decodeHeader(frames[0]);
    const last = frames.at(-1);
    if (header?.kind !== 'snapshot' || last?.type !== RecordType.end || validEnd !== filled) {
      throw new StoreCorruptError(`store index: the snapshot ${path} is damaged`, { subject: path });
    }
    const objects = frames.slice(1, -1);
    if (decodeEnd(last.payload) !== objects.length) {
      throw new StoreCorruptError(`store index: the snapshot ${path} is incomplete`, { subject: path });
    }
    for (const frame of objects) {
      if (frame.type !== RecordType.object) {
        throw new StoreCorruptError(`store index: the snapshot ${path} holds a record of type ${frame.type}`);
      }
      const entry = entryFromRecord(decodeObject(frame.payload));
      entries.set(entry.infoHash, entry);
    }
    return { generation: header.generation, identity: `${stat.ino}:${stat.size}:${stat.mtimeMs}`, bytes: filled };
  } finally {
    closeSync(fd);
  }
}

function readFileOrNull(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Identity of the snapshot file now ('none' if absent), to compare with LoadedIndex.snapshotIdentity. */
export function snapshotIdentityOf(indexDir: string): string {
  try {
    const fd = openSync(join(indexDir, SNAPSHOT_FILE), 'r');
    try {
      const stat = fstatSync(fd);
      return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw err;
  }
}

/** Writes the whole state as the snapshot of `generation`: temp file, fsync, rename, fsync the folder. */
export async function writeSnapshot(
  indexDir: string,
  entries: Iterable<ObjectEntry>,
  generation: number,
): Promise<number> {
  const frames: Buffer[] = [encodeHeader({ kind: 'snapshot', generation })];
  for (const entry of entries) frames.push(encodeObject(recordOfEntry(entry)));
  frames.push(encodeEnd(frames.length - 1));
  const tempPath = join(indexDir, `${SNAPSHOT_FILE}.tmp`);
  const handle = await open(tempPath, 'w');
  let bytes = 0;
  try {
    // Bounded chunks: one Buffer.concat of 100k records would double the peak memory for no gain.
    for (let start = 0; start < frames.length; start += 4096) {
      const chunk = Buffer.concat(frames.slice(start, start + 4096));
      await handle.write(chunk, 0, chunk.length, bytes);
      bytes += chunk.length;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tempPath, join(indexDir, SNAPSHOT_FILE));
  await fsyncDirectory(indexDir);
  return bytes;
}

/** Reads the bytes of `path` from `offset` to its current end (synchronously), or null if it is gone. */
export function readTail(path: string, offset: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return Buffer.alloc(0);
    const buffer = Buffer.allocUnsafe(size - offset);
    let filled = 0;
    while (filled < buffer.length) {
      const read = readSync(fd, buffer, filled, buffer.length - filled, offset + filled);
      if (read === 0) break;
      filled += read;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}
