// The disk store's writer side of the index: journal records appended durably and applied in journal
// order (records queued during an append share the next one and its fdatasync), and the journal folded
// into a new snapshot once it outgrows it. docs/store.md explains why each step is crash-safe.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDirectory } from './fs-util.ts';
import { type IndexChange, journalFileName, type LoadedIndex, type ObjectEntry, writeSnapshot } from './index-file.ts';
import { JournalWriter } from './journal.ts';

interface QueuedRecords {
  frames: Buffer[];
  apply: () => IndexChange[];
  resolve: (changes: IndexChange[]) => void;
  reject: (err: unknown) => void;
}

export interface IndexWriterOptions {
  /** The journal is compacted once it exceeds max(this, the snapshot's size). */
  compactJournalBytes: number;
  /** Every object, for a new snapshot. */
  entries: () => Iterable<ObjectEntry>;
  /** Told of each change once it is durable and applied. */
  announce: (change: IndexChange) => void;
}

export class IndexWriter {
  readonly #indexDir: string;
  readonly #options: IndexWriterOptions;
  #generation: number;
  #snapshotBytes: number;
  #journal: JournalWriter | null = null;
  /** Every journal append and the state change it records run one at a time, in journal order. */
  #serialTail: Promise<unknown> = Promise.resolve();
  #compactionQueued = false;
  #queuedRecords: QueuedRecords[] = [];
  #recordsDraining = false;

  constructor(indexDir: string, loaded: LoadedIndex, options: IndexWriterOptions) {
    this.#indexDir = indexDir;
    this.#options = options;
    this.#generation = loaded.generation;
    this.#snapshotBytes = loaded.snapshotBytes;
  }

  /** The generation of the snapshot and journal written to. */
  get generation(): number {
    return this.#generation;
  }

  /** At open: resumes the journal after its last whole record (a torn tail is cut), or starts one. */
  async open(loaded: LoadedIndex): Promise<void> {
    const journalPath = join(this.#indexDir, journalFileName(this.#generation));
    if (loaded.journalExists && loaded.journalEnd > 0) {
      this.#journal = await JournalWriter.resume(
        journalPath,
        this.#generation,
        loaded.journalEnd,
        loaded.journalLength,
      );
    } else {
      this.#journal = await JournalWriter.create(journalPath, this.#generation);
      await fsyncDirectory(this.#indexDir);
    }
  }

  /**
   * Appends `frames` durably, then applies the change to memory and announces it, in journal order.
   * Changes queued while an append is in progress share the next append and its one fdatasync (group
   * commit for object records too: a manifest of small objects is not one fsync per object).
   */
  commit(frames: Buffer[], apply: () => IndexChange[]): Promise<IndexChange[]> {
    return new Promise((resolve, reject) => {
      this.#queuedRecords.push({ frames, apply, resolve, reject });
      if (this.#recordsDraining) return;
      this.#recordsDraining = true;
      void this.#serial(() => this.#drainRecords());
    });
  }

  async #drainRecords(): Promise<void> {
    while (this.#queuedRecords.length > 0) {
      const group = this.#queuedRecords.splice(0);
      try {
        await this.#journal!.append(group.flatMap((queued) => queued.frames));
      } catch (err) {
        for (const queued of group) queued.reject(err);
        continue;
      }
      for (const queued of group) {
        try {
          const changes = queued.apply();
          for (const change of changes) this.#options.announce(change);
          queued.resolve(changes);
        } catch (err) {
          queued.reject(err);
        }
      }
      this.compactIfDue();
    }
    // Reset in the same tick as the emptiness check above, so no queued change is left without a drainer.
    this.#recordsDraining = false;
  }

  /** Queues a compaction when the journal has outgrown its threshold (after the appends queued before it). */
  compactIfDue(): void {
    const journal = this.#journal;
    if (journal === null || this.#compactionQueued) return;
    if (journal.size <= Math.max(this.#options.compactJournalBytes, this.#snapshotBytes)) return;
    this.#compactionQueued = true;
    this.#serial(() => this.#compact())
      .catch(() => {}) // a failed compaction leaves the old snapshot + journal, which are intact
      .finally(() => {
        this.#compactionQueued = false;
      });
  }

  /**
   * Folds the journal into a new snapshot: new empty journal (durable), snapshot of the same generation
   * (temp, fsync, rename, fsync dir), then the old journal goes. A crash anywhere leaves either the old
   * snapshot + old journal or the new snapshot + new journal; open deletes the other files.
   */
  async #compact(): Promise<void> {
    const next = this.#generation + 1;
    const journal = await JournalWriter.create(join(this.#indexDir, journalFileName(next)), next);
    try {
      await fsyncDirectory(this.#indexDir);
      this.#snapshotBytes = await writeSnapshot(this.#indexDir, this.#options.entries(), next);
    } catch (err) {
      await journal.close();
      await unlink(journal.path).catch(() => {});
      throw err;
    }
    const old = this.#journal!;
    this.#journal = journal;
    this.#generation = next;
    await old.close();
    await unlink(old.path).catch(() => {});
  }

  /** After the appends and compaction in progress: closes the journal. */
  async close(): Promise<void> {
    await this.#serial(async () => {});
    await this.#journal?.close();
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#serialTail.then(task, task);
    this.#serialTail = run.catch(() => {});
    return run;
  }
}
