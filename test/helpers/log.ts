import { EventEmitter } from 'node:events';
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
