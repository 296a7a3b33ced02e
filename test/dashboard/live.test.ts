// The dashboard's live feed over real HTTP streams: one computation per topic and tick whatever the
// number of pages, events only when the JSON changed, Last-Event-ID on reconnection, coalesced changes,
// a cap on open streams (the page polls), and nothing computed once every page is gone.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LiveFeed } from '../../src/dashboard/index.ts';

interface Event {
  id: number;
  event: string;
  data: unknown;
}

let server: Server;
let url: string;
let feed: LiveFeed;
let value: number;
let computed: number;

beforeEach(async () => {
  value = 1;
  computed = 0;
  feed = new LiveFeed({
    snapshots: {
      overview: () => {
        computed += 1;
        return { value };
      },
    },
    changes: ['objects'],
    everyMs: 3_600_000, // ticks are driven by the test
    maxClients: 12,
  });
  server = createServer((req, res) => {
    const topics = new URL(req.url ?? '/', 'http://x').searchParams.get('topics')?.split(',') ?? feed.topics;
    feed.serve(req, res, topics);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  feed.close();
  server.closeAllConnections();
  server.close();
});

/** An open stream: its events as they come, and a way to wait for the next. */
async function follow(topics: string, lastEventId?: number) {
  const { request } = await import('node:http');
  const req = request(`${url}/?topics=${topics}`, {
    headers: lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) },
  });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const events: Event[] = [];
  const waiters: Array<() => void> = [];
  let buffer = '';
  let seenId: number | undefined;
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(
        frame
          .split('\n')
          .filter((line) => !line.startsWith(':') && line.includes(': '))
          .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
      );
      // As a browser does: an id without data sets the last event id, and dispatches nothing.
      if (fields.id !== undefined) seenId = Number(fields.id);
      if (fields.event === undefined) continue;
      events.push({ id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data ?? 'null') });
      for (const wake of waiters.splice(0)) wake();
    }
  });
  const count = async (n: number) => {
    while (events.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    return events;
  };
  return { status: res.statusCode, events, count, lastEventId: () => seenId, close: () => req.destroy() };
}

async function until(condition: () => boolean) {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('LiveFeed', () => {
  it('computes a snapshot once per tick for ten pages and sends it to each, again only when it changed', async () => {
    const pages = await Promise.all(Array.from({ length: 10 }, () => follow('overview')));
    await until(() => feed.stats().clients === 10);
    await feed.tick();
    for (const page of pages) expect((await page.count(1))[0]).toMatchObject({ event: 'overview', data: { value: 1 } });
    expect(computed).toBe(1);
    await feed.tick(); // the same JSON: no event
    value = 2;
    await feed.tick();
    for (const page of pages) {
      const events = await page.count(2);
      expect(events.map((e) => e.data)).toEqual([{ value: 1 }, { value: 2 }]);
    }
    expect(computed).toBe(3);
    for (const page of pages) page.close();
    await until(() => feed.stats().clients === 0);
    await feed.tick();
    expect(computed).toBe(3); // nobody follows: nothing computed
  });

  it('gives a page an id when it opens, so that cut off before any event it still hears of what it missed', async () => {
    const first = await follow('objects');
    await until(() => feed.stats().clients === 1 && first.lastEventId() !== undefined);
    const opened = first.lastEventId();
    expect(first.events).toEqual([]); // the id frame dispatches nothing
    first.close();
    await until(() => feed.stats().clients === 0);
    const other = await follow('objects'); // the change is sent while the first page is away
    await until(() => feed.stats().clients === 1);
    feed.notify('objects', 'a'.repeat(40));
    await feed.tick();
    await other.count(1);

    const back = await follow('objects', opened);
    const [event] = await back.count(1);
    expect(event).toMatchObject({ event: 'objects', data: { keys: ['a'.repeat(40)] } });
    back.close();
    other.close();
  });

  it('gives a page that comes back with Last-Event-ID what it missed, and nothing when it missed nothing', async () => {
    const first = await follow('overview,objects');
    await until(() => feed.stats().clients === 1);
    await feed.tick();
    const [seen] = await first.count(1);
    first.close();
    await until(() => feed.stats().clients === 0);

    const current = await follow('overview,objects', seen?.id);
    const other = await follow('overview'); // keeps the feed ticking while `behind` is away
    await until(() => feed.stats().clients === 2);
    value = 3;
    await feed.tick();
    await current.count(1);
    const missed = current.events[0] as Event;
    current.close();
    await until(() => feed.stats().clients === 1);

    const behind = await follow('overview,objects', seen?.id);
    const events = await behind.count(2);
    expect(events[0]).toMatchObject({ event: 'overview', data: { value: 3 }, id: missed.id });
    // Changes are not kept one by one: a page that missed some reloads what it shows.
    expect(events[1]).toMatchObject({ event: 'objects', data: { all: true } });

    const upToDate = await follow('overview', missed.id);
    await until(() => feed.stats().clients === 3);
    value = 4;
    await feed.tick();
    expect((await upToDate.count(1)).map((e) => e.data)).toEqual([{ value: 4 }]);
    for (const page of [other, behind, upToDate]) page.close();
  });

  it('sends changes once per tick, naming them, or `all` beyond 100', async () => {
    const page = await follow('objects');
    await until(() => feed.stats().clients === 1);
    feed.notify('objects', 'a');
    feed.notify('objects', 'b');
    feed.notify('objects', 'a');
    await feed.tick();
    await feed.tick(); // nothing pending: no event
    for (let i = 0; i < 150; i++) feed.notify('objects', `k${i}`);
    await feed.tick();
    const events = await page.count(2);
    expect(events.map((e) => e.data)).toEqual([
      { all: false, keys: ['a', 'b'] },
      { all: true, keys: [] },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(page.events).toHaveLength(2);
    page.close();
  });

  it('refuses streams beyond its cap with 503: the page polls', async () => {
    const pages = await Promise.all(Array.from({ length: 12 }, () => follow('overview')));
    expect(pages.every((p) => p.status === 200)).toBe(true);
    const refused = await follow('overview');
    expect(refused.status).toBe(503);
    expect(feed.stats()).toMatchObject({ clients: 12, refused: 1 });
    for (const page of pages) page.close();
  });
});
