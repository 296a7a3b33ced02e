// The agent's announce client. For every object in the store it keeps one schedule per tracker group:
// the metainfo's tiers (BEP 12: try in order, move the one that answers to the front of its tier) and each
// extra tracker URL on its own. Announces go out on the tracker's interval with jitter, soon after the
// bitmap changes (never sooner than the tracker's min interval, except for events), and on shutdown as
// `stopped`. Trackers that fail back off exponentially up to a cap, and a tracker that is down costs one
// probe per backoff period, not one request per object. Trackers that offer edgepeer's multi-object
// announce get many objects per request. Nothing here ever throws into the agent.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { InvalidArgumentError, isEdgepeerError, StoreCorruptError, TrackerError } from '../../errors/index.ts';
import type { BitfieldView, Catalog, CatalogObject } from '../../store/types.ts';
import { encodeBitmap } from '../protocol/bitmap.ts';
import { checkCdnUrl, type ExtensionOffer } from '../protocol/extension.ts';
import type { AnnounceEvent, AnnounceParams, AnnounceResult, BatchAnnounce } from '../protocol/messages.ts';
import { type Clock, systemClock, TimerQueue } from './timer-queue.ts';
import { DefaultTrackerTransport, type ScrapeCounts, type TrackerTransport, trackerScheme } from './transport.ts';

/** What the client needs of the catalog: the objects, their metainfo (trackers), and the events that change them. */
export type AnnounceStore = Pick<Catalog, 'list' | 'metainfoOf' | 'on' | 'off'>;

export interface AnnounceClientOptions {
  store: AnnounceStore;
  /** 20 bytes. */
  peerId: Uint8Array;
  /** The agent's peer wire port. */
  port: number;
  /** The agent's HTTP base URL(s): the tracker derives object and piece URLs from them (docs/tracker.md). */
  httpBaseUrls?: string[];
  /** Tracker URLs announced for every object, besides the metainfo's (`edgepeer agent --tracker`). */
  trackers?: string[];
  /** Announce to the trackers in each object's metainfo. Default true. */
  metainfoTrackers?: boolean;
  /** Bytes sent and received for an object (the wire and HTTP servers count them). Default 0 and 0. */
  transferStats?: (infoHash: string) => { uploaded: number; downloaded: number } | undefined;
  /** Peers asked for. Default 0: the agent serves and does not fetch from peers. */
  numWant?: number;
  /** BEP 3 `ip`: the address trackers should list (an agent behind NAT or a load balancer). */
  ip?: string;
  /** Interval used until a tracker says otherwise, seconds. Default 1800. */
  intervalS?: number;
  /** Least time between two announces of one object to one tracker when no event is due, seconds. Default 30. */
  minSpacingS?: number;
  /** Wait after a bitmap change before announcing it (changes arriving meanwhile go in the same announce), ms. Default 5000. */
  changeDelayMs?: number;
  /** Interval jitter: next announce at interval x (1 - jitter x random). Default 0.1. */
  jitter?: number;
  /** First backoff after a failure, ms; doubles per consecutive failure. Default 15000. */
  backoffInitialMs?: number;
  /** Backoff cap, ms. Default 1,800,000 (30 minutes). */
  backoffMaxMs?: number;
  /** Per request, ms. Default 15000. */
  requestTimeoutMs?: number;
  /** Requests in flight at once, all trackers together. Default 16. */
  maxConcurrent?: number;
  /** Requests per second to one tracker (a multi-object announce counts once). Default 100. */
  maxRequestsPerSecond?: number;
  /** Objects per multi-object announce, at most (the tracker may ask for fewer). Default 1000. */
  maxBatch?: number;
  /** Announces to a multi-object tracker are aligned to this grid so that they travel together, ms. Default 10000. */
  batchWindowMs?: number;
  /** A multi-object announce waits this long for more objects unless it is full, ms. Default 1000. */
  batchLingerMs?: number;
  /** Longest HTTP announce URL; the bitmap is left out beyond it. Default 6144 (opentracker refuses ~8 KiB). */
  maxUrlLength?: number;
  /** Longest BEP 41 URL data in a UDP announce. Default 1024. */
  maxUdpUrlData?: number;
  /** Time stop() may spend sending `stopped`, ms. Default 5000. */
  stopTimeoutMs?: number;
  transport?: TrackerTransport;
  clock?: Clock;
}

export interface TrackerErrorState {
  code: string;
  message: string;
  at: number;
}

/** One tracker as `edgepeer status` shows it. Times are ms since the epoch. */
export interface TrackerStatus {
  url: string;
  /** Objects whose schedule currently uses this tracker. */
  objects: number;
  lastAnnounceAt: number | null;
  lastSuccessAt: number | null;
  nextAnnounceAt: number | null;
  lastError: TrackerErrorState | null;
  lastWarning: string | null;
  consecutiveFailures: number;
  /** While backing off: when the next probe goes out. */
  retryAt: number | null;
  /** Seeds plus leechers the tracker reported, summed over objects. */
  peersSeen: number;
  announces: { ok: number; failed: number };
  /** The tracker speaks the bitmap extension (null: not known yet). */
  extension: boolean | null;
  multiObject: boolean;
  intervalS: number | null;
}

export interface ObjectAnnounceStatus {
  infoHash: string;
  groups: Array<{
    tiers: string[][];
    lastUrl: string | null;
    lastAnnounceAt: number | null;
    nextAnnounceAt: number | null;
    lastError: string | null;
    seeds: number | null;
    leechers: number | null;
  }>;
}

export interface AnnounceEventInfo {
  infoHash: string;
  url: string;
  event: AnnounceEvent | undefined;
  result: AnnounceResult;
  /** False when the bitmap had to be left out (too large for a GET). */
  bitmapSent: boolean;
}

export interface AnnounceErrorInfo {
  infoHash: string;
  url: string;
  event: AnnounceEvent | undefined;
  code: string;
  message: string;
}

export interface AnnounceClientEvents {
  announce: [AnnounceEventInfo];
  'announce-error': [AnnounceErrorInfo];
}

export interface ScrapeReport {
  url: string;
  counts?: ScrapeCounts;
  error?: { code: string; message: string };
}

interface TrackerState {
  url: string;
  /** undefined: not known yet; null: a plain tracker. */
  offer: ExtensionOffer | null | undefined;
  failures: number;
  downUntil: number;
  lastAnnounceAt: number | null;
  lastSuccessAt: number | null;
  lastError: TrackerErrorState | null;
  lastWarning: string | null;
  ok: number;
  failed: number;
  peersSeen: number;
  intervalS: number | null;
  minIntervalS: number | null;
  tokens: number;
  tokensAt: number;
  /** A UDP tracker (BEP 15): its answers cannot say whether it speaks the extension. */
  udp: boolean;
  /** The tracker id it last answered; a new one means the tracker restarted and lost the bitmaps it had. */
  trackerId: string | undefined;
  /** Counts tracker restarts: bitmaps acknowledged before the current epoch are sent again. */
  epoch: number;
  queue: GroupState[];
  /** When the oldest queued group was queued (multi-object trackers wait a little for company). */
  queuedSince: number;
  inFlight: number;
}

interface ObjectState {
  infoHash: string;
  infoHashBytes: Buffer;
  pieceCount: number;
  pieceLength: number;
  size: number;
  bitfield: BitfieldView;
  complete: boolean;
  /** `completed` is due once, and only for an object that was incomplete when its announces began (BEP 3). */
  completionDue: boolean;
  groups: GroupState[];
  /** BEP 27: announced only to its metainfo's trackers. */
  private: boolean;
  /** The encoded bitmap, until the next change. */
  bitmap: string | undefined;
  /** transferStats when the object left the store: its `stopped` announces report these. */
  transferAtRemoval?: { uploaded: number; downloaded: number } | undefined;
}

interface UrlState {
  trackerId?: string;
  /** The bitmap this tracker acknowledged last, and in which of its epochs: unchanged bitmaps are not resent. */
  ackedBitmap: string | undefined;
  ackedEpoch: number;
  /** Announces since the bitmap last went in full (every BITMAP_REFRESH_EVERY-th carries it anyway). */
  sinceBitmap: number;
  started: boolean;
  failures: number;
  retryAt: number;
  disabled: boolean;
  lastAt: number | null;
  seeds: number | null;
  leechers: number | null;
}

interface GroupState {
  object: ObjectState;
  tiers: string[][];
  urls: Map<string, UrlState>;
  phase: 'idle' | 'queued' | 'sending' | 'done';
  /** The URL the group is queued for or being sent to. */
  target: string | null;
  completedPending: boolean;
  /** The object left the store, or the group's extra tracker was dropped: `stopped` to every URL started, then drop. */
  stopping: boolean;
  /** The extra tracker URL (AnnounceClientOptions.trackers) this group announces to; null: the metainfo's. */
  extraUrl: string | null;
  /** The bitmap changed while an announce was under way. */
  dirty: boolean;
  lastUrl: string | null;
  lastAnnounceAt: number | null;
  lastError: string | null;
}

export interface AnnounceClient extends EventEmitter<AnnounceClientEvents> {
  /** Reads the store's objects and starts announcing them. */
  start(): void;
  /**
   * Sends `stopped` for every announced object (within stopTimeoutMs) and releases sockets. `handOver`:
   * another announcer takes over under the same peer id (a controller of a shared fleet), so trackers keep
   * the entry: no `stopped`.
   */
  stop(options?: { handOver?: boolean }): Promise<void>;
  status(): TrackerStatus[];
  objectStatus(infoHash: string): ObjectAnnounceStatus | undefined;
  /** Announces now (one object, or all), regardless of schedules and min intervals. */
  announceNow(infoHash?: string): void;
  /**
   * Replaces the extra tracker URLs (a SIGHUP with a new list): every object starts announcing to the new
   * ones and sends `stopped` to the dropped ones; the metainfo's trackers and the unchanged ones carry on.
   */
  setTrackers(urls: string[]): void;
  /** Scrapes every tracker of an object. */
  scrape(infoHash: string): Promise<ScrapeReport[]>;
}

/** Objects added per turn of the event loop at start. */
const ADD_CHUNK = 500;
/**
 * An unchanged bitmap the tracker acknowledged is left out of regular announces, but goes in full at least
 * every this many announces: a safety net for a tracker that lost it without restarting.
 */
const BITMAP_REFRESH_EVERY = 4;

/** Extra tracker URLs, deduplicated; InvalidArgumentError for a scheme the client does not speak. */
function checkedTrackerUrls(urls: string[]): string[] {
  const unique = [...new Set(urls)];
  for (const url of unique) {
    if (trackerScheme(url) === undefined) {
      throw new InvalidArgumentError(`tracker URL must be http, https or udp: ${url}`, { subject: url });
    }
  }
  return unique;
}

export function createAnnounceClient(options: AnnounceClientOptions): AnnounceClient {
  return new Announcer(options);
}

interface Settings {
  intervalMs: number;
  minSpacingMs: number;
  changeDelayMs: number;
  jitter: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  maxConcurrent: number;
  maxRequestsPerSecond: number;
  maxBatch: number;
  batchWindowMs: number;
  batchLingerMs: number;
  stopTimeoutMs: number;
  numWant: number;
}

class Announcer extends EventEmitter<AnnounceClientEvents> implements AnnounceClient {
  readonly #options: AnnounceClientOptions;
  readonly #settings: Settings;
  readonly #clock: Clock;
  readonly #transport: TrackerTransport;
  readonly #peerId: Buffer;
  readonly #key = randomBytes(4).toString('hex');
  readonly #httpBaseUrls: string[];
  #extraTrackers: string[];
  readonly #objects = new Map<string, ObjectState>();
  readonly #trackers = new Map<string, TrackerState>();
  readonly #ready = new Set<TrackerState>();
  readonly #timers: TimerQueue<GroupState>;
  readonly #abort = new AbortController();
  #inFlight = 0;
  /** stop() waiting for the announces under way to end. */
  readonly #idleWaiters: Array<() => void> = [];
  #pumpTimer: unknown;
  #pumpAt = Number.POSITIVE_INFINITY;
  #started = false;
  #stopping = false;
  /** Groups of removed objects whose `stopped` may not have gone out yet: shutdown must not forget them. */
  readonly #retired = new Set<GroupState>();
  readonly #listeners: {
    added: (object: CatalogObject) => void;
    changed: (infoHash: string) => void;
    removed: (infoHash: string) => void;
  };

  constructor(options: AnnounceClientOptions) {
    super();
    if (options.peerId.length !== 20) {
      throw new InvalidArgumentError(`peer id must be 20 bytes, got ${options.peerId.length}`);
    }
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new InvalidArgumentError(`announce port must be 1-65535, got ${options.port}`);
    }
    this.#options = options;
    this.#peerId = Buffer.from(options.peerId);
    this.#clock = options.clock ?? systemClock;
    const timeoutMs = options.requestTimeoutMs ?? 15_000;
    this.#transport =
      options.transport ??
      new DefaultTrackerTransport({
        maxUrlLength: options.maxUrlLength ?? 6144,
        timeoutMs,
        maxUdpUrlData: options.maxUdpUrlData ?? 1024,
      });
    this.#settings = {
      intervalMs: (options.intervalS ?? 1800) * 1000,
      minSpacingMs: (options.minSpacingS ?? 30) * 1000,
      changeDelayMs: options.changeDelayMs ?? 5000,
      jitter: options.jitter ?? 0.1,
      backoffInitialMs: options.backoffInitialMs ?? 15_000,
      backoffMaxMs: options.backoffMaxMs ?? 30 * 60_000,
      maxConcurrent: options.maxConcurrent ?? 16,
      maxRequestsPerSecond: options.maxRequestsPerSecond ?? 100,
      maxBatch: options.maxBatch ?? 1000,
      batchWindowMs: options.batchWindowMs ?? 10_000,
      batchLingerMs: options.batchLingerMs ?? 1000,
      stopTimeoutMs: options.stopTimeoutMs ?? 5000,
      numWant: options.numWant ?? 0,
    };
    this.#httpBaseUrls = (options.httpBaseUrls ?? []).map((url) => {
      const checked = checkCdnUrl(url);
      if (checked === undefined) throw new InvalidArgumentError(`HTTP base URL must be http(s) without query: ${url}`);
      return checked;
    });
    this.#extraTrackers = checkedTrackerUrls(options.trackers ?? []);
    this.#timers = new TimerQueue(this.#clock, (groups) => {
      for (const group of groups) this.#dispatch(group);
    });
    this.#listeners = {
      added: (object) => this.#addObject(object, this.#settings.changeDelayMs),
      changed: (infoHash) => this.#bitmapChanged(infoHash),
      removed: (infoHash) => this.#removeObject(infoHash),
    };
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    const store = this.#options.store;
    store.on('object-added', this.#listeners.added);
    store.on('pieces-added', this.#listeners.changed);
    store.on('pieces-removed', this.#listeners.changed);
    store.on('object-removed', this.#listeners.removed);
    this.#addInChunks(store.list(), 0);
  }

  /**
   * Adds the store's objects a chunk per turn of the event loop: each reads its metainfo from disk (the
   * store loads it lazily), and 100k of them at once would stall the servers sharing this thread.
   */
  #addInChunks(objects: CatalogObject[], from: number): void {
    if (this.#stopping) return;
    const end = Math.min(objects.length, from + ADD_CHUNK);
    // A short random delay per object: the first announces of a big store leave in rate-limited order.
    for (let i = from; i < end; i++) this.#addObject(objects[i]!, Math.random() * this.#settings.changeDelayMs);
    if (end < objects.length) this.#clock.setTimer(() => this.#addInChunks(objects, end), 0);
  }

  async stop(options: { handOver?: boolean } = {}): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const store = this.#options.store;
    store.off('object-added', this.#listeners.added);
    store.off('pieces-added', this.#listeners.changed);
    store.off('pieces-removed', this.#listeners.changed);
    store.off('object-removed', this.#listeners.removed);
    this.#timers.stop();
    if (this.#pumpTimer !== undefined) this.#clock.clearTimer(this.#pumpTimer);
    const deadline = AbortSignal.timeout(options.handOver ? 0 : this.#settings.stopTimeoutMs);
    // An announce under way may have been counted by its tracker: it finishes first (within the deadline),
    // so that its tracker gets `stopped` too (an agent stopped right after starting stayed listed).
    const signal = AbortSignal.any([deadline, this.#abort.signal]);
    const sendAll = options.handOver ? Promise.resolve() : this.#idle().then(() => this.#sendStoppedToAll(signal));
    const timedOut = new Promise<void>((resolve) =>
      deadline.addEventListener('abort', () => resolve(), { once: true }),
    );
    await Promise.race([sendAll, timedOut]);
    this.#abort.abort();
    await this.#transport.close();
  }

  status(): TrackerStatus[] {
    const objects = new Map<string, number>();
    const next = new Map<string, number>();
    // Trackers no group announces to any more (an extra tracker dropped, the last object naming one gone)
    // are left out; their state is kept in case they come back.
    const inUse = new Set(this.#extraTrackers);
    for (const group of this.#retired) for (const url of group.urls.keys()) inUse.add(url);
    for (const object of this.#objects.values()) {
      for (const group of object.groups) {
        for (const url of group.urls.keys()) inUse.add(url);
        const url = group.target ?? group.lastUrl ?? group.tiers[0]?.[0];
        if (url === undefined) continue;
        objects.set(url, (objects.get(url) ?? 0) + 1);
        const due = this.#timers.dueAt(group);
        if (due !== undefined && due < (next.get(url) ?? Number.POSITIVE_INFINITY)) next.set(url, due);
      }
    }
    return [...this.#trackers.values()]
      .filter((tracker) => inUse.has(tracker.url))
      .map((tracker) => ({
        url: tracker.url,
        objects: objects.get(tracker.url) ?? 0,
        lastAnnounceAt: tracker.lastAnnounceAt,
        lastSuccessAt: tracker.lastSuccessAt,
        nextAnnounceAt: next.get(tracker.url) ?? null,
        lastError: tracker.lastError,
        lastWarning: tracker.lastWarning,
        consecutiveFailures: tracker.failures,
        retryAt: tracker.downUntil > this.#clock.now() ? tracker.downUntil : null,
        peersSeen: tracker.peersSeen,
        announces: { ok: tracker.ok, failed: tracker.failed },
        extension: tracker.offer === undefined ? null : tracker.offer !== null,
        multiObject: tracker.offer?.batchPath !== undefined,
        intervalS: tracker.intervalS,
      }));
  }

  objectStatus(infoHash: string): ObjectAnnounceStatus | undefined {
    const object = this.#objects.get(infoHash.toLowerCase());
    if (object === undefined) return undefined;
    return {
      infoHash: object.infoHash,
      groups: object.groups.map((group) => {
        const url = group.lastUrl === null ? undefined : group.urls.get(group.lastUrl);
        return {
          tiers: group.tiers.map((tier) => [...tier]),
          lastUrl: group.lastUrl,
          lastAnnounceAt: group.lastAnnounceAt,
          nextAnnounceAt: this.#timers.dueAt(group) ?? null,
          lastError: group.lastError,
          seeds: url?.seeds ?? null,
          leechers: url?.leechers ?? null,
        };
      }),
    };
  }

  announceNow(infoHash?: string): void {
    const objects = infoHash === undefined ? [...this.#objects.values()] : [this.#objects.get(infoHash.toLowerCase())];
    for (const object of objects) {
      for (const group of object?.groups ?? []) {
        if (group.phase === 'idle') this.#timers.schedule(group, this.#clock.now());
      }
    }
  }

  async scrape(infoHash: string): Promise<ScrapeReport[]> {
    const object = this.#objects.get(infoHash.toLowerCase());
    if (object === undefined) return [];
    const urls = [...new Set(object.groups.flatMap((group) => group.tiers.flat()))];
    return Promise.all(
      urls.map(async (url): Promise<ScrapeReport> => {
        try {
          const counts = await this.#transport.scrape(url, [object.infoHashBytes], this.#abort.signal);
          const entry = counts.get(object.infoHash);
          if (entry !== undefined) return { url, counts: entry };
          return {
            url,
            error: { code: 'EDGEPEER_TRACKER_INVALID_RESPONSE', message: `${url}: no counts for the object` },
          };
        } catch (err) {
          return { url, error: errorState(err) };
        }
      }),
    );
  }

  // Objects and store events

  #addObject(stored: CatalogObject, delayMs: number): void {
    if (this.#stopping || this.#objects.has(stored.infoHash)) return;
    const metainfo = this.#options.store.metainfoOf(stored.infoHash);
    if (metainfo === undefined) {
      // An unreadable metainfo is the store's to report ('object-damaged'); this object is just not announced.
      const err = new StoreCorruptError(`the metainfo of ${stored.name} cannot be read; it is not announced`, {
        subject: stored.infoHash,
      });
      this.emit('announce-error', { infoHash: stored.infoHash, url: '', event: undefined, ...errorState(err) });
      return;
    }
    const object: ObjectState = {
      infoHash: stored.infoHash,
      infoHashBytes: Buffer.from(stored.infoHash, 'hex'),
      pieceCount: metainfo.pieceCount,
      pieceLength: metainfo.pieceLength,
      size: metainfo.length,
      bitfield: stored.bitfield,
      complete: stored.bitfield.count() === metainfo.pieceCount,
      completionDue: stored.bitfield.count() !== metainfo.pieceCount,
      groups: [],
      private: metainfo.private,
      bitmap: undefined,
    };
    const metainfoTiers =
      this.#options.metainfoTrackers === false
        ? []
        : metainfo.announceList
            .map((tier) => shuffled(tier.filter((url) => url.length > 0)))
            .filter((tier) => tier.length > 0);
    if (metainfoTiers.length > 0) this.#addGroup(object, metainfoTiers, null, delayMs);
    // BEP 27: a private object is announced only to the trackers its metainfo lists, never to extra ones.
    if (!object.private) for (const url of this.#extraTrackers) this.#addExtraGroup(object, url, delayMs);
    this.#objects.set(object.infoHash, object);
  }

  /** A group for an extra tracker, unless the object announces to that URL already (its metainfo lists it). */
  #addExtraGroup(object: ObjectState, url: string, delayMs: number): void {
    if (object.groups.some((group) => group.urls.has(url))) return;
    this.#addGroup(object, [[url]], url, delayMs);
  }

  #addGroup(object: ObjectState, tiers: string[][], extraUrl: string | null, delayMs: number): void {
    const group: GroupState = {
      object,
      tiers,
      urls: new Map(tiers.flat().map((url) => [url, newUrlState()])),
      phase: 'idle',
      target: null,
      completedPending: false,
      stopping: false,
      extraUrl,
      dirty: false,
      lastUrl: null,
      lastAnnounceAt: null,
      lastError: null,
    };
    for (const url of group.urls.keys()) this.#tracker(url);
    object.groups.push(group);
    this.#timers.schedule(group, this.#clock.now() + delayMs);
  }

  setTrackers(urls: string[]): void {
    const next = checkedTrackerUrls(urls);
    const dropped = new Set(this.#extraTrackers.filter((url) => !next.includes(url)));
    const added = next.filter((url) => !this.#extraTrackers.includes(url));
    this.#extraTrackers = next;
    if (this.#stopping || (dropped.size === 0 && added.length === 0)) return;
    for (const object of this.#objects.values()) {
      const kept: GroupState[] = [];
      for (const group of object.groups) {
        if (group.extraUrl !== null && dropped.has(group.extraUrl)) this.#retire(group);
        else kept.push(group);
      }
      object.groups = kept;
      // Spread over the change delay, as at start: a big store's first announces leave in rate-limited order.
      if (object.private) continue;
      for (const url of added) this.#addExtraGroup(object, url, Math.random() * this.#settings.changeDelayMs);
    }
  }

  #bitmapChanged(infoHash: string): void {
    const object = this.#objects.get(infoHash);
    if (object === undefined) return;
    object.bitmap = undefined;
    const complete = object.bitfield.count() === object.pieceCount;
    const justCompleted = complete && !object.complete && object.completionDue;
    if (justCompleted) object.completionDue = false;
    object.complete = complete;
    for (const group of object.groups) {
      if (justCompleted && [...group.urls.values()].some((url) => url.started)) group.completedPending = true;
      this.#announceSoon(group);
    }
  }

  #removeObject(infoHash: string): void {
    const object = this.#objects.get(infoHash);
    if (object === undefined) return;
    this.#objects.delete(infoHash);
    const transfer = this.#options.transferStats?.(infoHash);
    object.transferAtRemoval = transfer === undefined ? undefined : { ...transfer };
    for (const group of object.groups) this.#retire(group);
  }

  /** The group sends `stopped` where it was started (now if idle, else once its announce in flight ends), then goes. */
  #retire(group: GroupState): void {
    group.stopping = true;
    this.#retired.add(group);
    if (group.phase === 'idle') {
      this.#timers.remove(group);
      this.#dispatch(group);
    }
  }

  /** Brings the group's next announce forward to carry a change (not past the min interval unless an event is due). */
  #announceSoon(group: GroupState): void {
    if (group.phase === 'sending') {
      group.dirty = true;
      return;
    }
    if (group.phase !== 'idle') return;
    const now = this.#clock.now();
    let at = now + this.#settings.changeDelayMs;
    const url = group.lastUrl === null ? undefined : group.urls.get(group.lastUrl);
    if (!group.completedPending && url?.lastAt != null)
      at = Math.max(at, url.lastAt + this.#minSpacingMs(group.lastUrl!));
    at = this.#align(group, at);
    const due = this.#timers.dueAt(group);
    if (due === undefined || due > at) this.#timers.schedule(group, at);
  }

  #minSpacingMs(url: string): number {
    const tracker = this.#trackers.get(url);
    return Math.max(this.#settings.minSpacingMs, (tracker?.minIntervalS ?? 0) * 1000);
  }

  /** Aligns times for multi-object trackers to the batch grid, so that objects due together travel together. */
  #align(group: GroupState, at: number): number {
    const url = group.lastUrl ?? group.tiers[0]?.[0];
    const window = this.#settings.batchWindowMs;
    if (url === undefined || this.#trackers.get(url)?.offer?.batchPath === undefined || window <= 0) return at;
    return Math.ceil(at / window) * window;
  }

  // Choosing a tracker and queueing

  #dispatch(group: GroupState): void {
    if (this.#stopping) return;
    group.phase = 'idle';
    group.target = null;
    const now = this.#clock.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    for (const tier of group.tiers) {
      for (const url of tier) {
        const state = group.urls.get(url)!;
        if (group.stopping ? !state.started : state.disabled) continue;
        const tracker = this.#trackers.get(url)!;
        const readyAt = Math.max(state.retryAt, tracker.downUntil);
        if (readyAt > now && !group.stopping) {
          wakeAt = Math.min(wakeAt, readyAt);
          continue;
        }
        group.phase = 'queued';
        group.target = url;
        if (tracker.queue.length === 0) tracker.queuedSince = now;
        tracker.queue.push(group);
        this.#ready.add(tracker);
        this.#schedulePump(now);
        return;
      }
    }
    if (group.stopping) {
      group.phase = 'done';
      this.#retired.delete(group);
      return;
    }
    if (wakeAt < Number.POSITIVE_INFINITY) this.#timers.schedule(group, wakeAt);
  }

  #schedulePump(at: number): void {
    if (this.#stopping || at >= this.#pumpAt) return;
    if (this.#pumpTimer !== undefined) this.#clock.clearTimer(this.#pumpTimer);
    this.#pumpAt = at;
    this.#pumpTimer = this.#clock.setTimer(() => {
      this.#pumpTimer = undefined;
      this.#pumpAt = Number.POSITIVE_INFINITY;
      this.#pump();
    }, at - this.#clock.now());
  }

  /** Starts queued announces while concurrency and each tracker's rate allow. */
  #pump(): void {
    const settings = this.#settings;
    for (;;) {
      let started = false;
      let nextTokenAt = Number.POSITIVE_INFINITY;
      const now = this.#clock.now();
      for (const tracker of this.#ready) {
        if (this.#inFlight >= settings.maxConcurrent) return;
        if (tracker.queue.length === 0) {
          this.#ready.delete(tracker);
          continue;
        }
        if (tracker.downUntil > now) {
          // The tracker failed meanwhile: what was queued for it waits (or fails over) instead. A `stopped`
          // still gets its one try, so it stays (dispatching it again would queue it here again).
          const waiting = tracker.queue.filter((group) => !group.stopping);
          if (waiting.length > 0) {
            tracker.queue = tracker.queue.filter((group) => group.stopping);
            for (const group of waiting) this.#dispatch(group);
          }
          if (tracker.queue.length === 0) {
            this.#ready.delete(tracker);
            continue;
          }
        }
        // While its kind is unknown, or after a failure, a tracker gets one request at a time (a probe).
        if ((tracker.offer === undefined || tracker.failures > 0) && tracker.inFlight > 0) continue;
        const batchPath = tracker.offer?.batchPath;
        const batchSize = Math.min(settings.maxBatch, tracker.offer?.maxBatch ?? settings.maxBatch);
        if (
          batchPath !== undefined &&
          tracker.queue.length < batchSize &&
          now < tracker.queuedSince + settings.batchLingerMs
        ) {
          nextTokenAt = Math.min(nextTokenAt, tracker.queuedSince + settings.batchLingerMs);
          continue;
        }
        const rate = settings.maxRequestsPerSecond;
        tracker.tokens = Math.min(rate, tracker.tokens + ((now - tracker.tokensAt) * rate) / 1000);
        tracker.tokensAt = now;
        if (tracker.tokens < 1) {
          nextTokenAt = Math.min(nextTokenAt, now + ((1 - tracker.tokens) * 1000) / rate);
          continue;
        }
        tracker.tokens -= 1;
        started = true;
        if (batchPath !== undefined) {
          void this.#sendBatch(tracker, new URL(batchPath, tracker.url).href, tracker.queue.splice(0, batchSize));
          tracker.queuedSince = now;
        } else {
          void this.#sendOne(tracker, tracker.queue.shift()!);
        }
      }
      if (!started) {
        if (nextTokenAt < Number.POSITIVE_INFINITY) this.#schedulePump(Math.ceil(nextTokenAt));
        return;
      }
    }
  }

  // Sending and reading answers

  #params(group: GroupState, url: string, tracker: TrackerState): AnnounceParams {
    const object = group.object;
    const state = group.urls.get(url)!;
    const event: AnnounceEvent | undefined = group.stopping
      ? 'stopped'
      : !state.started
        ? 'started'
        : group.completedPending
          ? 'completed'
          : undefined;
    const transfer = object.transferAtRemoval ?? this.#options.transferStats?.(object.infoHash);
    // A plain tracker (one that did not answer with an offer) gets only the marker, not the bitmap. A UDP
    // answer cannot carry an offer, so UDP trackers always get the extension (in BEP 41 URL data).
    const plain = (tracker.offer === null && !tracker.udp) || event === 'stopped';
    const bitmap = plain ? undefined : bitmapOf(object);
    const acknowledged =
      !plain &&
      event === undefined &&
      state.ackedBitmap === bitmap &&
      state.ackedEpoch === tracker.epoch &&
      state.sinceBitmap < BITMAP_REFRESH_EVERY - 1;
    return {
      infoHash: object.infoHashBytes,
      peerId: this.#peerId,
      port: this.#options.port,
      uploaded: transfer?.uploaded ?? 0,
      downloaded: transfer?.downloaded ?? 0,
      left: bytesLeft(object),
      event,
      numWant: event === 'stopped' ? 0 : this.#settings.numWant,
      key: this.#key,
      trackerId: state.trackerId,
      ip: this.#options.ip,
      extension:
        plain || acknowledged
          ? { urls: plain ? [] : this.#httpBaseUrls }
          : { pieceCount: object.pieceCount, size: object.size, bitmap, urls: this.#httpBaseUrls },
    };
  }

  /** One request under way, for one group or a multi-object batch of them. */
  #begin(tracker: TrackerState, groups: GroupState[]): void {
    for (const group of groups) {
      group.phase = 'sending';
      group.dirty = false;
    }
    tracker.inFlight++;
    this.#inFlight++;
  }

  #end(tracker: TrackerState): void {
    tracker.inFlight--;
    this.#inFlight--;
    if (this.#inFlight === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    this.#schedulePump(this.#clock.now());
  }

  /** Resolves once no announce is under way. */
  #idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #sendOne(tracker: TrackerState, group: GroupState): Promise<void> {
    const url = group.target!;
    if (group.stopping && !group.urls.get(url)!.started) return this.#dispatch(group);
    this.#begin(tracker, [group]);
    const params = this.#params(group, url, tracker);
    try {
      const sent = await this.#transport.announce(url, params, this.#abort.signal);
      this.#trackerAnswered(tracker, sent.result, params);
      this.#groupAnswered(group, url, params, sent.result, sent.bitmapSent);
    } catch (err) {
      this.#trackerFailed(tracker, err);
      this.#groupFailed(group, url, params, err);
    } finally {
      this.#end(tracker);
    }
  }

  async #sendBatch(tracker: TrackerState, batchUrl: string, groups: GroupState[]): Promise<void> {
    const url = tracker.url;
    const sendable = groups.filter((group) => !(group.stopping && !group.urls.get(url)!.started));
    for (const group of groups) if (!sendable.includes(group)) this.#dispatch(group);
    if (sendable.length === 0) return;
    this.#begin(tracker, sendable);
    const params = sendable.map((group) => this.#params(group, url, tracker));
    try {
      const answer = await this.#transport.announceBatch(batchUrl, this.#batchOf(params), this.#abort.signal);
      this.#trackerAnswered(tracker, answer.shared, params[0]!);
      sendable.forEach((group, i) => {
        const result = answer.shared.failureReason === undefined ? answer.results[i]! : answer.shared;
        this.#groupAnswered(group, url, params[i]!, result, true);
      });
    } catch (err) {
      if (err instanceof TrackerError && err.code === 'EDGEPEER_TRACKER_STATUS') {
        // The tracker no longer offers the multi-object announce: back to one announce per object.
        tracker.offer = undefined;
      } else {
        this.#trackerFailed(tracker, err);
      }
      sendable.forEach((group, i) => {
        this.#groupFailed(group, url, params[i]!, err, tracker.offer !== undefined);
      });
    } finally {
      this.#end(tracker);
    }
  }

  #batchOf(params: AnnounceParams[]): BatchAnnounce {
    const first = params[0]!;
    return {
      peerId: first.peerId,
      port: first.port,
      key: first.key,
      ip: first.ip,
      urls: this.#httpBaseUrls,
      numWant: this.#settings.numWant,
      trackerId: first.trackerId,
      entries: params.map((entry) => ({
        infoHash: entry.infoHash,
        uploaded: entry.uploaded,
        downloaded: entry.downloaded,
        left: entry.left,
        event: entry.event,
        extension:
          entry.extension?.pieceCount === undefined
            ? undefined
            : { pieceCount: entry.extension.pieceCount, size: entry.extension.size, bitmap: entry.extension.bitmap },
      })),
    };
  }

  /**
   * Tracker-wide bookkeeping for an answer to a request (a failure reason also proves the tracker is up).
   * Multi-object entries are not passed here: their `ep` carries piece URLs, not the tracker's offer.
   */
  #trackerAnswered(tracker: TrackerState, result: AnnounceResult, params: AnnounceParams): void {
    const now = this.#clock.now();
    tracker.failures = 0;
    tracker.downUntil = 0;
    tracker.lastAnnounceAt = now;
    if (result.trackerId !== undefined) {
      if (tracker.trackerId !== undefined && tracker.trackerId !== result.trackerId) tracker.epoch++;
      tracker.trackerId = result.trackerId;
    }
    if (result.failureReason !== undefined) return;
    tracker.lastSuccessAt = now;
    if (result.interval !== undefined && result.interval > 0) tracker.intervalS = result.interval;
    if (result.minInterval !== undefined) tracker.minIntervalS = result.minInterval;
    if (result.extension !== undefined) tracker.offer = result.extension;
    else if (params.extension !== undefined && tracker.offer === undefined) tracker.offer = null;
  }

  #trackerFailed(tracker: TrackerState, err: unknown): void {
    const now = this.#clock.now();
    tracker.failures++;
    tracker.lastAnnounceAt = now;
    tracker.downUntil = now + this.#backoff(tracker.failures);
    tracker.lastError = { ...errorState(err), at: now };
  }

  #groupAnswered(
    group: GroupState,
    url: string,
    params: AnnounceParams,
    result: AnnounceResult,
    bitmapSent: boolean,
  ): void {
    const now = this.#clock.now();
    const state = group.urls.get(url)!;
    const tracker = this.#trackers.get(url)!;
    state.lastAt = now;
    group.lastAnnounceAt = now;
    if (result.warning !== undefined) tracker.lastWarning = result.warning;
    if (result.failureReason !== undefined) {
      tracker.failed++;
      tracker.lastError = { code: 'EDGEPEER_TRACKER_FAILURE', message: result.failureReason, at: now };
      state.ackedBitmap = undefined;
      state.failures++;
      if (result.retryIn === 'never') state.disabled = true;
      const retryMs = typeof result.retryIn === 'number' ? result.retryIn * 60_000 : this.#backoff(state.failures);
      state.retryAt = now + Math.min(retryMs, this.#settings.backoffMaxMs);
      if (group.stopping) state.started = false;
      group.lastError = result.failureReason;
      this.emit('announce-error', {
        infoHash: group.object.infoHash,
        url,
        event: params.event,
        code: 'EDGEPEER_TRACKER_FAILURE',
        message: result.failureReason,
      });
      this.#dispatch(group);
      return;
    }
    tracker.ok++;
    state.failures = 0;
    state.retryAt = 0;
    state.started = params.event !== 'stopped';
    if (result.trackerId !== undefined) state.trackerId = result.trackerId;
    const sentBitmap = params.extension?.bitmap;
    if (sentBitmap !== undefined && bitmapSent) {
      state.ackedBitmap = sentBitmap;
      state.ackedEpoch = tracker.epoch;
      state.sinceBitmap = 0;
    } else {
      state.sinceBitmap++;
      // The tracker restarted since it last saw this bitmap: a partial object sends it again soon.
      if (state.ackedBitmap !== undefined && state.ackedEpoch !== tracker.epoch && !group.object.complete)
        group.dirty = true;
    }
    const seeds = result.complete ?? null;
    const leechers = result.incomplete ?? null;
    tracker.peersSeen += (seeds ?? 0) + (leechers ?? 0) - ((state.seeds ?? 0) + (state.leechers ?? 0));
    state.seeds = seeds;
    state.leechers = leechers;
    if (params.left === 0) group.completedPending = false;
    group.lastUrl = url;
    group.lastError = null;
    moveToFront(group.tiers, url);
    this.emit('announce', { infoHash: group.object.infoHash, url, event: params.event, result, bitmapSent });
    if (group.stopping) {
      this.#dispatch(group);
      return;
    }
    // A bitmap too large for a GET goes by the multi-object announce as soon as the tracker offers it.
    const bitmapPending =
      !bitmapSent && params.extension?.bitmap !== undefined && tracker.offer?.batchPath !== undefined;
    const intervalMs = (result.interval ?? tracker.intervalS ?? this.#settings.intervalMs / 1000) * 1000;
    let at = now + intervalMs * (1 - this.#settings.jitter * Math.random());
    if (group.dirty || bitmapPending)
      at = Math.min(at, now + Math.max(this.#settings.changeDelayMs, this.#minSpacingMs(url)));
    group.dirty = false;
    group.phase = 'idle';
    group.target = null;
    this.#timers.schedule(group, this.#align(group, at));
  }

  #groupFailed(group: GroupState, url: string, params: AnnounceParams, err: unknown, counted = true): void {
    const state = group.urls.get(url)!;
    const error = errorState(err);
    state.ackedBitmap = undefined;
    if (error.code === 'EDGEPEER_TRACKER_UNSUPPORTED') state.disabled = true;
    if (group.stopping) state.started = false;
    if (counted) {
      this.#trackers.get(url)!.failed++;
      group.lastError = error.message;
      this.emit('announce-error', { infoHash: group.object.infoHash, url, event: params.event, ...error });
    }
    this.#dispatch(group);
  }

  #backoff(failures: number): number {
    const { backoffInitialMs, backoffMaxMs } = this.#settings;
    return Math.min(backoffInitialMs * 2 ** Math.min(failures - 1, 30), backoffMaxMs);
  }

  #tracker(url: string): TrackerState {
    let tracker = this.#trackers.get(url);
    if (tracker === undefined) {
      tracker = {
        url,
        udp: trackerScheme(url) === 'udp',
        offer: undefined,
        failures: 0,
        downUntil: 0,
        lastAnnounceAt: null,
        lastSuccessAt: null,
        lastError: null,
        lastWarning: null,
        ok: 0,
        failed: 0,
        peersSeen: 0,
        intervalS: null,
        minIntervalS: null,
        tokens: this.#settings.maxRequestsPerSecond,
        tokensAt: this.#clock.now(),
        trackerId: undefined,
        epoch: 0,
        queue: [],
        queuedSince: 0,
        inFlight: 0,
      };
      this.#trackers.set(url, tracker);
    }
    return tracker;
  }

  // Shutdown

  /** `stopped` to every tracker that was told `started`, many objects per request where offered. */
  async #sendStoppedToAll(signal: AbortSignal): Promise<void> {
    const byTracker = new Map<TrackerState, GroupState[]>();
    const groups = [...[...this.#objects.values()].flatMap((object) => object.groups), ...this.#retired];
    for (const group of groups) {
      group.stopping = true;
      for (const [url, state] of group.urls) {
        if (!state.started) continue;
        const tracker = this.#trackers.get(url)!;
        const list = byTracker.get(tracker) ?? [];
        list.push(group);
        byTracker.set(tracker, list);
      }
    }
    const tasks: Array<() => Promise<void>> = [];
    for (const [tracker, groups] of byTracker) {
      const batchPath = tracker.offer?.batchPath;
      if (batchPath !== undefined) {
        const size = Math.min(this.#settings.maxBatch, tracker.offer?.maxBatch ?? this.#settings.maxBatch);
        for (let i = 0; i < groups.length; i += size) {
          const params = groups.slice(i, i + size).map((group) => this.#params(group, tracker.url, tracker));
          tasks.push(async () => {
            await this.#transport.announceBatch(new URL(batchPath, tracker.url).href, this.#batchOf(params), signal);
          });
        }
      } else {
        for (const group of groups) {
          const params = this.#params(group, tracker.url, tracker);
          tasks.push(async () => {
            await this.#transport.announce(tracker.url, params, signal);
          });
        }
      }
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tasks.length && !signal.aborted) {
        const task = tasks[next++]!;
        await task().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#settings.maxConcurrent, tasks.length) }, worker));
  }
}

function newUrlState(): UrlState {
  return {
    ackedBitmap: undefined,
    ackedEpoch: 0,
    sinceBitmap: 0,
    started: false,
    failures: 0,
    retryAt: 0,
    disabled: false,
    lastAt: null,
    seeds: null,
    leechers: null,
  };
}

/** Bytes the agent still lacks: whole pieces, the last one possibly shorter. */
function bytesLeft(object: ObjectState): number {
  const held = object.bitfield.count();
  if (held === object.pieceCount) return 0;
  let heldBytes = held * object.pieceLength;
  const last = object.pieceCount - 1;
  if (last >= 0 && object.bitfield.get(last)) heldBytes -= object.pieceCount * object.pieceLength - object.size;
  return Math.max(0, object.size - heldBytes);
}

function bitmapOf(object: ObjectState): string {
  object.bitmap ??= encodeBitmap(object.bitfield.toBuffer(), object.pieceCount);
  return object.bitmap;
}

/** BEP 12: the tracker that answered moves to the front of its tier. */
function moveToFront(tiers: string[][], url: string): void {
  for (const tier of tiers) {
    const index = tier.indexOf(url);
    if (index > 0) {
      tier.splice(index, 1);
      tier.unshift(url);
    }
    if (index >= 0) return;
  }
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function errorState(err: unknown): { code: string; message: string } {
  if (isEdgepeerError(err)) return { code: err.code, message: err.message };
  return { code: 'EDGEPEER_TRACKER_UNREACHABLE', message: err instanceof Error ? err.message : String(err) };
}
