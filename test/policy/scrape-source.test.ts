// Statistics from a tracker's scrape (BEP 48): the StatsSource contract on the reference tracker, the
// answer's parsing, this node's own copy taken out, and what a scrape-only tracker sends that /stats does not.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import bencode from 'bencode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countsFromScrape,
  parseScrape,
  ScrapeStatsSource,
  StatsFormatError,
  singleNodeHoldings,
} from '../../src/policy/index.ts';
import { changed, statsSourceContract } from './stats-source-contract.ts';

const none = () => ({ nodes: 0, partial: 0 });

statsSourceContract('ScrapeStatsSource', {
  make: (announceUrl) =>
    new ScrapeStatsSource({ scrapeUrl: announceUrl.replace(/\/announce$/, '/scrape'), intervalMs: 100, holds: none }),
  malformedBody: 'd5:filesi3ee',
});

/** A scrape answer's bytes: `files` keyed by the info hashes' bytes. */
function scrapeBody(files: Record<string, { complete: number; incomplete: number }>, extra = ''): Buffer {
  const parts = Object.entries(files).map(([hex, entry]) =>
    Buffer.concat([Buffer.from('20:'), Buffer.from(hex, 'hex'), bencode.encode({ ...entry, downloaded: 0 })]),
  );
  return Buffer.concat([Buffer.from('d5:filesd'), ...parts, Buffer.from(`e${extra}e`)]);
}

// One hash whose bytes are valid UTF-8 text, one that is not: the bencode package reads keys as text.
const TEXT_HASH = Buffer.from('abcdefghijklmnopqrst').toString('hex');
const BINARY_HASH = 'ff'.repeat(20);

describe('parseScrape', () => {
  it('reads every swarm by its hash, whatever its bytes', () => {
    const { files, minRequestIntervalS } = parseScrape(
      scrapeBody({ [TEXT_HASH]: { complete: 2, incomplete: 5 }, [BINARY_HASH]: { complete: 0, incomplete: 1 } }),
    );
    expect(Object.fromEntries(files)).toEqual({
      [TEXT_HASH]: { complete: 2, incomplete: 5 },
      [BINARY_HASH]: { complete: 0, incomplete: 1 },
    });
    expect(minRequestIntervalS).toBe(0);
  });

  it("takes the tracker's min_request_interval (BEP 48 flags)", () => {
    const body = scrapeBody({}, '5:flagsd20:min_request_intervali900ee');
    expect(parseScrape(body).minRequestIntervalS).toBe(900);
  });

  it("gives the tracker's failure reason as a refusal, not as malformed", () => {
    const refusal = () => parseScrape(Buffer.from('d14:failure reason17:unregistered hashe'));
    expect(refusal).toThrow('the tracker refused: unregistered hash');
    expect(refusal).not.toThrow(StatsFormatError);
  });

  it.each([
    ['not bencoded', Buffer.from('<html>')],
    ['no files', Buffer.from('de')],
    ['files that are not a dictionary', Buffer.from('d5:filesli1eee')],
    ['a key that is not 20 bytes', Buffer.from('d5:filesd3:abcd8:completei1e10:incompletei0eeee')],
    ['a negative count', scrapeBody({ [BINARY_HASH]: { complete: -1, incomplete: 0 } })],
    ['trailing bytes', Buffer.concat([scrapeBody({}), Buffer.from('x')])],
  ])('refuses %s as malformed', (_, body) => {
    expect(() => parseScrape(body)).toThrow(StatsFormatError);
  });
});

describe('countsFromScrape', () => {
  const at = { version: 3, receivedAt: 9 };

  it('gives every piece the seeds, and demand the leechers, when this node holds nothing', () => {
    expect(countsFromScrape({ complete: 2, incomplete: 4 }, 3, none(), at)).toEqual({
      version: 3,
      receivedAt: 9,
      swarmCopies: [2, 2, 2],
      cdnCopies: [0, 0, 0],
      demand: 4,
      seeds: 2,
      leechers: 4,
    });
  });

  it('takes this node out of the seeds when it holds the object, so its copy is never counted as another', () => {
    const counts = countsFromScrape({ complete: 1, incomplete: 0 }, 2, { nodes: 1, partial: 0 }, at);
    expect(counts.cdnCopies).toEqual([1, 1]);
    expect(counts.demand).toBe(0);
  });

  it('takes it out of the seeds and of the leechers when it holds part of the object', () => {
    const counts = countsFromScrape({ complete: 3, incomplete: 2 }, 2, { nodes: 1, partial: 1 }, at);
    expect(counts.cdnCopies).toEqual([1, 1]);
    expect(counts.demand).toBe(1);
  });

  it("holds one node for an agent or a controller (which announces its edges' union)", () => {
    expect(singleNodeHoldings(0, 4)).toEqual({ nodes: 0, partial: 0 });
    expect(singleNodeHoldings(2, 4)).toEqual({ nodes: 1, partial: 1 });
    expect(singleNodeHoldings(4, 4)).toEqual({ nodes: 1, partial: 0 });
  });

  it('takes several CDN nodes out alike: each holding node a seed, each partial one a leecher', () => {
    const counts = countsFromScrape({ complete: 5, incomplete: 4 }, 2, { nodes: 3, partial: 1 }, at);
    expect(counts.cdnCopies).toEqual([3, 3]);
    expect(counts.demand).toBe(3);
  });

  it('never counts more CDN copies than the tracker has seeds', () => {
    expect(countsFromScrape({ complete: 0, incomplete: 1 }, 2, { nodes: 1, partial: 1 }, at).cdnCopies).toEqual([0, 0]);
  });
});

describe('ScrapeStatsSource against a scrape-only tracker', () => {
  let server: Server;
  let base: string;
  const seen: string[] = [];
  let reply: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end(scrapeBody({}));

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      reply(req, res);
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('asks for every followed swarm in batches, keeping the URL query (a passkey)', async () => {
    seen.length = 0;
    reply = (_req, res) => res.end(scrapeBody({ [TEXT_HASH]: { complete: 1, incomplete: 0 } }));
    const source = new ScrapeStatsSource({
      scrapeUrl: `${base}/scrape?passkey=k`,
      intervalMs: 60_000,
      batch: 2,
      holds: none,
    });
    try {
      // Followed in the same tick: the first scrape asks for all three, two per request.
      source.follow(TEXT_HASH, 1);
      source.follow(BINARY_HASH, 1);
      source.follow('00'.repeat(20), 1);
      await changed(source, '00'.repeat(20), () => source.reading('00'.repeat(20)).counts !== null);
      expect(seen).toHaveLength(2);
      expect(seen[0]).toBe(
        `/scrape?passkey=k&info_hash=${TEXT_HASH.replace(/../g, '%$&')}&info_hash=${BINARY_HASH.replace(/../g, '%$&')}`,
      );
      expect(source.reading(TEXT_HASH).counts).toMatchObject({ seeds: 1 });
      expect(source.reading(BINARY_HASH).counts).toMatchObject({ seeds: 0, leechers: 0 });
    } finally {
      await source.close();
    }
  });

  it('keeps the last good counts when the tracker refuses, and says what it said', async () => {
    let answered = 0;
    reply = (_req, res) => {
      answered++;
      res.end(
        answered === 1
          ? scrapeBody({ [BINARY_HASH]: { complete: 2, incomplete: 1 } })
          : 'd14:failure reason8:too busye',
      );
    };
    const source = new ScrapeStatsSource({ scrapeUrl: `${base}/scrape`, intervalMs: 50, holds: none });
    try {
      source.follow(BINARY_HASH, 1);
      await changed(source, BINARY_HASH, () => source.reading(BINARY_HASH).problem !== null);
      expect(source.reading(BINARY_HASH)).toMatchObject({
        counts: { seeds: 2, version: 1 },
        problem: { kind: 'unreachable' },
      });
      expect(source.reading(BINARY_HASH).problem?.detail).toContain('the tracker refused: too busy');
    } finally {
      await source.close();
    }
  });

  it("waits the tracker's min_request_interval when it is longer than its own", async () => {
    seen.length = 0;
    reply = (_req, res) => res.end(scrapeBody({}, '5:flagsd20:min_request_intervali3600ee'));
    const source = new ScrapeStatsSource({ scrapeUrl: `${base}/scrape`, intervalMs: 20, holds: none });
    try {
      source.follow(BINARY_HASH, 1);
      await changed(source, BINARY_HASH, () => source.reading(BINARY_HASH).counts !== null);
      // At its own 20 ms it would have asked ~10 more times by now; the tracker said an hour.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).toHaveLength(1);
    } finally {
      await source.close();
    }
  });
});
