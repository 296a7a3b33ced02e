import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import pino, { type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface CapturedLog {
  /** A real pino logger writing JSON lines into `lines`. */
  logger: Logger;
  lines: LogLine[];
  /** The bytes pino wrote. */
  bytes(): number;
  /** Resolves with the first line (already written or to come) that `matches`. */
  waitFor(matches: (line: LogLine) => boolean): Promise<LogLine>;
}

/** pino as the agent builds it, writing to a stream the test reads instead of stderr. */
export function captureLog(level = 'debug'): CapturedLog {
  const lines: LogLine[] = [];
  const written = new EventEmitter<{ line: [LogLine] }>();
  let bytes = 0;
  const stream = {
    write(chunk: string) {
      bytes += Buffer.byteLength(chunk);
      const line = JSON.parse(chunk) as LogLine;
      lines.push(line);
      written.emit('line', line);
    },
  };
  return {
    logger: pino({ level }, stream),
    lines,
    bytes: () => bytes,
    waitFor(matches) {
      const seen = lines.find(matches);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => {
        const listener = (line: LogLine) => {
          if (!matches(line)) return;
          written.off('line', listener);
          resolve(line);
        };
        written.on('line', listener);
      });
    },
  };
}

export interface FollowedLog {
  /** The JSON lines read so far (other lines are skipped). */
  lines: Array<LogLine & { time: number }>;
  /** Resolves with the first line (read or to come) that matches; rejects after timeoutMs, naming `what`. */
  waitFor(
    matches: (line: LogLine & { time: number }) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<LogLine & { time: number }>;
}

/** A child process's JSON log lines (its stderr, as the agent writes them), to wait on. */
export function followLogLines(stream: NodeJS.ReadableStream, who = 'the process'): FollowedLog {
  const lines: Array<LogLine & { time: number }> = [];
  const waiters = new Set<() => void>();
  createInterface({ input: stream }).on('line', (text) => {
    if (!text.startsWith('{')) return;
    lines.push(JSON.parse(text) as LogLine & { time: number });
    for (const wake of [...waiters]) wake();
  });
  return {
    lines,
    waitFor: (matches, what, timeoutMs = 60_000) =>
      waitForItem(lines, waiters, matches, timeoutMs, () => {
        const last = lines
          .slice(-5)
          .map((l) => l.msg)
          .join(' | ');
        return new Error(`${who} never logged ${what}; last: ${last}`);
      }),
  };
}

/**
 * Resolves with the first of `items` (there now, or pushed later by a producer that calls every function in
 * `wakers` after a push) that matches; rejects with `failure()` after timeoutMs.
 */
export function waitForItem<T>(
  items: readonly T[],
  wakers: Set<() => void>,
  matches: (item: T) => boolean,
  timeoutMs: number,
  failure: () => Error,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const found = items.find(matches);
      if (found === undefined) return;
      clearTimeout(timer);
      wakers.delete(check);
      resolve(found);
    };
    const timer = setTimeout(() => {
      wakers.delete(check);
      reject(failure());
    }, timeoutMs);
    wakers.add(check);
    check();
  });
}
