// Live updates for the dashboard's pages: one Server-Sent Events stream per open page. What it costs the
// server does not grow with the pages open: each snapshot topic is computed and serialized once per tick
// for all its subscribers (and not at all without one), change topics are coalesced into one event per
// tick, a client that does not read is dropped, and beyond `maxClients` a page is told to poll (503).
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface LiveFeedOptions {
  /**
   * Topics computed on each tick while someone follows them (a promise for a store that is not in this
   * process); an event goes out when the JSON changed.
   */
  snapshots: Record<string, () => unknown>;
  /** Topics fed by `notify` (what changed), sent at most once a tick. */
  changes?: string[];
  /** Tick period. Default 2000 ms. */
  everyMs?: number;
  /** Open streams at most; more are refused with 503 (the page polls). Default 64. */
  maxClients?: number;
  /** A comment line this often keeps proxies from closing an idle stream. Default 15 s. */
  heartbeatMs?: number;
  /** A client with more than this unsent is dropped (it reconnects with Last-Event-ID). Default 1 MiB. */
  maxBufferedBytes?: number;
}

export interface LiveFeedStats {
  clients: number;
  /** Snapshot computations since start (one per topic per tick with followers, whatever their number). */
  computed: number;
  /** Events written, summed over clients. */
  sent: number;
  refused: number;
  dropped: number;
  /** Snapshots that failed to compute (the topic's event waits for the next tick). */
  failed: number;
}

interface Client {
  res: ServerResponse;
  topics: Set<string>;
}

interface LastEvent {
  id: number;
  frame: string;
  json: string;
}

/** Most info hashes named in one change event; beyond it the event says `all` and pages reload the list. */
const MAX_CHANGED = 100;

export class LiveFeed {
  readonly #snapshots: Record<string, () => unknown>;
  readonly #changeTopics: Set<string>;
  readonly #everyMs: number;
  readonly #maxClients: number;
  readonly #heartbeatMs: number;
  readonly #maxBuffered: number;
  readonly #clients = new Set<Client>();
  readonly #last = new Map<string, LastEvent>();
  readonly #pending = new Map<string, { keys: Set<string>; all: boolean }>();
  #seq = 0;
  #ticking = false;
  #timer: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  readonly #stats: LiveFeedStats = { clients: 0, computed: 0, sent: 0, refused: 0, dropped: 0, failed: 0 };

  constructor(options: LiveFeedOptions) {
    this.#snapshots = options.snapshots;
    this.#changeTopics = new Set(options.changes ?? []);
    this.#everyMs = options.everyMs ?? 2000;
    this.#maxClients = options.maxClients ?? 64;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  }

  get topics(): string[] {
    return [...Object.keys(this.#snapshots), ...this.#changeTopics];
  }

  stats(): LiveFeedStats {
    return { ...this.#stats, clients: this.#clients.size };
  }

  /** Something of a change topic changed (`key`: an info hash, an edge id; none: everything). */
  notify(topic: string, key?: string): void {
    if (!this.#changeTopics.has(topic) || this.#clients.size === 0) return;
    const pending = this.#pending.get(topic) ?? { keys: new Set<string>(), all: false };
    if (key === undefined || pending.keys.size >= MAX_CHANGED) pending.all = true;
    else pending.keys.add(key);
    this.#pending.set(topic, pending);
  }

  /**
   * Answers GET .../events?topics=a,b as an event stream. An event's id orders all events of this feed: a
   * page that reconnects with Last-Event-ID gets at once the latest snapshot of each topic it has not seen.
   */
  serve(req: IncomingMessage, res: ServerResponse, topics: string[]): void {
    if (this.#clients.size >= this.#maxClients) {
      this.#stats.refused += 1;
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '30' });
      res.end(JSON.stringify({ error: { code: 'EDGEPEER_BUSY', message: 'too many live pages: poll instead' } }));
      return;
    }
    const lastSeen = Number(req.headers['last-event-id'] ?? Number.NaN);
    const client: Client = { res, topics: new Set(topics) };
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    // A reconnecting page waits 2 s, not the browser's default 3 s.
    res.write('retry: 2000\n\n');
    this.#clients.add(client);
    req.socket.setNoDelay(true);
    res.on('close', () => this.#remove(client));
    // A page that never saw an event (no Last-Event-ID) fetches its data itself, and is given the current
    // id (a frame with an id and no data sets the browser's last event id without dispatching anything):
    // cut off before any event came, it still comes back with Last-Event-ID and hears of what it missed.
    // One that comes back gets what moved while it was away.
    if (!Number.isSafeInteger(lastSeen)) res.write(`id: ${this.#seq}\n\n`);
    else {
      for (const topic of client.topics) {
        const last = this.#last.get(topic);
        if (last !== undefined && last.id > lastSeen) this.#write(client, last.frame);
      }
      // Changes it missed are not kept one by one: it is told to reload whatever it shows.
      if (lastSeen < this.#seq) {
        for (const topic of client.topics) {
          if (this.#changeTopics.has(topic)) this.#write(client, frame(++this.#seq, topic, '{"all":true,"keys":[]}'));
        }
      }
    }
    this.#start();
  }

  close(): void {
    for (const client of this.#clients) client.res.end();
    this.#clients.clear();
    this.#stop();
  }

  /**
   * One tick: each followed snapshot computed once, changes flushed. Public for tests. A tick that finds
   * the one before still computing (a slow shared store) is skipped.
   */
  async tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#computeSnapshots();
    } finally {
      this.#ticking = false;
    }
    this.#flushChanges();
  }

  async #computeSnapshots(): Promise<void> {
    const followed = new Set<string>();
    for (const client of this.#clients) for (const topic of client.topics) followed.add(topic);
    for (const topic of followed) {
      const compute = this.#snapshots[topic];
      if (compute === undefined) continue;
      this.#stats.computed += 1;
      let json: string;
      try {
        json = JSON.stringify(await compute());
      } catch {
        // Unreachable state (Redis): the pages keep what they show, and the next tick tries again.
        this.#stats.failed += 1;
        continue;
      }
      if (this.#last.get(topic)?.json === json) continue;
      const id = ++this.#seq;
      this.#broadcast(topic, { id, json, frame: frame(id, topic, json) });
    }
  }

  #flushChanges(): void {
    for (const [topic, pending] of this.#pending) {
      const json = JSON.stringify({ all: pending.all, keys: pending.all ? [] : [...pending.keys] });
      const id = ++this.#seq;
      this.#broadcast(topic, { id, json, frame: frame(id, topic, json) });
    }
    this.#pending.clear();
  }

  #broadcast(topic: string, event: LastEvent): void {
    this.#last.set(topic, event);
    for (const client of this.#clients) if (client.topics.has(topic)) this.#write(client, event.frame);
  }

  #write(client: Client, text: string): void {
    if (client.res.writableLength > this.#maxBuffered) {
      this.#stats.dropped += 1;
      client.res.destroy();
      this.#remove(client);
      return;
    }
    this.#stats.sent += 1;
    client.res.write(text);
  }

  #remove(client: Client): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.#stop();
  }

  #start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => void this.tick(), this.#everyMs);
    this.#timer.unref();
    this.#heartbeat = setInterval(() => {
      for (const client of this.#clients) client.res.write(': keep-alive\n\n');
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  #stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#timer = null;
    this.#heartbeat = null;
    this.#pending.clear();
  }
}

function frame(id: number, topic: string, json: string): string {
  return `id: ${id}\nevent: ${topic}\ndata: ${json}\n\n`;
}

/** The topics a request asks for (?topics=a,b), those the feed has; all of them when none is named. */
export function requestedTopics(query: URLSearchParams, known: string[]): string[] {
  const asked = (query.get('topics') ?? '').split(',').filter((t) => t !== '');
  const topics = asked.length === 0 ? known : asked.filter((t) => known.includes(t));
  return topics;
}
