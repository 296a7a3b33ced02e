// Swarm statistics from a tracker that has nothing but scrape (BEP 48: opentracker, most public and private
// trackers): seeds (complete) and leechers (incomplete) per swarm, asked for every followed swarm in one
// request per batch, every interval (or the tracker's min_request_interval, if longer). A scrape says
// nothing of pieces: a seed holds every piece and plain leechers' pieces are unknown, which is what the
// reference tracker's /stats says too when no CDN node tells it a bitmap. Nor does it say which peers are
// CDN nodes: the CDN nodes it knows of (this agent; a controller's edges) come out of the seeds whenever they
// hold any piece of the object, so a piece they may hold alone is never counted as held elsewhere (the
// tracker's count cannot tell whether a node is among its seeds yet). Other CDN nodes count as outside.
import { EventEmitter } from 'node:events';
import {
  type BencodeDictionary,
  BencodeError,
  type BencodeValue,
  decodeBencode,
  isDictionary,
} from '../tracker/index.ts';
import { describeFailure, type StatsSource } from './source.ts';
import { StatsFormatError } from './stats.ts';
import type { StatsProblem, StatsReading, SwarmCounts } from './types.ts';

export interface ScrapeStatsSourceOptions {
  /** The tracker's scrape URL (BEP 48), e.g. http://tracker:6969/scrape; a query (a passkey) is kept. */
  scrapeUrl: string;
  /** ms between scrapes (raised to the tracker's min_request_interval). */
  intervalMs?: number;
  /** What the CDN nodes the tracker sees hold of an object (this agent; a controller: its edges' union). */
  holds: (infoHash: string) => CdnHoldings;
  /** Info hashes per request (each is 60 characters of the URL). */
  batch?: number;
  timeoutMs?: number;
  clock?: () => number;
}

/** CDN nodes holding any piece of an object, and how many of them only some of its pieces. */
export interface CdnHoldings {
  nodes: number;
  partial: number;
}

/** The holdings of one CDN node (an agent; a controller, which announces its edges' union) with `held` pieces. */
export function singleNodeHoldings(held: number, pieceCount: number): CdnHoldings {
  return { nodes: held > 0 ? 1 : 0, partial: held > 0 && held < pieceCount ? 1 : 0 };
}

/** One swarm's line of a scrape answer. */
export interface ScrapeEntry {
  complete: number;
  incomplete: number;
}

interface Followed {
  pieceCount: number;
  entry: ScrapeEntry | null;
  version: number;
  receivedAt: number;
  problem: StatsProblem | null;
}

export class ScrapeStatsSource extends EventEmitter<{ changed: [infoHash: string] }> implements StatsSource {
  readonly #options: Required<ScrapeStatsSourceOptions>;
  readonly #followed = new Map<string, Followed>();
  readonly #abort = new AbortController();
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** The tracker's min_request_interval, ms (0: none said). */
  #trackerMinMs = 0;
  /** A swarm was followed since the last pass began. */
  #unscraped = false;

  constructor(options: ScrapeStatsSourceOptions) {
    super();
    this.#options = { intervalMs: 30_000, batch: 50, timeoutMs: 15_000, clock: Date.now, ...options };
  }

  follow(infoHash: string, pieceCount: number): void {
    if (this.#followed.has(infoHash)) return;
    this.#followed.set(infoHash, { pieceCount, entry: null, version: 0, receivedAt: 0, problem: null });
    // A swarm followed now is scraped now, not at the next interval; those followed in the same tick, together.
    this.#unscraped = true;
    if (this.#wake !== null) this.#wake();
    else if (this.#loop === null && !this.#abort.signal.aborted) {
      this.#loop = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#run());
    }
  }

  unfollow(infoHash: string): void {
    this.#followed.delete(infoHash);
  }

  reading(infoHash: string): StatsReading {
    const followed = this.#followed.get(infoHash);
    if (followed === undefined) return { counts: null, problem: null };
    const counts =
      followed.entry === null
        ? null
        : countsFromScrape(followed.entry, followed.pieceCount, this.#options.holds(infoHash), {
            version: followed.version,
            receivedAt: followed.receivedAt,
          });
    return { counts, problem: followed.problem };
  }

  followed(): string[] {
    return [...this.#followed.keys()];
  }

  async close(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
  }

  /**
   * Every interval, a scrape of every followed swarm; in between, as soon as swarms are followed, a scrape of
   * just those (a new swarm's first numbers should not wait an interval).
   */
  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let everyone = true;
    let nextFullAt = 0;
    while (!signal.aborted) {
      this.#unscraped = false;
      const hashes = [...this.#followed]
        .filter(([, followed]) => everyone || (followed.entry === null && followed.problem === null))
        .map(([hash]) => hash);
      for (let i = 0; i < hashes.length && !signal.aborted; i += this.#options.batch) {
        await this.#scrape(hashes.slice(i, i + this.#options.batch));
      }
      if (everyone) nextFullAt = performance.now() + Math.max(this.#options.intervalMs, this.#trackerMinMs);
      if (signal.aborted) return;
      if (this.#unscraped) {
        everyone = false;
        continue;
      }
      everyone = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), Math.max(0, nextFullAt - performance.now()));
        this.#wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      this.#wake = null;
    }
  }

  async #scrape(hashes: string[]): Promise<void> {
    const { scrapeUrl, timeoutMs, clock } = this.#options;
    const query = hashes.map((hash) => `info_hash=${percentEncode(hash)}`).join('&');
    let entries: Map<string, ScrapeEntry>;
    try {
      const response = await fetch(`${scrapeUrl}${scrapeUrl.includes('?') ? '&' : '?'}${query}`, {
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(timeoutMs)]),
      });
      const body = new Uint8Array(await response.arrayBuffer());
      if (response.status !== 200) {
        throw new ScrapeRefused(`the tracker answered HTTP ${response.status}`);
      }
      const answer = parseScrape(body);
      this.#trackerMinMs = answer.minRequestIntervalS * 1000;
      entries = answer.files;
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      const kind = err instanceof StatsFormatError ? 'malformed' : 'unreachable';
      const detail =
        err instanceof StatsFormatError
          ? `malformed scrape from ${scrapeUrl}: ${err.message}`
          : `scrape unreachable at ${scrapeUrl}: ${describeFailure(err)}`;
      for (const hash of hashes) {
        const followed = this.#followed.get(hash);
        if (followed === undefined) continue;
        const changed = followed.problem?.kind !== kind;
        followed.problem = { kind, detail, since: changed ? clock() : followed.problem!.since };
        if (changed) this.emit('changed', hash);
      }
      return;
    }
    const now = clock();
    for (const hash of hashes) {
      const followed = this.#followed.get(hash);
      if (followed === undefined) continue;
      // A swarm the tracker does not list has no peer there.
      const entry = entries.get(hash) ?? { complete: 0, incomplete: 0 };
      const changed =
        followed.problem !== null ||
        followed.entry === null ||
        followed.entry.complete !== entry.complete ||
        followed.entry.incomplete !== entry.incomplete;
      followed.receivedAt = now;
      followed.problem = null;
      if (changed) {
        followed.entry = entry;
        followed.version += 1;
        this.emit('changed', hash);
      }
    }
  }
}

class ScrapeRefused extends Error {}

/**
 * The counts decide() uses, from a scrape line: every piece has the seeds' copies; each CDN node holding any
 * piece is taken to be one of the seeds (up to their number), and each holding only some, one of the leechers.
 */
export function countsFromScrape(
  entry: ScrapeEntry,
  pieceCount: number,
  holds: CdnHoldings,
  at: { version: number; receivedAt: number },
): SwarmCounts {
  return {
    version: at.version,
    receivedAt: at.receivedAt,
    swarmCopies: new Array<number>(pieceCount).fill(entry.complete),
    cdnCopies: new Array<number>(pieceCount).fill(Math.min(holds.nodes, entry.complete)),
    demand: Math.max(0, entry.incomplete - holds.partial),
    seeds: entry.complete,
    leechers: entry.incomplete,
  };
}

/**
 * A scrape answer: its `files` by info hash (hex) and the tracker's min_request_interval (s, 0 if none).
 * A tracker's "failure reason" is an error with its words; anything else off BEP 48's shape is malformed.
 */
export function parseScrape(body: Uint8Array): { files: Map<string, ScrapeEntry>; minRequestIntervalS: number } {
  let answer: BencodeValue;
  try {
    answer = decodeBencode(body);
  } catch (err) {
    if (err instanceof BencodeError) throw new StatsFormatError(`not bencoded: ${err.message}`);
    throw err;
  }
  if (!isDictionary(answer)) throw new StatsFormatError('the answer is not a bencoded dictionary');
  const failure = answer['failure reason'];
  if (Buffer.isBuffer(failure)) {
    throw new ScrapeRefused(`the tracker refused: ${failure.toString('utf8').slice(0, 200)}`);
  }
  const files = answer.files;
  if (!isDictionary(files)) throw new StatsFormatError('"files" must be a dictionary');
  const entries = new Map<string, ScrapeEntry>();
  // The decoder keeps keys as latin1 text, one character a byte: an info hash's 20 bytes survive.
  for (const [key, entry] of Object.entries(files)) {
    const hash = Buffer.from(key, 'latin1');
    if (hash.length !== 20) throw new StatsFormatError(`a key of "files" is ${hash.length} bytes, not 20`);
    if (!isDictionary(entry)) throw new StatsFormatError(`"files".${hash.toString('hex')} must be a dictionary`);
    entries.set(hash.toString('hex'), {
      complete: whole(entry, 'complete', hash),
      incomplete: whole(entry, 'incomplete', hash),
    });
  }
  const flags = answer.flags;
  const interval = isDictionary(flags) ? flags.min_request_interval : undefined;
  const minRequestIntervalS =
    typeof interval === 'number' && Number.isSafeInteger(interval) && interval > 0 ? Math.min(interval, 3600) : 0;
  return { files: entries, minRequestIntervalS };
}

function whole(entry: BencodeDictionary, key: string, hash: Buffer): number {
  const value = entry[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new StatsFormatError(`"files".${hash.toString('hex')}.${key} must be a whole number >= 0`);
  }
  return value;
}

function percentEncode(hex: string): string {
  return hex.replace(/../g, '%$&');
}
