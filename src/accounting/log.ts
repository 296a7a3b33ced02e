// The accounting log: each record becomes its JSON line when it is added (a string, not an object kept
// for later: a quarter second of kept objects outlives the young generation and costs more in GC than the
// line costs to build), and a timer writes the lines every FLUSH_MS, each batch appended and fdatasync'ed:
// a kill -9 loses at most the records of the last second, and the sequence numbers of a run show where it stopped (a run without its
// `stop` record ended abruptly). Files are rotated by size and age: the current one is
// <dir>/accounting.jsonl; a full one becomes accounting-<start time>-<run>.jsonl.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fromSystemError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { LineBuffers, type TakenLines } from './line-buffers.ts';
import { DateTimeFields, type RecordInput, type RecordType } from './record.ts';

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
  /** Lines to write, each ending in a newline. */
  readonly #queue = new LineBuffers();
  #seq = 0;
  /** `"run":..,"agent":..,` as every line has them. */
  readonly #runAgent: string;
  readonly #clock = new DateTimeFields();
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
    this.#runAgent = `"run":${JSON.stringify(this.run)},"agent":${JSON.stringify(options.agent)},`;
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

  /** Queues one record, numbered and timed now; it is written within FLUSH_MS. */
  add(input: RecordInput): void {
    const { type, ...fields } = input;
    const rest = JSON.stringify(fields);
    this.addLine(type, rest.length > 2 ? rest.slice(1, -1) : '');
  }

  /**
   * The serving path's add: `members` are the record's fields after the common ones, as JSON object members
   * without braces (`"c-ip":"::1","sc-status":200`), every string in them already escaped.
   */
  addLine(type: RecordType, members: string): void {
    this.#seq += 1;
    const head = `{"seq":${this.#seq},${this.#runAgent}"type":"${type}",${this.#clock.at(Date.now())}`;
    this.#queue.push(members === '' ? `${head}}\n` : `${head},${members}}\n`);
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
    return { written: this.written, lost: this.lost, queued: this.#queue.lines };
  }

  #flushSoon(): void {
    if (this.#queue.lines === 0) return;
    // The lines queued since the last take are the last ones numbered.
    const firstSeq = this.#seq - this.#queue.lines + 1;
    const batch = this.#queue.take();
    this.#writing = this.#writing.then(() => this.#write(batch, firstSeq));
  }

  async #write(batch: TakenLines, firstSeq: number): Promise<void> {
    let durable: string | null = null;
    try {
      if (
        this.#fileBytes > 0 &&
        (this.#fileBytes >= this.#options.rotateBytes || Date.now() - this.#fileOpenedAt >= this.#options.rotateMs)
      ) {
        await this.#rotate();
      }
      const file = this.#file;
      if (file === null) return;
      await writeAll(file, batch.buffers);
      await file.datasync();
      this.#fileBytes += batch.bytes;
      this.written += batch.lines;
      this.#failed = false;
      // Read before the buffers go back for reuse; told only after the try: the records are durable now,
      // whatever a follower does.
      if (this.#followers.size > 0) durable = Buffer.concat(batch.buffers).toString('utf8');
    } catch (err) {
      // Lost records leave a gap in the sequence numbers; say so once per run of failures.
      this.lost += batch.lines;
      if (!this.#failed) {
        this.#logger.error(
          { dir: this.#options.dir, error: (err as Error).message, records: batch.lines },
          'accounting: writing records failed; they are lost (the sequence numbers show the gap)',
        );
      }
      this.#failed = true;
    } finally {
      this.#queue.release(batch.buffers);
    }
    if (durable !== null) this.#tellFollowers(durable, firstSeq);
  }

  /** A follower that throws is logged and dropped; the others are told, and the records stay written. */
  #tellFollowers(lines: string, firstSeq: number): void {
    for (const follower of this.#followers) {
      try {
        follower(lines, firstSeq);
      } catch (err) {
        this.#followers.delete(follower);
        this.#logger.warn(
          { error: (err as Error).message },
          'accounting: a follower of the records failed; it is dropped (the records are written)',
        );
      }
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

/** writev until every byte is written: a short write (a full disk, a signal) goes on from where it stopped. */
async function writeAll(file: FileHandle, buffers: Buffer[]): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    const { bytesWritten } = await file.writev(rest);
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const buffer of rest) {
      if (skip >= buffer.length) skip -= buffer.length;
      else {
        next.push(skip === 0 ? buffer : buffer.subarray(skip));
        skip = 0;
      }
    }
    if (bytesWritten === 0 && next.length > 0) throw new Error('the file took no bytes');
    rest = next;
  }
}
