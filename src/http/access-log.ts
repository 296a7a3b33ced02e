// The HTTP access log: one line per response in nginx's and Apache's "combined" format, which log tools
// (goaccess, awstats, CDN log pipelines) read as they are. Lines are buffered and written a batch at a time,
// off the request path; reopen() starts a new file after logrotate moved the old one (the agent does it on
// SIGHUP, as nginx does on USR1).
import { closeSync, openSync, write } from 'node:fs';
import { fromSystemError } from '../errors/index.ts';

export interface AccessLogEntry {
  remoteAddress: string | undefined;
  method: string;
  target: string;
  /** 0 or 1 (HTTP/1.0 or 1.1); null when the request could not be parsed. */
  minorVersion: 0 | 1 | null;
  status: number;
  bodyBytes: number;
  referer: string | undefined;
  userAgent: string | undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** A batch is written once this much is waiting, else at the next flush tick. */
const FLUSH_BYTES = 64 * 1024;
const FLUSH_EVERY_MS = 200;
/** Lines waiting beyond this (a disk that stopped taking writes) are dropped and counted, not kept. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

let timeSecond = -1;
let timeText = '';
/** `[22/Nov/2026:07:40:00 +0000]`: nginx's $time_local, in UTC; formatted once a second. */
function logTime(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== timeSecond) {
    timeSecond = second;
    const d = new Date(second * 1000);
    const two = (n: number) => String(n).padStart(2, '0');
    timeText = `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
  }
  return timeText;
}

/** A field value as nginx escapes it: `"` and `\`, controls and bytes above 0x7e as \xHH. */
function escaped(value: string): string {
  return value.replace(/["\\\x00-\x1f\x7f-\xff]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One line of the combined format: `addr - - [time] "request" status bytes "referer" "user-agent"`. */
export function formatAccessLine(entry: AccessLogEntry, now = Date.now()): string {
  const request =
    entry.minorVersion === null ? '-' : `${entry.method} ${escaped(entry.target)} HTTP/1.${entry.minorVersion}`;
  const referer = entry.referer === undefined ? '-' : escaped(entry.referer);
  const userAgent = entry.userAgent === undefined ? '-' : escaped(entry.userAgent);
  return `${entry.remoteAddress ?? '-'} - - ${logTime(now)} "${request}" ${entry.status} ${entry.bodyBytes} "${referer}" "${userAgent}"\n`;
}

export class AccessLog {
  readonly path: string;
  readonly #onError: (err: Error) => void;
  #fd: number;
  #pending: string[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | null = null;
  #writing = false;
  /** Descriptors replaced by reopen() while a batch was being written to them: closed after it. */
  #closeAfterBatch: number[] = [];
  /** close() waiting for the batch in flight. */
  #batchDone: Array<() => void> = [];
  #failing = false;
  #closed = false;
  /** Lines dropped because the file did not take them fast enough (MAX_PENDING_BYTES waiting). */
  dropped = 0;

  /**
   * Opens (appends to) the file; a path that cannot be opened throws the system error naming it.
   * `onError` hears of the first failed write of a run of them (a full disk), not of every batch.
   */
  constructor(path: string, onError: (err: Error) => void = () => {}) {
    this.path = path;
    this.#onError = onError;
    this.#fd = openLog(path);
  }

  add(entry: AccessLogEntry): void {
    if (this.#closed) return;
    if (this.#pendingBytes > MAX_PENDING_BYTES) {
      this.dropped += 1;
      return;
    }
    const line = formatAccessLine(entry);
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (this.#pendingBytes >= FLUSH_BYTES) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), FLUSH_EVERY_MS).unref();
  }

  /** Starts a new file at `path` (after logrotate renamed the old one); what is pending goes to the new one. */
  reopen(): void {
    if (this.#closed) return;
    const old = this.#fd;
    this.#fd = openLog(this.path);
    if (this.#writing) this.#closeAfterBatch.push(old);
    else closeSync(old);
  }

  /** Writes what is pending and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#writing || this.#pending.length > 0) {
      if (!this.#writing) this.#flush();
      await new Promise<void>((resolve) => this.#batchDone.push(resolve));
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    closeSync(this.#fd);
  }

  #flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#writing || this.#pending.length === 0) return;
    const batch = Buffer.from(this.#pending.join(''), 'latin1');
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#writing = true;
    this.#writeAll(this.#fd, batch, 0);
  }

  #writeAll(fd: number, batch: Buffer, from: number): void {
    write(fd, batch, from, batch.length - from, null, (err, written) => {
      if (err === null && from + written < batch.length) {
        this.#writeAll(fd, batch, from + written);
        return;
      }
      if (err !== null && !this.#failing) this.#onError(err);
      this.#failing = err !== null;
      this.#writing = false;
      for (const old of this.#closeAfterBatch.splice(0)) closeSync(old);
      for (const resolve of this.#batchDone.splice(0)) resolve();
      if (this.#pending.length > 0) {
        if (this.#pendingBytes >= FLUSH_BYTES || this.#closed) this.#flush();
        else this.#timer ??= setTimeout(() => this.#flush(), FLUSH_EVERY_MS).unref();
      }
    });
  }
}

function openLog(path: string): number {
  try {
    return openSync(path, 'a', 0o640);
  } catch (err) {
    throw fromSystemError(err, path);
  }
}
