import type { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';

/**
 * Logs on stderr, so stdout stays for the command's own output: JSON lines (pino) for journald, files and
 * pipes; readable lines (pino-pretty, in this thread) when stderr is a terminal. EDGEPEER_LOG_FORMAT=json or
 * pretty decides otherwise.
 */
export function createLogger(level: string, options: { format?: LogFormat; destination?: Writable } = {}): Logger {
  const chosen = process.env.EDGEPEER_LOG_FORMAT;
  const format =
    options.format ?? (chosen === 'json' || chosen === 'pretty' ? chosen : process.stderr.isTTY ? 'pretty' : 'json');
  const base = { level, base: { pid: process.pid } };
  if (format === 'pretty') {
    return pino(
      base,
      pretty({
        destination: options.destination ?? 2,
        sync: true,
        colorize: options.destination === undefined && process.stderr.isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      }),
    );
  }
  return pino(base, options.destination ?? pino.destination({ fd: 2, sync: false }));
}
