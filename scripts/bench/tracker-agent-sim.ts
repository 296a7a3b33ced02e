// Announce traffic of one agent holding many objects, over simulated time: the real announce client (its
// schedules, jitter, min intervals, backoff, rate limit, multi-object batching and bitmap encoding) on a
// virtual clock, against the real tracker logic (TrackerCore) without sockets. Counts requests and HTTP
// bytes both ways (request line, headers, body) per phase.
//
// usage: node scripts/bench/tracker-agent-sim.ts [plain|edgepeer|both]
// env: OBJECTS (100000), HOURS (1, measured after a 30-minute start-up phase), CHANGED_PER_HOUR (1000),
//      ADDED_PER_HOUR (500), REMOVED_PER_HOUR (500), SEED (1)
import { EventEmitter } from 'node:events';
import type { Metainfo } from '../../src/metainfo/index.ts';
import type { BitfieldView, StoredObject, StoreEvents } from '../../src/store/index.ts';
import {
  type AnnounceParams,
  type AnnounceSent,
  announceUrl,
  type BatchAnnounce,
  type Clock,
  createAnnounceClient,
  decodeBencode,
  encodeBatchAnnounce,
  encodeBencode,
  readAnnounceResult,
  readBatchResults,
  type ScrapeCounts,
  TrackerCore,
  type TrackerTransport,
} from '../../src/tracker/index.ts';

const OBJECTS = Number(process.env['OBJECTS'] ?? 100_000);
const HOURS = Number(process.env['HOURS'] ?? 1);
const CHANGED_PER_HOUR = Number(process.env['CHANGED_PER_HOUR'] ?? 1000);
const ADDED_PER_HOUR = Number(process.env['ADDED_PER_HOUR'] ?? 500);
const REMOVED_PER_HOUR = Number(process.env['REMOVED_PER_HOUR'] ?? 500);
const TRACKER_URL = 'http://tracker.example.net:6969/announce';
const AGENT_IP = '192.0.2.10';
const MINUTE = 60_000;

// A deterministic generator, so that runs compare.
let seed = Number(process.env['SEED'] ?? 1);
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}

/** Object sizes of a CDN edge: mostly small (segments, images), some medium, few large (pieces of 256 KiB). */
function pieceCountOf(): number {
  const roll = random();
  if (roll < 0.7) return 1 + Math.floor(random() * 16);
  if (roll < 0.95) return 16 + Math.floor(random() * 1000);
  return 1000 + Math.floor(random() * 40_000);
}

class SimBitfield implements BitfieldView {
  readonly length: number;
  readonly bytes: Uint8Array;
  #count = 0;

  constructor(length: number) {
    this.length = length;
    this.bytes = new Uint8Array(Math.ceil(length / 8));
  }

  get(index: number): boolean {
    return (this.bytes[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }

  set(index: number): boolean {
    if (this.get(index)) return false;
    this.bytes[index >> 3]! |= 0x80 >> (index & 7);
    this.#count++;
    return true;
  }

  count(): number {
    return this.#count;
  }

  toBuffer(): Buffer {
    return Buffer.from(this.bytes);
  }
}

let objectCounter = 0;
function makeObject(): StoredObject & { bitfield: SimBitfield } {
  const n = objectCounter++;
  const infoHash = `${'e'.repeat(8)}${n.toString(16).padStart(32, '0')}`;
  const pieceCount = pieceCountOf();
  const pieceLength = 256 * 1024;
  const bitfield = new SimBitfield(pieceCount);
  // 95% complete; the rest hold a prefix (being ingested) or scattered pieces (pulled on demand).
  const kind = random();
  if (kind < 0.95) for (let i = 0; i < pieceCount; i++) bitfield.set(i);
  else if (kind < 0.98) for (let i = 0; i < pieceCount * random(); i++) bitfield.set(i);
  else for (let i = 0; i < pieceCount; i++) if (random() < 0.3) bitfield.set(i);
  const metainfo = {
    infoHash,
    name: `object-${n}`,
    pieceLength,
    pieceCount,
    length: pieceCount * pieceLength,
    announceList: [] as string[][],
    urlList: [] as string[],
  } as unknown as Metainfo;
  return {
    infoHash,
    name: metainfo.name,
    length: metainfo.length,
    pieceLength,
    pieceCount,
    metainfo,
    bitfield,
    piecesHeld: bitfield.count(),
    complete: bitfield.count() === pieceCount,
    addedAt: 0,
    expiresAt: null,
    source: null,
  };
}

class SimStore extends EventEmitter<StoreEvents> {
  readonly objects = new Map<string, StoredObject & { bitfield: SimBitfield }>();
  list(): StoredObject[] {
    return [...this.objects.values()];
  }

  get(infoHash: string): StoredObject | undefined {
    return this.objects.get(infoHash);
  }

  metainfoOf(infoHash: string): Metainfo | undefined {
    return this.objects.get(infoHash)?.metainfo;
  }
}

/** Timers on virtual time; between two timers the client's promise chains settle (no real I/O is involved). */
class SimClock implements Clock {
  time = 0;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #nextId = 1;

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.time + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  async runUntil(end: number): Promise<void> {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      let nextId = -1;
      let next: { at: number; callback: () => void } | undefined;
      for (const [id, timer] of this.#timers) {
        if (next === undefined || timer.at < next.at || (timer.at === next.at && id < nextId)) {
          next = timer;
          nextId = id;
        }
      }
      if (next === undefined || next.at > end) break;
      this.#timers.delete(nextId);
      this.time = Math.max(this.time, next.at);
      next.callback();
    }
    this.time = end;
  }
}

interface Counters {
  requests: number;
  objectAnnounces: number;
  batches: number;
  requestBytes: number;
  responseBytes: number;
  bitmapsLeftOut: number;
  events: Record<string, number>;
}

function emptyCounters(): Counters {
  return {
    requests: 0,
    objectAnnounces: 0,
    batches: 0,
    requestBytes: 0,
    responseBytes: 0,
    bitmapsLeftOut: 0,
    events: {},
  };
}

const REQUEST_HEADERS = `Host: tracker.example.net:6969\r\nConnection: keep-alive\r\nUser-Agent: edgepeer\r\n\r\n`
  .length;
function responseHeaders(bodyLength: number): number {
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${bodyLength}\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n`
    .length;
}

/** Sends announces straight into TrackerCore and counts what HTTP would carry. */
class SimTransport implements TrackerTransport {
  counters = emptyCounters();
  readonly #core: TrackerCore;

  constructor(core: TrackerCore) {
    this.#core = core;
  }

  async announce(url: string, params: AnnounceParams): Promise<AnnounceSent> {
    const target = announceUrl(url, params, 6144);
    const parsed = new URL(target.url);
    const counters = this.counters;
    counters.requests++;
    counters.objectAnnounces++;
    counters.events[params.event ?? 'none'] = (counters.events[params.event ?? 'none'] ?? 0) + 1;
    if (!target.bitmapSent && params.extension?.bitmap !== undefined) counters.bitmapsLeftOut++;
    counters.requestBytes += `GET ${parsed.pathname}${parsed.search} HTTP/1.1\r\n`.length + REQUEST_HEADERS;
    const body = await this.#core.announce(parsed.search.slice(1), AGENT_IP);
    counters.responseBytes += responseHeaders(body.length) + body.length;
    return { result: readAnnounceResult(decodeBencode(body) as never), bitmapSent: target.bitmapSent };
  }

  async announceBatch(url: string, batch: BatchAnnounce) {
    const body = encodeBencode(encodeBatchAnnounce(batch));
    const counters = this.counters;
    counters.requests++;
    counters.batches++;
    counters.objectAnnounces += batch.entries.length;
    for (const entry of batch.entries)
      counters.events[entry.event ?? 'none'] = (counters.events[entry.event ?? 'none'] ?? 0) + 1;
    counters.requestBytes +=
      `POST ${new URL(url).pathname} HTTP/1.1\r\n`.length +
      REQUEST_HEADERS +
      `Content-Type: application/x-bittorrent\r\nContent-Length: ${body.length}\r\n`.length +
      body.length;
    const answer = await this.#core.batch(body, AGENT_IP);
    counters.responseBytes += responseHeaders(answer.length) + answer.length;
    return readBatchResults(decodeBencode(answer) as never);
  }

  async scrape(): Promise<Map<string, ScrapeCounts>> {
    return new Map();
  }

  async close(): Promise<void> {}
}

interface PhaseReport {
  phase: string;
  minutes: number;
  requests: number;
  objectAnnounces: number;
  batches: number;
  requestsPerSecond: number;
  requestMB: number;
  responseMB: number;
  bytesPerObjectAnnounce: number;
  bitmapsLeftOut: number;
  events: Record<string, number>;
  processCpuS: number;
}

async function simulate(mode: 'plain' | 'edgepeer'): Promise<PhaseReport[]> {
  seed = Number(process.env['SEED'] ?? 1);
  objectCounter = 0;
  const clock = new SimClock();
  const core = new TrackerCore({
    extension: mode === 'edgepeer',
    now: () => clock.now(),
    maxSwarms: OBJECTS * 2,
    maxPeers: OBJECTS * 2,
  });
  const transport = new SimTransport(core);
  const store = new SimStore();
  for (let i = 0; i < OBJECTS; i++) {
    const object = makeObject();
    store.objects.set(object.infoHash, object);
  }
  const client = createAnnounceClient({
    store,
    peerId: Buffer.from('-EP0001-simulation01'),
    port: 6881,
    httpBaseUrls: ['http://edge1.cdn.example.net:8080'],
    trackers: [TRACKER_URL],
    clock,
    transport,
    stopTimeoutMs: 600_000,
  });
  const reports: PhaseReport[] = [];
  const measure = async (phase: string, minutes: number, churn: boolean): Promise<void> => {
    transport.counters = emptyCounters();
    const cpuBefore = process.cpuUsage();
    const end = clock.now() + minutes * MINUTE;
    if (churn) {
      // Each simulated minute: some bitmaps grow (ingest or pull-through), some objects come and go.
      const perMinute = (perHour: number) => perHour / 60;
      let carry = { changed: 0, added: 0, removed: 0 };
      const tick = (): void => {
        carry = {
          changed: carry.changed + perMinute(CHANGED_PER_HOUR),
          added: carry.added + perMinute(ADDED_PER_HOUR),
          removed: carry.removed + perMinute(REMOVED_PER_HOUR),
        };
        const list = [...store.objects.values()];
        for (; carry.changed >= 1; carry.changed--) {
          const object = list[Math.floor(random() * list.length)]!;
          const added: number[] = [];
          for (let i = 0; i < object.bitfield.length && added.length < 8; i++)
            if (object.bitfield.set(i)) added.push(i);
          if (added.length === 0) continue;
          store.emit('pieces-added', object.infoHash, added);
        }
        for (; carry.added >= 1; carry.added--) {
          const object = makeObject();
          store.objects.set(object.infoHash, object);
          store.emit('object-added', object);
        }
        for (; carry.removed >= 1; carry.removed--) {
          const object = list[Math.floor(random() * list.length)]!;
          if (!store.objects.delete(object.infoHash)) continue;
          store.emit('object-removed', object.infoHash, 'purge');
        }
        if (clock.now() + MINUTE <= end) clock.setTimer(tick, MINUTE);
      };
      clock.setTimer(tick, MINUTE);
    }
    await clock.runUntil(end);
    const cpu = process.cpuUsage(cpuBefore);
    const counters = transport.counters;
    reports.push({
      phase,
      minutes,
      requests: counters.requests,
      objectAnnounces: counters.objectAnnounces,
      batches: counters.batches,
      requestsPerSecond: round(counters.requests / (minutes * 60), 2),
      requestMB: round(counters.requestBytes / 1e6, 2),
      responseMB: round(counters.responseBytes / 1e6, 2),
      bytesPerObjectAnnounce: round(
        (counters.requestBytes + counters.responseBytes) / Math.max(1, counters.objectAnnounces),
        0,
      ),
      bitmapsLeftOut: counters.bitmapsLeftOut,
      events: counters.events,
      processCpuS: round((cpu.user + cpu.system) / 1e6, 2),
    });
  };
  client.start();
  await measure('start-up (all objects announce started)', 30, false);
  await measure(`steady state with churn (${HOURS} h)`, HOURS * 60, true);
  transport.counters = emptyCounters();
  const stopping = client.stop();
  await clock.runUntil(clock.now() + MINUTE);
  await stopping;
  const counters = transport.counters;
  reports.push({
    phase: 'shutdown (stopped for every object)',
    minutes: 0,
    requests: counters.requests,
    objectAnnounces: counters.objectAnnounces,
    batches: counters.batches,
    requestsPerSecond: 0,
    requestMB: round(counters.requestBytes / 1e6, 2),
    responseMB: round(counters.responseBytes / 1e6, 2),
    bytesPerObjectAnnounce: round(
      (counters.requestBytes + counters.responseBytes) / Math.max(1, counters.objectAnnounces),
      0,
    ),
    bitmapsLeftOut: counters.bitmapsLeftOut,
    events: counters.events,
    processCpuS: 0,
  });
  return reports;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * Heap the announce client takes for its objects (with --expose-gc): objects added, nothing sent yet (the
 * transport never answers, and the first announces are not due before the clock moves).
 */
async function clientHeapBytesPerObject(): Promise<number | null> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return null;
  seed = 7;
  const clock = new SimClock();
  const store = new SimStore();
  for (let i = 0; i < OBJECTS; i++) {
    const object = makeObject();
    store.objects.set(object.infoHash, object);
  }
  gc();
  const before = process.memoryUsage().heapUsed;
  const never = new Promise<never>(() => undefined);
  const client = createAnnounceClient({
    store,
    peerId: Buffer.from('-EP0001-simulation01'),
    port: 6881,
    trackers: [TRACKER_URL, 'udp://tracker2.example.net:6969/announce'],
    clock,
    transport: { announce: () => never, announceBatch: () => never, scrape: () => never, close: async () => undefined },
  });
  client.start();
  await clock.runUntil(0);
  gc();
  const after = process.memoryUsage().heapUsed;
  void client.stop();
  return Math.round((after - before) / OBJECTS);
}

const which = process.argv[2] ?? 'both';
process.stdout.write(
  `${JSON.stringify({ objects: OBJECTS, clientHeapBytesPerObjectTwoTrackers: await clientHeapBytesPerObject() })}\n`,
);
for (const mode of which === 'both' ? (['plain', 'edgepeer'] as const) : [which as 'plain' | 'edgepeer']) {
  for (const report of await simulate(mode)) process.stdout.write(`${JSON.stringify({ mode, ...report })}\n`);
}
