// The accounting log's writer, run on its own thread (workers/accounting-writer.ts): every FLUSH_MS it reads
// the records the serving thread put in the ring (ring.ts), makes their JSON lines (format.ts), appends them
// to the current file, rotating by size and age, and fdatasyncs it at most every SYNC_MS (and when the log
// asks: flush, close): each record is durable within a second. A kill -9 loses at most what the ring and
// this thread held: the records of the last FLUSH_MS plus one write. The thread has nothing else to do, so
// its file calls are synchronous. It tells the log of each batch once durable (or lost), with the lines
// themselves while someone follows the records (the admin API's stream).
import { closeSync, fdatasyncSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { HttpLineFormatter } from './format.ts';
import { LineBuffers, type TakenLines } from './line-buffers.ts';
import { DateTimeFields, fileHeaderLine, httpLineMembers, type RecordType, wholeLines } from './record.ts';
import { type HttpRecordView, type RingMemory, RingReader } from './ring.ts';

export const CURRENT_FILE = 'accounting.jsonl';
/** Records are written at least this often. */
export const FLUSH_MS = 250;
/**
 * The file is synced at most this often: a record written at one FLUSH_MS tick is synced by the third after
 * it, within a second of its response. An fdatasync per write was a third of the writer's CPU (the kernel
 * submits the dirty pages in the caller's time).
 */
export const SYNC_MS = 750;
/** The ring is read this often, between writes. */
const DRAIN_MS = 20;
/**
 * Lines held past this many bytes are written at the next read, before FLUSH_MS: a quarter second of a
 * busy server's lines took more chunks than are kept for reuse, and fresh memory's first touch (the
 * kernel's, and on VMs the host's) cost more than making the lines.
 */
export const WRITE_AT_BYTES = 2 * 1024 * 1024;

export interface WriterSettings {
  dir: string;
  run: string;
  agent: string;
  rotateBytes: number;
  rotateMs: number;
  ring: RingMemory;
}

/** A run of consecutive records written, as on disk (for followers). */
export interface WrittenLines {
  firstSeq: number;
  text: string;
}

export type WriterMessage =
  | { kind: 'ready' }
  | { kind: 'open-failed'; code: string | undefined; message: string }
  | { kind: 'batch'; written: number; lost: number; error?: string; runs?: WrittenLines[] }
  | { kind: 'done'; id: number };

export type LogMessage = { kind: 'flush'; id: number } | { kind: 'close'; id: number };

export class AccountingWriter {
  readonly #settings: WriterSettings;
  readonly #ring: RingReader;
  readonly #queue = new LineBuffers();
  readonly #clock = new DateTimeFields();
  readonly #http: HttpLineFormatter;
  /** `"run":..,"agent":..,` as every line but an HTTP record's has them. */
  readonly #runAgent: string;
  /** What an HTTP record's line leaves out, put back in the lines followers hear. */
  readonly #httpMembers: string;
  #fd: number | null = null;
  #fileBytes = 0;
  #fileOpenedAt = 0;
  /** Runs of consecutive seqs among the lines held: where each starts and how many lines. */
  #runs: Array<{ firstSeq: number; lines: number }> = [];
  #lastSeq = -1;
  /** Lines written since the last sync, and their text while followed. */
  #unsyncedLines = 0;
  #unsyncedRuns: WrittenLines[] = [];
  #syncedAt = 0;

  constructor(settings: WriterSettings) {
    this.#settings = settings;
    this.#ring = new RingReader(settings.ring);
    this.#runAgent = `"run":${JSON.stringify(settings.run)},"agent":${JSON.stringify(settings.agent)},`;
    this.#httpMembers = httpLineMembers(settings.run, settings.agent);
    this.#http = new HttpLineFormatter();
  }

  /** Opens the current file; throws the system error. */
  open(): void {
    mkdirSync(this.#settings.dir, { recursive: true });
    this.#openFile();
  }

  /** Reads what the ring holds into the lines to write (the ring's room is free again at once). */
  drain(): void {
    this.#ring.drain(
      (record) => this.#addHttp(record),
      (seq, at, type, members) => this.#add(seq, at, type, members),
    );
  }

  /** Bytes of lines held, not yet written. */
  get heldBytes(): number {
    return this.#queue.bytes;
  }

  /**
   * Reads the ring and writes every line held; syncs when SYNC_MS passed since the last sync, or `sync`.
   * The outcome of the lines written since the last sync once they are durable (or of lines lost), or null.
   */
  writeBatch(sync = false): Extract<WriterMessage, { kind: 'batch' }> | null {
    this.drain();
    const failed = this.writeHeld();
    if (failed !== null) return failed;
    if (this.#unsyncedLines === 0) return null;
    if (!sync && Date.now() - this.#syncedAt < SYNC_MS) return null;
    const written = this.#unsyncedLines;
    const runs = this.#unsyncedRuns;
    this.#unsyncedLines = 0;
    this.#unsyncedRuns = [];
    try {
      fdatasyncSync(this.#fd as number);
    } catch (err) {
      return { kind: 'batch', written: 0, lost: written, error: (err as Error).message };
    }
    this.#syncedAt = Date.now();
    return runs.length === 0 ? { kind: 'batch', written, lost: 0 } : { kind: 'batch', written, lost: 0, runs };
  }

  /** Writes the lines held (not synced yet); the outcome if they were lost, else null. */
  writeHeld(): Extract<WriterMessage, { kind: 'batch' }> | null {
    if (this.#queue.lines === 0) return null;
    const batch = this.#queue.take();
    const runs = this.#runs;
    this.#runs = [];
    try {
      this.#write(batch);
      this.#unsyncedLines += batch.lines;
      // Asked after the write: a follower that came before it hears these lines (once synced), one that
      // came after finds them in the file.
      if (this.#ring.followed) this.#unsyncedRuns.push(...splitRuns(batch.buffers, runs, this.#httpMembers));
      return null;
    } catch (err) {
      return { kind: 'batch', written: 0, lost: batch.lines, error: (err as Error).message };
    } finally {
      this.#queue.release(batch.buffers);
    }
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  #addHttp(record: HttpRecordView): void {
    this.#http.write(record, this.#queue);
    this.#noteSeq(record.seq);
  }

  #add(seq: number, at: number, type: RecordType, members: string): void {
    const head = `{"seq":${seq},${this.#runAgent}"type":"${type}",${this.#clock.at(at)}`;
    this.#queue.push(members === '' ? `${head}}\n` : `${head},${members}}\n`);
    this.#noteSeq(seq);
  }

  #noteSeq(seq: number): void {
    // Runs of consecutive seqs (a record dropped on a full ring breaks a run), for followers.
    const last = this.#runs.at(-1);
    if (last !== undefined && seq === this.#lastSeq + 1) last.lines += 1;
    else this.#runs.push({ firstSeq: seq, lines: 1 });
    this.#lastSeq = seq;
  }

  #write(batch: TakenLines): void {
    const { rotateBytes, rotateMs } = this.#settings;
    if (this.#fileBytes > 0 && (this.#fileBytes >= rotateBytes || Date.now() - this.#fileOpenedAt >= rotateMs)) {
      this.#rotate();
    }
    if (this.#fd === null) this.#openFile();
    const fd = this.#fd as number;
    writeAll(fd, batch.buffers);
    this.#fileBytes += batch.bytes;
  }

  /**
   * Opens the current file to append. One that holds lines already (another run's, or this run's after a
   * rotation) gets a header line naming this run first, for the HTTP lines that leave it out (record.ts),
   * after a line break when its last line was cut short (a kill -9 mid-write).
   */
  #openFile(rotated = false): void {
    // a+: appends, and reads the last byte.
    const fd = openSync(join(this.#settings.dir, CURRENT_FILE), 'a+', 0o640);
    this.#fd = fd;
    this.#fileBytes = fstatSync(fd).size;
    this.#fileOpenedAt = Date.now();
    if (this.#fileBytes === 0 && !rotated) return;
    const last = Buffer.alloc(1);
    const cut = this.#fileBytes > 0 && readSync(fd, last, 0, 1, this.#fileBytes - 1) === 1 && last[0] !== 10;
    const header = Buffer.from(`${cut ? '\n' : ''}${fileHeaderLine(this.#settings.run, this.#settings.agent)}`);
    writeAll(fd, [header]);
    this.#fileBytes += header.length;
  }

  #rotate(): void {
    // What was written to it since the last sync is synced before it is set aside.
    if (this.#fd !== null && this.#unsyncedLines > 0) fdatasyncSync(this.#fd);
    this.close();
    const { dir, run } = this.#settings;
    const stamp = new Date(this.#fileOpenedAt).toISOString().replace(/[:.]/g, '');
    renameSync(join(dir, CURRENT_FILE), join(dir, `accounting-${stamp}-${run}.jsonl`));
    this.#openFile(true);
  }
}

/** The lines of a batch, whole (HTTP lines with `httpMembers` put back), cut into its runs of consecutive seqs. */
function splitRuns(
  buffers: Buffer[],
  runs: ReadonlyArray<{ firstSeq: number; lines: number }>,
  httpMembers: string,
): WrittenLines[] {
  const text = wholeLines(Buffer.concat(buffers).toString('utf8'), httpMembers);
  const out: WrittenLines[] = [];
  let start = 0;
  for (const run of runs) {
    let end = start;
    for (let line = 0; line < run.lines; line += 1) end = text.indexOf('\n', end) + 1;
    out.push({ firstSeq: run.firstSeq, text: text.slice(start, end) });
    start = end;
  }
  return out;
}

/** writev until every byte is written: a short write (a full disk, a signal) goes on from where it stopped. */
function writeAll(fd: number, buffers: Buffer[]): void {
  let rest = buffers;
  while (rest.length > 0) {
    const written = writevSync(fd, rest);
    let skip = written;
    const next: Buffer[] = [];
    for (const buffer of rest) {
      if (skip >= buffer.length) skip -= buffer.length;
      else {
        next.push(skip === 0 ? buffer : buffer.subarray(skip));
        skip = 0;
      }
    }
    if (written === 0 && next.length > 0) throw new Error('the file took no bytes');
    rest = next;
  }
}

/** The thread's loop: a batch every FLUSH_MS, and at once when the log asks (flush, close). */
export function runWriter(
  settings: WriterSettings,
  port: { postMessage(message: WriterMessage): void; on(event: 'message', listener: (m: LogMessage) => void): void },
): { stop(): void } {
  const writer = new AccountingWriter(settings);
  try {
    writer.open();
  } catch (err) {
    port.postMessage({
      kind: 'open-failed',
      code: (err as NodeJS.ErrnoException).code,
      message: (err as Error).message,
    });
    return { stop() {} };
  }
  const tick = (sync = false): void => {
    const outcome = writer.writeBatch(sync);
    if (outcome !== null) port.postMessage(outcome);
  };
  const timer = setInterval(() => tick(), FLUSH_MS);
  // Read more often than written: the ring's room comes back soon, and it can stay small enough to keep
  // in the CPUs' caches.
  const reader = setInterval(() => {
    writer.drain();
    if (writer.heldBytes < WRITE_AT_BYTES) return;
    const lost = writer.writeHeld();
    if (lost !== null) port.postMessage(lost);
  }, DRAIN_MS);
  port.on('message', (message) => {
    tick(true);
    if (message.kind === 'close') {
      clearInterval(timer);
      clearInterval(reader);
      writer.close();
    }
    port.postMessage({ kind: 'done', id: message.id });
  });
  port.postMessage({ kind: 'ready' });
  return {
    stop() {
      clearInterval(timer);
      clearInterval(reader);
      writer.close();
    },
  };
}
