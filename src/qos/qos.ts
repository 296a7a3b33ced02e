// The egress limiter the peer wire and HTTP(S) servers share. A server opens a Flow per connection (wire)
// or response (HTTP) and asks it before each send; a flow draws on every bucket that applies to it (global,
// its protocol, its class, its object, its client address). A send that finds a bucket empty waits in its
// class's queue; one timer for all queues serves them, classes by deficit round robin on their weights, so
// under contention each class gets its share and an idle class's share goes to the others.
// Not binding (tokens at hand with room to spare, nobody waiting), a send costs a few comparisons per
// bucket: no clock read (bucket.ts), no timer, no allocation. Rate limiting only delays sends; what is sent
// is what the server read and checked.
import { burstOf, TokenBucket } from './bucket.ts';
import { msUntilAlt } from './schedule.ts';
import { DEFAULT_CLASS, DEFAULT_QOS, PROTOCOLS, type Protocol, type QosSettings, resolveQos } from './settings.ts';

/**
 * DRR quantum: bytes a class of weight 1 may send per round, and the most one grant lets a flow send before
 * it asks again: 2 ms of the global rate, at least 64 KiB (one HTTP chunk, four blocks). Large enough that
 * one timer tick serves a fast flow for a while, small enough that classes alternate finely.
 */
function quantumOf(rate: number): number {
  return Math.max(64 * 1024, Math.ceil(rate / 500));
}
/** After a send had to wait, sends go through the queues (not straight to the buckets) this long, so classes keep their shares. */
const CONTENDED_MS = 50;
/** The most an HTTP response sends per grant, so that a 16 MiB piece does not overdraw the buckets at once. */
export const QOS_CHUNK_BYTES = 64 * 1024;

/** A keyed bucket (per object, per client) with the flows using it, dropped with the last. */
interface SharedBucket {
  bucket: TokenBucket;
  users: number;
}

class ClassState {
  readonly name: string;
  weight: number;
  readonly bucket: TokenBucket;
  deficit = 0;
  /** A new round of DRR starts at the next visit: the class gets its quantum. */
  fresh = true;
  head: Flow | null = null;
  tail: Flow | null = null;
  waiting = 0;
  /** Bytes granted since start, for rates in status. */
  sentBytes = 0;
  /** Bytes per second over the last full second, and the count it started from. */
  currentRate = 0;
  sentAtSample = 0;

  constructor(name: string, weight: number, rate: number, now: number) {
    this.name = name;
    this.weight = weight;
    this.bucket = new TokenBucket(rate, burstOf(rate), now);
  }
}

export interface QosClassStatus {
  name: string;
  weight: number;
  rate: number;
  sentBytes: number;
  /** Bytes per second over the last second. */
  currentRate: number;
  waiting: number;
}

export interface QosStatus {
  /** False when no limit is set: servers skip the limiter altogether. */
  active: boolean;
  settings: QosSettings;
  /** The global rate in effect (altRate inside altWindow). */
  effectiveRate: number;
  altActive: boolean;
  sentBytes: Record<Protocol, number>;
  /** Bytes per second over the last second, per protocol. */
  currentRates: Record<Protocol, number>;
  /** Sends that had to wait for tokens, and the flows waiting now. */
  delayedSends: number;
  waitingFlows: number;
  waitingBytes: number;
  classes: QosClassStatus[];
  shedding: SheddingStatus;
}

export interface SheddingStatus {
  /** Why new requests are refused now (e.g. "connections 2100 > 2000"), or null. */
  active: string | null;
  /** New requests refused since start: HTTP(S) 503 with Retry-After, peer wire BEP 6 rejects. */
  shed: Record<Protocol, number>;
  /** Times shedding started since start. */
  episodes: number;
  /** The figures it last compared (every 100 ms while a threshold is set). */
  connections: number;
  queuedBytes: number;
  loopDelayMs: number;
  /**
   * Whether trackers list this agent: after shedding for 10 s it announces `stopped` (every tracker then
   * leaves it out of peer lists, so new peers go elsewhere), and `started` after 30 s without shedding.
   */
  trackerListing: 'listed' | 'withdrawn';
  withdrawals: number;
}

/** Shedding this long withdraws the agent from trackers' peer lists; this long calm lists it again. */
export const WITHDRAW_AFTER_MS = 10_000;
export const RETURN_AFTER_MS = 30_000;

/** What the load shedding compares with its thresholds, read from the servers by the agent. */
export interface LoadFigures {
  connections: number;
  /** Bytes queued for sending in the servers (the limiter's waiters are added here). */
  queuedBytes: number;
}

/** How often load is sampled while a shedding threshold is set. */
const LOAD_SAMPLE_MS = 100;

const NO_BUCKETS: TokenBucket[] = [];

/** A count of bytes: a field that starts as a number, so that V8 adds to it in place. */
class SentCounter {
  bytes = 0;
}

/** One connection's or response's claim on the limiter. */
export class Flow {
  readonly protocol: Protocol;
  /** Its protocol's count of bytes sent. */
  readonly sent: SentCounter;
  /** The sender's own resume (a connection's), or undefined: then the awaited whenSendable() goes on. */
  readonly #onResume: (() => void) | undefined;
  buckets: TokenBucket[];
  cls: ClassState;
  /** Bytes waiting to be sent (0: not waiting). */
  pending = 0;
  /** Bytes the scheduler granted that the flow may still send without asking (negative: sent beyond). */
  credit = 0;
  prev: Flow | null = null;
  next: Flow | null = null;
  queued = false;
  closed = false;
  readonly #qos: Qos;
  readonly objectKey: string;
  readonly clientKey: string;
  /** The subscriber of the request's token, if any: its class wins over the object's. */
  readonly subscriber: string | undefined;
  /** The object's and the client address's buckets, once their limits are set. */
  objectShared: SharedBucket | null = null;
  clientShared: SharedBucket | null = null;

  #waiter: (() => void) | null = null;

  constructor(
    qos: Qos,
    protocol: Protocol,
    sent: SentCounter,
    objectKey: string,
    clientKey: string,
    resume: (() => void) | undefined,
    subscriber: string | undefined,
  ) {
    this.#qos = qos;
    this.protocol = protocol;
    this.sent = sent;
    this.objectKey = objectKey;
    this.clientKey = clientKey;
    this.subscriber = subscriber;
    this.#onResume = resume;
    this.buckets = NO_BUCKETS;
    this.cls = undefined as unknown as ClassState;
  }

  /** Called when a send that had to wait may go: the sender tries again and its take() succeeds. */
  resume(): void {
    if (this.#onResume !== undefined) {
      this.#onResume();
      return;
    }
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }

  /**
   * True: send `bytes` now (tokens taken). False: wait; `resume` is called when it may go, and the next
   * take() succeeds.
   */
  take(bytes: number): boolean {
    return this.#qos.take(this, bytes);
  }

  /**
   * For senders that await (HTTP bodies) and opened the flow without `resume`: undefined when `bytes` may
   * go now, else a promise resolved once they were granted.
   */
  whenSendable(bytes: number): Promise<void> | undefined {
    if (this.take(bytes)) return undefined;
    return new Promise<void>((resolve) => {
      this.#waiter = () => {
        this.take(bytes);
        resolve();
      };
    });
  }

  /** Leaves the limiter (connection closed, response done). Idempotent. */
  close(): void {
    this.#qos.closeFlow(this);
  }
}

export class Qos {
  #settings: QosSettings = DEFAULT_QOS;
  #active = false;
  readonly #clock: () => number;
  readonly #global: TokenBucket;
  readonly #protocol: Record<Protocol, TokenBucket>;
  readonly #objects = new Map<string, SharedBucket>();
  readonly #clients = new Map<string, SharedBucket>();
  #classes: ClassState[] = [];
  #classByName = new Map<string, ClassState>();
  #cursor = 0;
  #waiting = 0;
  #waitingBytes = 0;
  #delayed = 0;
  /** Bytes sent per protocol; a flow adds to its protocol's counter directly (no keyed lookup per send). */
  readonly #sentBy: Record<Protocol, SentCounter> = {
    wire: new SentCounter(),
    http: new SentCounter(),
    https: new SentCounter(),
  };
  readonly #rates: Record<Protocol, number> = { wire: 0, http: 0, https: 0 };
  #sentAtSample: Record<Protocol, number> = { wire: 0, http: 0, https: 0 };
  /** Samples the counters once a second for the current rates (while limits are set). */
  #rateTimer: NodeJS.Timeout | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** Until then (clock), every send goes through the queues; 0: not contended (a send reads the clock to end it). */
  #contendedUntil = 0;
  /** When #timer fires, on the clock. */
  #timerAt = 0;
  #altTimer: NodeJS.Timeout | null = null;
  #altActive = false;
  readonly #now: () => Date;
  readonly #flows = new Set<Flow>();
  #load: (() => LoadFigures) | null = null;
  #loadTimer: NodeJS.Timeout | null = null;
  #lastSampleAt = 0;
  #shedding: string | null = null;
  readonly #shed: Record<Protocol, number> = { wire: 0, http: 0, https: 0 };
  #episodes = 0;
  #figures = { connections: 0, queuedBytes: 0, loopDelayMs: 0 };
  /** Clock time shedding last started or stopped. */
  #sheddingChangedAt = 0;
  #withdrawn = false;
  #withdrawals = 0;
  #onListing: ((withdrawn: boolean) => void) | null = null;

  constructor(settings: Partial<QosSettings> = {}, options: { clock?: () => number; now?: () => Date } = {}) {
    this.#clock = options.clock ?? (() => performance.now());
    this.#now = options.now ?? (() => new Date());
    const now = this.#clock();
    this.#global = new TokenBucket(0, 0, now);
    this.#protocol = {
      wire: new TokenBucket(0, 0, now),
      http: new TokenBucket(0, 0, now),
      https: new TokenBucket(0, 0, now),
    };
    this.update(settings as Record<string, unknown>, DEFAULT_QOS);
  }

  get active(): boolean {
    return this.#active;
  }

  get settings(): QosSettings {
    return this.#settings;
  }

  /**
   * Applies new settings at once (admin API, SIGHUP): rates of existing buckets change in place, flows
   * move to their new classes. `given` is partial over `base` (the current settings unless said).
   * Throws InvalidArgumentError, changing nothing, when a value is wrong.
   */
  update(given: Record<string, unknown>, base: QosSettings = this.#settings): QosSettings {
    const settings = resolveQos(given, base);
    this.#settings = settings;
    const now = this.#clock();
    this.#applyAlt();
    for (const protocol of PROTOCOLS) {
      const rate = settings[`${protocol}Rate`];
      this.#protocol[protocol].set(rate, burstOf(rate), now);
    }
    for (const shared of this.#objects.values())
      shared.bucket.set(settings.objectRate, burstOf(settings.objectRate), now);
    for (const shared of this.#clients.values())
      shared.bucket.set(settings.clientRate, burstOf(settings.clientRate), now);
    // Classes: keep the state (queues, counters) of those that stay.
    const classes: ClassState[] = [];
    const byName = new Map<string, ClassState>();
    const defs = settings.classes.some((c) => c.name === DEFAULT_CLASS)
      ? settings.classes
      : [{ name: DEFAULT_CLASS, weight: 1, rate: 0 }, ...settings.classes];
    for (const def of defs) {
      const cls = this.#classByName.get(def.name) ?? new ClassState(def.name, def.weight, def.rate, now);
      cls.weight = def.weight;
      cls.bucket.set(def.rate, burstOf(def.rate), now);
      classes.push(cls);
      byName.set(def.name, cls);
    }
    const dropped = this.#classes.filter((c) => !byName.has(c.name));
    this.#classes = classes;
    this.#classByName = byName;
    this.#cursor = 0;
    this.#active =
      this.#global.limited ||
      PROTOCOLS.some((p) => this.#protocol[p].limited) ||
      settings.objectRate > 0 ||
      settings.clientRate > 0 ||
      settings.classes.some((c) => c.rate > 0) ||
      (settings.altWindow !== null && settings.altRate > 0);
    for (const flow of this.#flows) this.#bind(flow);
    // Waiters of a class that went away, and of a class whose flows moved, go to their flows' classes.
    for (const cls of [...dropped, ...classes]) {
      for (let flow = cls.head; flow !== null; ) {
        const next = flow.next;
        if (flow.cls !== cls) {
          this.#unqueue(flow, cls);
          this.#enqueue(flow);
        }
        flow = next;
      }
    }
    this.#reschedule(0);
    this.#watchLoad();
    if (this.#active && this.#rateTimer === null) {
      this.#rateTimer = setInterval(() => this.#sampleRates(), 1000);
      this.#rateTimer.unref();
    }
    return settings;
  }

  /**
   * A flow for a connection or response, or null when no limit is set (the server then sends freely).
   * `resume` is called when a send that waited may go (without it: await Flow.whenSendable); `subscriber`
   * is the one a signed URL token named, for qos.subscriberClasses.
   */
  open(
    protocol: Protocol,
    infoHash: string,
    clientAddress: string,
    resume?: () => void,
    subscriber?: string,
  ): Flow | null {
    if (!this.#active) return null;
    const flow = new Flow(this, protocol, this.#sentBy[protocol], infoHash, clientAddress, resume, subscriber);
    this.#flows.add(flow);
    this.#bind(flow);
    return flow;
  }

  take(flow: Flow, bytes: number): boolean {
    if (flow.closed) return false; // its sender is done (an awaiting one is resumed by close)
    if (flow.credit > 0) {
      flow.credit -= bytes;
      flow.sent.bytes += bytes;
      flow.cls.sentBytes += bytes;
      return true;
    }
    if (flow.queued) return false;
    if (this.#waiting === 0) {
      // Not binding: every bucket covers the send with room to spare; no clock read (bucket.ts).
      if (this.#contendedUntil === 0 && this.#spendable(flow, bytes)) {
        const buckets = flow.buckets;
        for (let i = 0; i < buckets.length; i++) buckets[i]!.spend(bytes);
        flow.sent.bytes += bytes;
        flow.cls.sentBytes += bytes;
        return true;
      }
      const now = this.#clock();
      // Contention is over: the next sends may take the path above again.
      if (this.#contendedUntil !== 0 && now >= this.#contendedUntil) this.#contendedUntil = 0;
      if (this.#contendedUntil === 0 && this.#ready(flow, now)) {
        this.#charge(flow, bytes);
        flow.sent.bytes += bytes;
        flow.cls.sentBytes += bytes;
        return true;
      }
    }
    this.#delayed++;
    // Sent beyond its last grant: the next grant covers that first.
    flow.pending = bytes - flow.credit;
    this.#enqueue(flow);
    // Served no later than its own buckets allow (another class's waiters must not hold it longer).
    const now = this.#clock();
    this.#contendedUntil = now + CONTENDED_MS;
    this.#ready(flow, now);
    const wait = this.#waitMs(flow);
    if (this.#timer === null || now + wait < this.#timerAt - 1) this.#reschedule(wait);
    return false;
  }

  closeFlow(flow: Flow): void {
    if (flow.closed) return;
    flow.closed = true;
    // What it sent beyond its last grant is charged now, or a flow ending in debt would go over the limits.
    if (flow.credit < 0) {
      // Sent at unknown times since the buckets' last refills: counted as the fast path's sends are.
      for (const bucket of flow.buckets) bucket.spend(-flow.credit);
    }
    flow.credit = 0;
    if (flow.queued) {
      this.#unqueue(flow, flow.cls);
      flow.resume(); // a sender awaiting it goes on (and finds its connection closed)
    }
    this.#flows.delete(flow);
    if (flow.objectShared !== null) flow.objectShared.users--;
    if (flow.clientShared !== null) flow.clientShared.users--;
  }

  status(): QosStatus {
    return {
      active: this.#active,
      settings: this.#settings,
      effectiveRate: this.#global.rate,
      altActive: this.#altActive,
      sentBytes: this.#sentBytes(),
      currentRates: { ...this.#rates },
      delayedSends: this.#delayed,
      waitingFlows: this.#waiting,
      waitingBytes: this.#waitingBytes,
      shedding: {
        active: this.#shedding,
        shed: { ...this.#shed },
        episodes: this.#episodes,
        ...this.#figures,
        trackerListing: this.#withdrawn ? 'withdrawn' : 'listed',
        withdrawals: this.#withdrawals,
      },
      classes: this.#classes.map((c) => ({
        name: c.name,
        weight: c.weight,
        rate: c.bucket.rate,
        sentBytes: c.sentBytes,
        currentRate: c.currentRate,
        waiting: c.waiting,
      })),
    };
  }

  /** Bytes waiting for tokens now (load shedding reads it). */
  get waitingBytes(): number {
    return this.#waitingBytes;
  }

  /**
   * Load shedding: false when new requests are refused now (counted); the server answers 503 with
   * Retry-After (HTTP) or a BEP 6 reject (peer wire). Requests admitted before go on.
   */
  admit(protocol: Protocol): boolean {
    if (this.#shedding === null) return true;
    this.#shed[protocol]++;
    return false;
  }

  get shedding(): boolean {
    return this.#shedding !== null;
  }

  /** Whole seconds for Retry-After. */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.round(this.#settings.retryAfterMs / 1000));
  }

  /** Where the load figures come from; sampled every 100 ms while a shedding threshold is set. */
  watchLoad(load: () => LoadFigures, onListing?: (withdrawn: boolean) => void): void {
    this.#load = load;
    this.#onListing = onListing ?? null;
    this.#watchLoad();
  }

  /**
   * Compares the load with the thresholds now (the timer calls it). Shedding starts above any threshold
   * and ends once every figure is below 90 % of its threshold, so it does not flap at the edge.
   * `loopDelayMs`: how late the sampling timer fired, the event loop's delay.
   */
  sampleLoad(loopDelayMs = 0): void {
    const settings = this.#settings;
    const load = this.#load?.() ?? { connections: 0, queuedBytes: 0 };
    const queuedBytes = load.queuedBytes + this.#waitingBytes;
    this.#figures = { connections: load.connections, queuedBytes, loopDelayMs: Math.round(loopDelayMs) };
    const over = (value: number, limit: number, factor: number) => limit > 0 && value > limit * factor;
    const reasonAbove = (factor: number): string | null =>
      over(load.connections, settings.shedConnections, factor)
        ? `connections ${load.connections} > ${settings.shedConnections}`
        : over(queuedBytes, settings.shedQueuedBytes, factor)
          ? `queued bytes ${queuedBytes} > ${settings.shedQueuedBytes}`
          : over(loopDelayMs, settings.shedLoopDelayMs, factor)
            ? `event loop delay ${Math.round(loopDelayMs)} ms > ${settings.shedLoopDelayMs} ms`
            : null;
    const now = this.#clock();
    if (this.#shedding === null) {
      const reason = reasonAbove(1);
      if (reason !== null) {
        this.#shedding = reason;
        this.#episodes++;
        this.#sheddingChangedAt = now;
      }
    } else if (reasonAbove(0.9) === null) {
      this.#shedding = null;
      this.#sheddingChangedAt = now;
    }
    const since = now - this.#sheddingChangedAt;
    if (!this.#withdrawn && this.#shedding !== null && since >= WITHDRAW_AFTER_MS) {
      this.#withdrawn = true;
      this.#withdrawals++;
      this.#onListing?.(true);
    } else if (this.#withdrawn && this.#shedding === null && since >= RETURN_AFTER_MS) {
      this.#withdrawn = false;
      this.#onListing?.(false);
    }
  }

  #watchLoad(): void {
    const s = this.#settings;
    const wanted = s.shedConnections > 0 || s.shedQueuedBytes > 0 || s.shedLoopDelayMs > 0;
    if (!wanted) {
      if (this.#loadTimer !== null) clearInterval(this.#loadTimer);
      this.#loadTimer = null;
      this.#shedding = null;
      if (this.#withdrawn) {
        this.#withdrawn = false;
        this.#onListing?.(false);
      }
      return;
    }
    if (this.#loadTimer !== null) return;
    this.#lastSampleAt = performance.now();
    this.#loadTimer = setInterval(() => {
      const now = performance.now();
      const late = now - this.#lastSampleAt - LOAD_SAMPLE_MS;
      this.#lastSampleAt = now;
      this.sampleLoad(Math.max(0, late));
    }, LOAD_SAMPLE_MS);
    this.#loadTimer.unref();
  }

  /** Stops the timers (the servers have closed their flows, or are about to). */
  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#altTimer !== null) clearTimeout(this.#altTimer);
    if (this.#rateTimer !== null) clearInterval(this.#rateTimer);
    if (this.#loadTimer !== null) clearInterval(this.#loadTimer);
    this.#loadTimer = null;
    this.#timer = null;
    this.#altTimer = null;
    this.#rateTimer = null;
  }

  #sentBytes(): Record<Protocol, number> {
    return { wire: this.#sentBy.wire.bytes, http: this.#sentBy.http.bytes, https: this.#sentBy.https.bytes };
  }

  #sampleRates(): void {
    this.#sweep();
    const sent = this.#sentBytes();
    for (const protocol of PROTOCOLS) this.#rates[protocol] = sent[protocol] - this.#sentAtSample[protocol];
    this.#sentAtSample = sent;
    for (const cls of this.#classes) {
      cls.currentRate = cls.sentBytes - cls.sentAtSample;
      cls.sentAtSample = cls.sentBytes;
    }
  }

  // Internals

  /**
   * The buckets of a flow under the current settings: only limited ones. Object and client buckets are
   * shared by the flows of one object or address and kept a while after the last (swept once a second),
   * so that a client's next request finds its bucket, tokens and all, without an allocation.
   */
  #bind(flow: Flow): void {
    const settings = this.#settings;
    if (flow.objectShared === null && settings.objectRate > 0)
      flow.objectShared = this.#acquire(this.#objects, flow.objectKey, settings.objectRate);
    if (flow.clientShared === null && settings.clientRate > 0)
      flow.clientShared = this.#acquire(this.#clients, flow.clientKey, settings.clientRate);
    const className =
      (flow.subscriber !== undefined && Object.hasOwn(settings.subscriberClasses, flow.subscriber)
        ? settings.subscriberClasses[flow.subscriber]
        : undefined) ??
      settings.objectClasses[flow.objectKey] ??
      DEFAULT_CLASS;
    flow.cls = this.#classByName.get(className) ?? this.#classByName.get(DEFAULT_CLASS)!;
    // Built per flow without a temporary array: this runs once per HTTP response.
    const buckets: TokenBucket[] = [];
    if (this.#global.limited) buckets.push(this.#global);
    const protocolBucket = this.#protocol[flow.protocol];
    if (protocolBucket.limited) buckets.push(protocolBucket);
    if (flow.cls.bucket.limited) buckets.push(flow.cls.bucket);
    if (flow.objectShared?.bucket.limited) buckets.push(flow.objectShared.bucket);
    if (flow.clientShared?.bucket.limited) buckets.push(flow.clientShared.bucket);
    flow.buckets = buckets;
  }

  #acquire(map: Map<string, SharedBucket>, key: string, rate: number): SharedBucket {
    let shared = map.get(key);
    if (shared === undefined) {
      shared = { bucket: new TokenBucket(rate, burstOf(rate), this.#clock()), users: 0 };
      map.set(key, shared);
    }
    shared.users++;
    return shared;
  }

  /** Drops the object and client buckets no flow uses. */
  #sweep(): void {
    for (const map of [this.#objects, this.#clients]) {
      for (const [key, shared] of map) if (shared.users === 0) map.delete(key);
    }
  }

  #spendable(flow: Flow, bytes: number): boolean {
    const buckets = flow.buckets;
    for (let i = 0; i < buckets.length; i++) if (!buckets[i]!.spendable(bytes)) return false;
    return true;
  }

  #ready(flow: Flow, now: number): boolean {
    const buckets = flow.buckets;
    for (let i = 0; i < buckets.length; i++) {
      const bucket = buckets[i]!;
      bucket.refill(now);
      if (!bucket.ready()) return false;
    }
    return true;
  }

  #charge(flow: Flow, bytes: number): void {
    const buckets = flow.buckets;
    for (let i = 0; i < buckets.length; i++) buckets[i]!.take(bytes);
  }

  #waitMs(flow: Flow): number {
    let ms = 0;
    for (const bucket of flow.buckets) ms = Math.max(ms, bucket.msUntilReady());
    return ms;
  }

  #enqueue(flow: Flow): void {
    const cls = flow.cls;
    flow.queued = true;
    flow.prev = cls.tail;
    flow.next = null;
    if (cls.tail === null) cls.head = flow;
    else cls.tail.next = flow;
    cls.tail = flow;
    cls.waiting++;
    this.#waiting++;
    this.#waitingBytes += flow.pending;
  }

  #unqueue(flow: Flow, cls: ClassState): void {
    if (flow.prev === null) cls.head = flow.next;
    else flow.prev.next = flow.next;
    if (flow.next === null) cls.tail = flow.prev;
    else flow.next.prev = flow.prev;
    flow.prev = null;
    flow.next = null;
    flow.queued = false;
    cls.waiting--;
    this.#waiting--;
    this.#waitingBytes -= flow.pending;
  }

  /** Lets a waiting flow send what it asked for and up to a quantum more (charged now, sent as it goes). */
  #grant(flow: Flow, cls: ClassState, bytes: number): void {
    this.#unqueue(flow, cls);
    this.#charge(flow, bytes);
    // The debt it ran up (credit below 0) is paid from this grant; the sender asks again for what it waited for.
    flow.credit += bytes;
    flow.pending = 0;
    flow.resume();
  }

  /**
   * Serves the queues: deficit round robin over the classes, each waiter when its buckets hold tokens. A
   * class keeps the turn while its deficit covers its next send; when every class is blocked by the buckets
   * the turn stays where it is for the next serve (so that the class after the one served goes next).
   */
  #serve(): void {
    this.#timer = null;
    const now = this.#clock();
    const classes = this.#classes;
    const n = classes.length;
    const quantum = quantumOf(this.#global.rate);
    this.#contendedUntil = now + CONTENDED_MS;
    let wake = Number.POSITIVE_INFINITY;
    while (this.#waiting > 0) {
      const start = this.#cursor;
      let granted = false;
      let eligible = false;
      // A send larger than a quantum may take several rounds of top-ups; a round with no eligible waiter ends it.
      for (let visit = 0; !granted; visit++) {
        if (visit % n === 0 && visit > 0) {
          if (!eligible) break;
          eligible = false;
        }
        const cls = classes[this.#cursor]!;
        let flow: Flow | null = cls.head;
        while (flow !== null && !this.#ready(flow, now)) {
          wake = Math.min(wake, this.#waitMs(flow));
          flow = flow.next;
        }
        if (flow === null) {
          this.#advance();
          continue;
        }
        eligible = true;
        if (cls.fresh) {
          cls.deficit += quantum * cls.weight;
          cls.fresh = false;
        }
        if (flow.pending > cls.deficit) {
          cls.fresh = true;
          this.#advance();
          continue;
        }
        const bytes = Math.min(cls.deficit, Math.max(flow.pending, quantum));
        cls.deficit -= bytes;
        this.#grant(flow, cls, bytes);
        granted = true;
      }
      if (!granted) {
        this.#cursor = start;
        break;
      }
    }
    if (this.#waiting > 0) this.#reschedule(Number.isFinite(wake) ? wake : 1);
  }

  #advance(): void {
    this.#cursor = (this.#cursor + 1) % this.#classes.length;
  }

  #reschedule(ms: number): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#waiting === 0) return;
    const delay = Math.max(1, Math.ceil(ms));
    this.#timerAt = this.#clock() + delay;
    this.#timer = setTimeout(() => this.#serve(), delay);
  }

  /** The global rate for now (altRate inside altWindow), and a timer for the next change. */
  #applyAlt(): void {
    if (this.#altTimer !== null) clearTimeout(this.#altTimer);
    this.#altTimer = null;
    const settings = this.#settings;
    // altRate 0: no alternative limit, the window does nothing.
    const alt = msUntilAlt(settings.altRate > 0 ? settings.altWindow : null, this.#now());
    this.#altActive = alt.inside;
    const rate = alt.inside ? settings.altRate : settings.rate;
    this.#global.set(rate, burstOf(rate), this.#clock());
    if (alt.changeInMs !== null) {
      this.#altTimer = setTimeout(
        () => {
          this.#altTimer = null;
          this.update({});
        },
        Math.min(alt.changeInMs + 50, 2 ** 31 - 1),
      );
      this.#altTimer.unref();
    }
  }
}
