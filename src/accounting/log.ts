// The accounting log. The serving thread only numbers a record, stamps its time and puts its plain data in
// a ring in shared memory (ring.ts: numbers, the Range, and slot numbers for the strings a response shares
// with the last few: ~90 B and ~80 ns a record); a writer thread (writer.ts, workers/accounting-writer.ts) makes the lines, appends them
// every FLUSH_MS and fdatasyncs them: a kill -9 loses at most the records of the last second, and the
// sequence numbers of a run show where it stopped (a run without its `stop` record ended abruptly). A
// record that finds the ring full (the writer stalled for seconds) is lost and counted; its seq is the gap.
// Files are rotated by size and age: the current one is <dir>/accounting.jsonl; a full one becomes
// accounting-<start time>-<run>.jsonl.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { fromSystemError } from '../errors/index.ts';
import type { ResponseEntry } from '../http/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import type { RecordInput, RecordType } from './record.ts';
import { FOLLOWED, type RingMemory, RingWriter, ringMemory } from './ring.ts';
import type { LogMessage, WriterMessage, WriterSettings } from './writer.ts';

export { CURRENT_FILE, FLUSH_MS } from './writer.ts';

/**
 * Shared memory for records on their way to the writer (~90 B each when their strings are in slots, ~400 B
 * when each brings a new target: 40,000 to 180,000 records, one to four seconds of 40,000 responses a
 * second, for an fdatasync that stalls the writer; it reads the ring every 20 ms otherwise).
 */
const RING_BYTES = 16 * 1024 * 1024;

export interface AccountingLogOptions {
  dir: string;
  /** Who writes: the agent's id (its peer id, or a name). */
  agent: string;
  /** Rotate when the file holds this many bytes; default 64 MiB. */
  rotateBytes?: number;
  /** Rotate when the file is this old; default 1 h. */
  rotateMs?: number;
  /** Shared memory for records on their way to the writer; default 32 MiB. */
  ringBytes?: number;
  logger?: Logger;
}

/** The writer's entry next to this module's tree: .ts when running from sources, .js from dist/. */
function writerUrl(): URL {
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`../../workers/accounting-writer${extension}`, import.meta.url);
}

export class AccountingLog {
  /** This run's id: in every record, and the name of its set-aside files. */
  readonly run: string;
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #worker: Worker;
  readonly #ring: RingWriter;
  readonly #control: Int32Array;
  #seq = 0;
  /** Records written (durable) so far, and records lost (a failed write, or a full ring). */
  written = 0;
  lost = 0;
  #failed = false;
  #ringFull = false;
  #closed = false;
  #nextCall = 0;
  /** Date.now() - performance.now(), read every second (the wall clock may be stepped). */
  #wallOffset = Date.now() - performance.now();
  readonly #wallTimer = setInterval(() => {
    this.#wallOffset = Date.now() - performance.now();
  }, 1000).unref();
  readonly #calls = new Map<number, () => void>();
  /** Told of each batch once it is durable: its lines and the seq of the first (the admin API's stream). */
  readonly #followers = new Set<(lines: string, firstSeq: number) => void>();

  private constructor(run: string, options: AccountingLogOptions, worker: Worker, memory: RingMemory) {
    this.run = run;
    this.#dir = options.dir;
    this.#logger = options.logger ?? silentLogger;
    this.#worker = worker;
    this.#ring = new RingWriter(memory);
    this.#control = new Int32Array(memory.control);
  }

  static async open(options: AccountingLogOptions): Promise<AccountingLog> {
    try {
      await mkdir(options.dir, { recursive: true });
    } catch (err) {
      throw fromSystemError(err, options.dir);
    }
    const memory = ringMemory(options.ringBytes ?? RING_BYTES);
    const run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const settings: WriterSettings = {
      dir: options.dir,
      run,
      agent: options.agent,
      rotateBytes: options.rotateBytes ?? 64 * 1024 * 1024,
      rotateMs: options.rotateMs ?? 3_600_000,
      ring: memory,
    };
    const worker = new Worker(writerUrl(), { workerData: settings, name: 'accounting writer' });
    const first = await new Promise<WriterMessage>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    if (first.kind === 'open-failed') {
      await worker.terminate();
      throw fromSystemError(Object.assign(new Error(first.message), { code: first.code }), options.dir);
    }
    const log = new AccountingLog(run, options, worker, memory);
    worker.on('message', (message: WriterMessage) => log.#heard(message));
    worker.on('error', (err) => log.#logger.error({ err }, 'accounting: the writer thread failed'));
    // A writer that is gone answers nothing more: whoever waits for a flush is let go.
    worker.on('exit', () => {
      for (const resolve of log.#calls.values()) resolve();
      log.#calls.clear();
    });
    // The process may exit while records wait, as it did with a timer: a kill loses at most the last second.
    worker.unref();
    log.add({ type: 'start' });
    return log;
  }

  /** Queues one record, numbered and timed now; it is written within FLUSH_MS. */
  add(input: RecordInput): void {
    const { type, ...fields } = input;
    const rest = JSON.stringify(fields);
    this.#line(type, rest.length > 2 ? rest.slice(1, -1) : '');
  }

  /**
   * The serving path's add: one HTTP response as it ended, numbered and timed by its end (`endedAt`, on
   * performance.now()'s clock, put on the wall clock by an offset read every second: a clock read here
   * cost a third of the rest), or now.
   */
  addHttp(entry: ResponseEntry): void {
    this.#seq += 1;
    const at = entry.endedAt === undefined ? Date.now() : Math.floor(entry.endedAt + this.#wallOffset);
    if (!this.#ring.http(this.#seq, at, entry)) this.#dropped();
  }

  /** Writes what is queued now; resolves once it is durable. */
  flush(): Promise<void> {
    return this.#call('flush');
  }

  /** The `stop` record (naming the run's last seq), written with the rest; the writer stopped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The ring emptied first: the `stop` record must not find it full.
    await this.#call('flush');
    this.add({ type: 'stop', 'last-seq': this.#seq + 1 });
    clearInterval(this.#wallTimer);
    await this.#call('close');
    await this.#worker.terminate();
  }

  get dir(): string {
    return this.#dir;
  }

  /** Calls `listener` with every batch written from now on (lines as on disk, seqs consecutive); returns the unfollow. */
  follow(listener: (lines: string, firstSeq: number) => void): () => void {
    this.#followers.add(listener);
    Atomics.store(this.#control, FOLLOWED, 1);
    return () => {
      this.#followers.delete(listener);
      if (this.#followers.size === 0) Atomics.store(this.#control, FOLLOWED, 0);
    };
  }

  /** Records written, lost, and waiting for the next write. */
  counters(): { written: number; lost: number; queued: number } {
    return { written: this.written, lost: this.lost, queued: Math.max(0, this.#seq - this.written - this.lost) };
  }

  #line(type: RecordType, members: string): void {
    this.#seq += 1;
    if (!this.#ring.line(this.#seq, Date.now(), type, members)) this.#dropped();
  }

  #dropped(): void {
    this.lost += 1;
    if (!this.#ringFull) {
      this.#ringFull = true;
      this.#logger.error(
        { dir: this.#dir },
        'accounting: the writer is behind and records are lost (the sequence numbers show the gap)',
      );
      setTimeout(() => {
        this.#ringFull = false;
      }, 10_000).unref();
    }
  }

  #call(kind: LogMessage['kind']): Promise<void> {
    const id = ++this.#nextCall;
    // Held open while an answer is awaited (the worker is unref'd otherwise).
    this.#worker.ref();
    return new Promise<void>((resolve) => {
      this.#calls.set(id, resolve);
      this.#worker.postMessage({ kind, id } satisfies LogMessage);
    });
  }

  #heard(message: WriterMessage): void {
    if (message.kind === 'done') {
      this.#calls.get(message.id)?.();
      this.#calls.delete(message.id);
      if (this.#calls.size === 0) this.#worker.unref();
      return;
    }
    if (message.kind !== 'batch') return;
    this.written += message.written;
    this.lost += message.lost;
    if (message.error !== undefined) {
      // Lost records leave a gap in the sequence numbers; said once per run of failures.
      if (!this.#failed) {
        this.#logger.error(
          { dir: this.#dir, error: message.error, records: message.lost },
          'accounting: writing records failed; they are lost (the sequence numbers show the gap)',
        );
      }
      this.#failed = true;
      return;
    }
    this.#failed = false;
    for (const run of message.runs ?? []) this.#tellFollowers(run.text, run.firstSeq);
  }

  /** A follower that throws is logged and dropped; the others are told, and the records stay written. */
  #tellFollowers(lines: string, firstSeq: number): void {
    for (const follower of this.#followers) {
      try {
        follower(lines, firstSeq);
      } catch (err) {
        this.#followers.delete(follower);
        if (this.#followers.size === 0) Atomics.store(this.#control, FOLLOWED, 0);
        this.#logger.warn(
          { error: (err as Error).message },
          'accounting: a follower of the records failed; it is dropped (the records are written)',
        );
      }
    }
  }
}
