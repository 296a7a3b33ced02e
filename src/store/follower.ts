// A read-mode store's view of the writer: applies to the reader's entries what the writer committed since
// the last look (journal frames appended, or a compaction's new snapshot), cheaply when nothing changed.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fromSystemError } from '../errors/index.ts';
import {
  type IndexChange,
  journalFileName,
  type LoadedIndex,
  loadIndex,
  type ObjectEntry,
  readTail,
  replayJournal,
  snapshotIdentityOf,
} from './index-file.ts';
import { FRAME_HEADER_BYTES } from './records.ts';

/** The longest a reader trusts the link count of its journal without looking at the snapshot. */
const FULL_LOOK_MS = 1000;

export class IndexFollower {
  readonly #indexDir: string;
  #generation: number;
  #snapshotIdentity: string;
  /** How far into the journal we have applied. */
  #journalOffset: number;
  /** The journal we follow, held open, and when we last looked at the index in full. */
  #followed: { fd: number; generation: number } | null = null;
  #lastFullLook = 0;
  readonly #journalProbe = Buffer.alloc(FRAME_HEADER_BYTES);

  constructor(indexDir: string, loaded: LoadedIndex) {
    this.#indexDir = indexDir;
    this.#generation = loaded.generation;
    this.#snapshotIdentity = loaded.snapshotIdentity;
    this.#journalOffset = loaded.journalEnd;
  }

  /** Applies to `entries` what the writer committed since the last call; the changes, for the store to tell. */
  catchUp(entries: Map<string, ObjectEntry>): IndexChange[] {
    try {
      if (this.#nothingNew()) return [];
      this.#lastFullLook = performance.now();
      let changes: IndexChange[];
      if (snapshotIdentityOf(this.#indexDir) !== this.#snapshotIdentity) {
        changes = this.#reload(entries);
      } else {
        const journalPath = join(this.#indexDir, journalFileName(this.#generation));
        const tail = readTail(journalPath, this.#journalOffset);
        if (tail === null) return []; // between a compaction's new snapshot and our next look
        const fromStart = this.#journalOffset === 0;
        const replayed = replayJournal(tail, this.#generation, entries, fromStart);
        this.#journalOffset += replayed.end;
        changes = replayed.changes;
      }
      this.#followJournal();
      return changes;
    } catch (err) {
      throw fromSystemError(err, this.#indexDir);
    }
  }

  close(): void {
    this.#unfollowJournal();
  }

  /**
   * True when the journal we hold open is still linked (a compaction unlinks it once the new
   * snapshot is in place) and has no frame after the ones we applied (the writer keeps zeros allocated
   * past the log, and zeros never parse as a frame): an fstat and a read of a few bytes, where a full look
   * opens two files and reads the zeros. A full look at least every FULL_LOOK_MS still notices a
   * compaction whose unlink failed or that a filesystem does not show in the link count.
   */
  #nothingNew(): boolean {
    const followed = this.#followed;
    if (followed === null || followed.generation !== this.#generation) return false;
    if (performance.now() - this.#lastFullLook > FULL_LOOK_MS) return false;
    if (fstatSync(followed.fd).nlink === 0) return false;
    const probe = this.#journalProbe;
    const bytesRead = readSync(followed.fd, probe, 0, probe.length, this.#journalOffset);
    for (let index = 0; index < bytesRead; index++) if (probe[index] !== 0) return false;
    return true;
  }

  /** After a full look: holds the journal of the current generation open for #nothingNew. */
  #followJournal(): void {
    if (this.#journalOffset === 0 || this.#followed?.generation === this.#generation) return;
    this.#unfollowJournal();
    try {
      const fd = openSync(join(this.#indexDir, journalFileName(this.#generation)), 'r');
      this.#followed = { fd, generation: this.#generation };
    } catch {
      // Not there (yet): full looks work without it.
    }
  }

  #unfollowJournal(): void {
    if (this.#followed === null) return;
    closeSync(this.#followed.fd);
    this.#followed = null;
  }

  /** The writer compacted: loads the new snapshot and says what differs. */
  #reload(entries: Map<string, ObjectEntry>): IndexChange[] {
    let loaded = loadIndex(this.#indexDir);
    for (let attempt = 0; attempt < 3 && snapshotIdentityOf(this.#indexDir) !== loaded.snapshotIdentity; attempt++) {
      loaded = loadIndex(this.#indexDir);
    }
    const changes: IndexChange[] = [];
    for (const infoHash of [...entries.keys()]) {
      if (!loaded.entries.has(infoHash)) {
        entries.delete(infoHash);
        changes.push({ kind: 'object-removed', infoHash, reason: 'purge' });
      }
    }
    for (const [infoHash, fresh] of loaded.entries) {
      const entry = entries.get(infoHash);
      if (entry === undefined || entry.pieceCount !== fresh.pieceCount) {
        entries.set(infoHash, fresh);
        changes.push({ kind: 'object-added', infoHash });
        continue;
      }
      const before = entry.bitfield.toBuffer();
      Object.assign(entry, { ...fresh, bitfield: entry.bitfield });
      entry.bitfield.assign(fresh.bitfield.toBuffer());
      const added: number[] = [];
      const removed: number[] = [];
      for (let index = 0; index < entry.pieceCount; index++) {
        const was = (before[index >> 3]! & (0x80 >> (index & 7))) !== 0;
        const is = entry.bitfield.get(index);
        if (is && !was) added.push(index);
        if (was && !is) removed.push(index);
      }
      if (added.length > 0) changes.push({ kind: 'pieces-added', infoHash, pieceIndexes: added });
      if (removed.length > 0)
        changes.push({ kind: 'pieces-removed', infoHash, pieceIndexes: removed, reason: 'purge' });
    }
    this.#generation = loaded.generation;
    this.#snapshotIdentity = loaded.snapshotIdentity;
    this.#journalOffset = loaded.journalEnd;
    return changes;
  }
}
