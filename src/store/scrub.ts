// The background scrub: every held piece is read from disk and checked against its SHA-1 now and then, so
// that bit rot in content nobody asks for is found (and the piece dropped, told to peers and trackers)
// before a client asks for it. Rate-limited in bytes per second, optionally only within a daily window
// (off-peak hours), one piece at a time, never through the piece cache's memory.
import { EventEmitter } from 'node:events';
import { InvalidArgumentError } from '../errors/index.ts';
import { pieceSize } from '../metainfo/index.ts';
import type { Catalog, PieceCache, ScrubResult } from './types.ts';

export interface ScrubOptions {
  /** Bytes read and hashed per second at most; 0 turns the scrub off. */
  bytesPerSecond: number;
  /** Least time from the start of one pass to the start of the next. */
  passIntervalMs: number;
  /** Daily local-time window the scrub runs in, minutes since midnight [from, to) (may wrap); null: always. */
  window: ScrubWindow | null;
}

export interface ScrubWindow {
  fromMinute: number;
  toMinute: number;
}

/** How soon an empty store is looked at again (new content should not wait a whole interval). */
const EMPTY_STORE_RETRY_MS = 10 * 60_000;

export type ScrubState = 'off' | 'scrubbing' | 'waiting-for-window' | 'between-passes' | 'stopped';

export interface ScrubPass {
  startedAt: number;
  finishedAt: number | null;
  /** Bytes held when the pass started: what it has to read. */
  bytesTotal: number;
  bytesChecked: number;
  piecesChecked: number;
  corruptPieces: number;
}

export interface ScrubStatus {
  state: ScrubState;
  bytesPerSecond: number;
  passIntervalMs: number;
  window: string | null;
  /** Passes finished since start. */
  passes: number;
  current: ScrubPass | null;
  last: ScrubPass | null;
  /** Since start, all passes. */
  bytesChecked: number;
  piecesChecked: number;
  corruptPieces: number;
}

export interface ScrubEvents {
  /** A piece failed its SHA-1 and left the store. */
  corrupt: [infoHash: string, pieceIndex: number];
  'pass-finished': [pass: ScrubPass];
}

/** "HH:MM-HH:MM" (24-hour local time; the end may be before the start: the window wraps past midnight). */
export function parseScrubWindow(text: string): ScrubWindow {
  const match = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(text.trim());
  const minute = (h: string, m: string) => {
    const hours = Number(h);
    const minutes = Number(m);
    return hours <= 24 && minutes < 60 && hours * 60 + minutes <= 24 * 60 ? hours * 60 + minutes : null;
  };
  const fromMinute = match ? minute(match[1]!, match[2]!) : null;
  const toMinute = match ? minute(match[3]!, match[4]!) : null;
  if (fromMinute === null || toMinute === null || fromMinute === toMinute) {
    throw new InvalidArgumentError(
      `scrub window must be HH:MM-HH:MM in local time with different ends (such as 01:00-06:00), got ${JSON.stringify(text)}`,
    );
  }
  return { fromMinute, toMinute };
}

export function formatScrubWindow(window: ScrubWindow): string {
  const text = (minute: number) =>
    `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
  return `${text(window.fromMinute)}-${text(window.toMinute)}`;
}

/** Milliseconds from `now` until the window opens (0 inside it). */
export function msUntilWindow(window: ScrubWindow, now: Date): number {
  const minuteNow = now.getHours() * 60 + now.getMinutes();
  const inside =
    window.fromMinute < window.toMinute
      ? minuteNow >= window.fromMinute && minuteNow < window.toMinute
      : minuteNow >= window.fromMinute || minuteNow < window.toMinute;
  if (inside) return 0;
  const minutes = (window.fromMinute - minuteNow + 24 * 60) % (24 * 60);
  return minutes * 60_000 - now.getSeconds() * 1000 - now.getMilliseconds();
}

export class Scrubber extends EventEmitter<ScrubEvents> {
  readonly #store: Pick<Catalog, 'list' | 'get' | 'metainfoOf'>;
  readonly #cache: Pick<PieceCache, 'scrubPiece'>;
  readonly #options: ScrubOptions;
  readonly #now: () => Date;
  #state: ScrubState;
  #current: ScrubPass | null = null;
  #last: ScrubPass | null = null;
  #passes = 0;
  #totals = { bytesChecked: 0, piecesChecked: 0, corruptPieces: 0 };
  /** Wakes the loop early (stop). */
  #wake: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(
    store: Pick<Catalog, 'list' | 'get' | 'metainfoOf'>,
    cache: Pick<PieceCache, 'scrubPiece'>,
    options: ScrubOptions,
    now: () => Date = () => new Date(),
  ) {
    super();
    if (!(Number.isFinite(options.bytesPerSecond) && options.bytesPerSecond >= 0)) {
      throw new InvalidArgumentError(`scrub rate must be 0 or more bytes per second, got ${options.bytesPerSecond}`);
    }
    this.#store = store;
    this.#cache = cache;
    this.#options = options;
    this.#now = now;
    this.#state = options.bytesPerSecond === 0 ? 'off' : 'between-passes';
  }

  start(): void {
    if (this.#state === 'off' || this.#running !== null) return;
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    if (this.#state !== 'off') this.#state = 'stopped';
    this.#wake?.();
    await this.#running;
  }

  status(): ScrubStatus {
    return {
      state: this.#state,
      bytesPerSecond: this.#options.bytesPerSecond,
      passIntervalMs: this.#options.passIntervalMs,
      window: this.#options.window === null ? null : formatScrubWindow(this.#options.window),
      passes: this.#passes,
      current: this.#current === null ? null : { ...this.#current },
      last: this.#last === null ? null : { ...this.#last },
      ...this.#totals,
    };
  }

  get #stopped(): boolean {
    return this.#state === 'stopped';
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const started = Date.now();
      const checked = await this.#pass();
      if (this.#stopped) return;
      this.#state = 'between-passes';
      // A store with nothing held is looked at again soon, not a whole interval after it was empty.
      const interval = checked
        ? this.#options.passIntervalMs
        : Math.min(this.#options.passIntervalMs, EMPTY_STORE_RETRY_MS);
      await this.#pause(started + interval - Date.now());
    }
  }

  /** One pass over what is held when it starts; false when nothing was held (no pass counted). */
  async #pass(): Promise<boolean> {
    const objects = this.#store.list();
    const pass: ScrubPass = {
      startedAt: Date.now(),
      finishedAt: null,
      bytesTotal: 0,
      bytesChecked: 0,
      piecesChecked: 0,
      corruptPieces: 0,
    };
    const work: Array<{ infoHash: string; pieces: number[]; sizes: number[] }> = [];
    for (const object of objects) {
      const metainfo = this.#store.metainfoOf(object.infoHash);
      if (metainfo === undefined) continue;
      const pieces: number[] = [];
      const sizes: number[] = [];
      for (let index = 0; index < metainfo.pieceCount; index += 1) {
        if (!object.bitfield.get(index)) continue;
        pieces.push(index);
        sizes.push(pieceSize(metainfo, index));
        pass.bytesTotal += sizes[sizes.length - 1]!;
      }
      if (pieces.length > 0) work.push({ infoHash: object.infoHash, pieces, sizes });
    }
    if (work.length === 0) return false;
    this.#current = pass;
    for (const { infoHash, pieces, sizes } of work) {
      for (let i = 0; i < pieces.length; i += 1) {
        if (!(await this.#inWindow())) return true;
        const began = Date.now();
        const result: ScrubResult = await this.#cache.scrubPiece(infoHash, pieces[i]!);
        if (this.#stopped) return true;
        if (result !== 'gone') this.#count(pass, sizes[i]!, result === 'corrupt');
        if (result === 'corrupt') this.emit('corrupt', infoHash, pieces[i]!);
        // The rate: this piece's bytes spread over the time they are allowed to take.
        await this.#pause((sizes[i]! * 1000) / this.#options.bytesPerSecond - (Date.now() - began));
      }
    }
    pass.finishedAt = Date.now();
    this.#passes += 1;
    this.#last = pass;
    this.#current = null;
    this.emit('pass-finished', { ...pass });
    return true;
  }

  #count(pass: ScrubPass, bytes: number, corrupt: boolean): void {
    pass.piecesChecked += 1;
    pass.bytesChecked += bytes;
    this.#totals.piecesChecked += 1;
    this.#totals.bytesChecked += bytes;
    if (corrupt) {
      pass.corruptPieces += 1;
      this.#totals.corruptPieces += 1;
    }
  }

  /** True when the scrub may read now; waits for the window to open first. False once stopped. */
  async #inWindow(): Promise<boolean> {
    while (!this.#stopped) {
      const wait = this.#options.window === null ? 0 : msUntilWindow(this.#options.window, this.#now());
      if (wait <= 0) {
        this.#state = 'scrubbing';
        return true;
      }
      this.#state = 'waiting-for-window';
      await this.#pause(wait);
    }
    return false;
  }

  /** Waits `ms` (nothing if <= 0), or until stop(). */
  #pause(ms: number): Promise<void> {
    if (!(ms > 0) || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = () => {
        if (this.#timer !== null) clearTimeout(this.#timer);
        this.#timer = null;
        this.#wake = null;
        resolve();
      };
      this.#timer = setTimeout(this.#wake, Math.min(ms, 2 ** 31 - 1));
      this.#timer.unref();
    });
  }
}
