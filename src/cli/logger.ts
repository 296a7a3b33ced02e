import pino, { type Logger } from 'pino';

/** Structured logs (pino, JSON lines) on stderr, so stdout stays for the command's own output. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}
