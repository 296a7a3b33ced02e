import type { Logger } from './logger.ts';

export interface WarningThrottleOptions {
  /** Lines logged per key in each interval; the rest are counted. Default 10. */
  perInterval?: number;
  /** Default 60 s. */
  intervalMs?: number;
}

interface Window {
  startedAt: number;
  logged: number;
  suppressed: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Warnings a remote party can trigger once per message (a malformed peer connection, a bad request) go
 * through here: per key, the first `perInterval` lines of each interval are logged, the rest counted, and
 * one summary line at the end of the interval says how many were left out. The log stays bounded whatever
 * the remote party sends. Keys are fixed strings chosen by the caller (a few per part), never remote data.
 */
export class WarningThrottle {
  readonly #logger: Logger;
  readonly #perInterval: number;
  readonly #intervalMs: number;
  readonly #windows = new Map<string, Window>();

  constructor(logger: Logger, options: WarningThrottleOptions = {}) {
    this.#logger = logger;
    this.#perInterval = options.perInterval ?? 10;
    this.#intervalMs = options.intervalMs ?? 60_000;
  }

  warn(key: string, fields: object, message: string): void {
    const now = performance.now();
    let window = this.#windows.get(key);
    if (window === undefined || now - window.startedAt >= this.#intervalMs) {
      if (window !== undefined) this.#flush(key, window);
      window = { startedAt: now, logged: 0, suppressed: 0, timer: null };
      this.#windows.set(key, window);
    }
    if (window.logged < this.#perInterval) {
      window.logged++;
      this.#logger.warn(fields, message);
      return;
    }
    window.suppressed++;
    // The summary comes at the interval's end even if the flood stops; unref: it never keeps a process up.
    window.timer ??= setTimeout(() => this.#end(key), this.#intervalMs - (now - window.startedAt)).unref();
  }

  /** Logs the summaries still pending and forgets every window (on shutdown). */
  close(): void {
    for (const [key, window] of this.#windows) this.#flush(key, window);
    this.#windows.clear();
  }

  #end(key: string): void {
    const window = this.#windows.get(key);
    if (window === undefined) return;
    this.#flush(key, window);
    this.#windows.delete(key);
  }

  #flush(key: string, window: Window): void {
    if (window.timer !== null) clearTimeout(window.timer);
    window.timer = null;
    if (window.suppressed === 0) return;
    this.#logger.warn(
      { key, suppressed: window.suppressed, intervalMs: this.#intervalMs },
      `${window.suppressed} more warnings like "${key}" were not logged`,
    );
    window.suppressed = 0;
  }
}
