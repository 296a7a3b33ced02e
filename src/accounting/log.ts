// The accounting log: records are queued in memory by the serving code (a push, nothing else on its path)
// and written by a timer every FLUSH_MS, each batch appended and fdatasync'ed: a kill -9 loses at most the
// records of the last second, and the sequence numbers of a run show where it stopped (a run without its
// `stop` record ended abruptly). Files are rotated by size and age: the current one is
// <dir>/accounting.jsonl; a full one becomes accounting-<start time>-<run>.jsonl.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fromSystemError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { type AccountingRecord, dateTime, type RecordInput } from './record.ts';

/** Records are written at least this often: durable within a second. */
export const FLUSH_MS = 250;
export const CURRENT_FILE = 'accounting.jsonl';

export interface AccountingLogOptions {
  dir: string;
  /** Who writes: the agent's id (its peer id, or a name). */
  agent: string;
  /** Rotate when the file holds this many bytes; default 64 MiB. */
  rotateBytes?: number;
  /** Rotate when the file is this old; default 1 h. */
  rotateMs?: number;
  logger?: Logger;
}

export class AccountingLog {
  readonly run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  readonly #options: Required<Omit<AccountingLogOptions, 'logger'>>;
  readonly #logger: Logger;
  /** Records to write: sequence number, time, and the fields or what makes them (at write time). */
  #queue: Array<{ seq: number; at: number; input: RecordInput | (() => RecordInput) }> = [];
  #seq = 0;
  #file: FileHandle | null = null;
  #fileBytes = 0;
  #fileOpenedAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> = Promise.resolve();
  #failed = false;
  /** Records written (durable) so far, and records lost to a failed write. */
  written = 0;
  lost = 0;
  /** Told of each batch once it is durable: its lines and the seq of the first (the admin API's stream). */
  readonly #followers = new Set<(lines: string, firstSeq: number) => void>();

  private constructor(options: AccountingLogOptions) {
    this.#options = {
      dir: options.dir,
      agent: options.agent,
      rotateBytes: options.rotateBytes ?? 64 * 1024 * 1024,
      rotateMs: options.rotateMs ?? 3_600_000,
    };
    this.#logger = options.logger ?? silentLogger;
  }

  static async open(options: AccountingLogOptions): Promise<AccountingLog> {
    const log = new AccountingLog(options);
    try {
      await mkdir(options.dir, { recursive: true });
      await log.#openFile();
    } catch (err) {
      throw fromSystemError(err, options.dir);
    }
    log.add({ type: 'start' });
    log.#timer = setInterval(() => log.#flushSoon(), FLUSH_MS);
    log.#timer.unref();
    return log;
  }

  /**
   * Queues one record, numbered and timed now; it is written within FLUSH_MS. `input` may be a function
   * making the fields: it is called at write time, off the serving path.
   */
  add(input: RecordInput | (() => RecordInput)): void {
    this.#seq += 1;
    this.#queue.push({ seq: this.#seq, at: Date.now(), input });
  }

  /** Writes what is queued now; resolves once it is durable. */
  flush(): Promise<void> {
    this.#flushSoon();
    return this.#writing;
  }

  /** The `stop` record (naming the run's last seq), written with the rest; the file closed. */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.add({ type: 'stop', 'last-seq': this.#seq + 1 });
    await this.flush();
    await this.#file?.close();
    this.#file = null;
  }

  get dir(): string {
    return this.#options.dir;
  }

  /** Calls `listener` with every batch written from now on (lines as on disk, seqs consecutive); returns the unfollow. */
  follow(listener: (lines: string, firstSeq: number) => void): () => void {
    this.#followers.add(listener);
    return () => this.#followers.delete(listener);
  }

  /** Records written, lost, and waiting for the next write. */
  counters(): { written: number; lost: number; queued: number } {
    return { written: this.written, lost: this.lost, queued: this.#queue.length };
  }

  #flushSoon(): void {
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#writing = this.#writing.then(() => this.#write(batch));
  }

  async #write(batch: Array<{ seq: number; at: number; input: RecordInput | (() => RecordInput) }>): Promise<void> {
    let text = '';
    for (const { seq, at, input } of batch) {
      const fields = typeof input === 'function' ? input() : input;
      const { date, time } = dateTime(at);
      const record: AccountingRecord = {
        seq,
        run: this.run,
        agent: this.#options.agent,
        type: fields.type,
        date,
        time,
      };
      text += `${JSON.stringify(Object.assign(record, fields))}\n`;
    }
    try {
      if (
        this.#fileBytes > 0 &&
        (this.#fileBytes >= this.#options.rotateBytes || Date.now() - this.#fileOpenedAt >= this.#options.rotateMs)
      ) {
        await this.#rotate();
      }
      const file = this.#file;
      if (file === null) return;
      await file.write(text);
      await file.datasync();
      this.#fileBytes += Buffer.byteLength(text);
      this.written += batch.length;
      this.#failed = false;
      if (this.#followers.size > 0) for (const follower of this.#followers) follower(text, batch[0]!.seq);
    } catch (err) {
      // Lost records leave a gap in the sequence numbers; say so once per run of failures.
      this.lost += batch.length;
      if (!this.#failed) {
        this.#logger.error(
          { dir: this.#options.dir, error: (err as Error).message, records: batch.length },
          'accounting: writing records failed; they are lost (the sequence numbers show the gap)',
        );
      }
      this.#failed = true;
    }
  }

  async #openFile(): Promise<void> {
    const path = join(this.#options.dir, CURRENT_FILE);
    this.#file = await open(path, 'a', 0o640);
    this.#fileBytes = (await stat(path)).size;
    this.#fileOpenedAt = Date.now();
  }

  async #rotate(): Promise<void> {
    await this.#file?.close();
    this.#file = null;
    const stamp = new Date(this.#fileOpenedAt).toISOString().replace(/[:.]/g, '');
    await rename(
      join(this.#options.dir, CURRENT_FILE),
      join(this.#options.dir, `accounting-${stamp}-${this.run}.jsonl`),
    );
    await this.#openFile();
  }
}
