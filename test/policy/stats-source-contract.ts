// The StatsSource contract (src/policy/source.ts), for every implementation: the reference tracker's long
// poll (TrackerStatsSource) and a tracker's scrape (ScrapeStatsSource). The reference tracker runs in this
// process for real answers; a small HTTP server stands in for what it never sends (errors, bad answers).
// test/policy/stats-source.test.ts and test/policy/scrape-source.test.ts run it.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsSource } from '../../src/policy/index.ts';
import { createTracker, type Tracker, type TrackerAddress } from '../../src/tracker/index.ts';
import { announceQueryOf, peerId } from '../tracker/helpers.ts';

export interface StatsSourceKind {
  /** A source following the tracker whose announce URL is `announceUrl` (…/announce), retrying fast. */
  make(announceUrl: string): StatsSource;
  /** A body this kind of source must refuse as malformed. */
  malformedBody: string;
}

/** Resolves when the source says the swarm changed and `test` holds (at once if it holds already). */
export function changed(source: StatsSource, infoHash: string, test: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const listener = (hash: string) => {
      if (hash !== infoHash || !test()) return;
      source.off('changed', listener);
      resolve();
    };
    source.on('changed', listener);
    if (test()) {
      source.off('changed', listener);
      resolve();
    }
  });
}

/**
 * The reference tracker in this process for the describe block that calls it (started before its tests,
 * closed after): its address, and an announce to it.
 */
export function referenceTracker(): {
  address: () => TrackerAddress;
  announce: (values: Record<string, string | number | Uint8Array | undefined>) => Promise<ArrayBuffer>;
} {
  let tracker: Tracker;
  let address: TrackerAddress;
  beforeAll(async () => {
    tracker = createTracker({ port: 0, host: '127.0.0.1', intervalS: 60 });
    address = await tracker.listen();
  });
  afterAll(() => tracker.close());
  return {
    address: () => address,
    announce: (values) => fetch(`${address.announceUrl}?${announceQueryOf(values)}`).then((r) => r.arrayBuffer()),
  };
}

export function statsSourceContract(name: string, kind: StatsSourceKind): void {
  describe(`${name}: the StatsSource contract, on the reference tracker`, () => {
    const { address, announce } = referenceTracker();

    it('reads a swarm of plain peers, then each change: seeds hold every piece, leechers are demand', async () => {
      const infoHash = randomBytes(20);
      const hex = infoHash.toString('hex');
      await announce({ info_hash: infoHash, peer_id: peerId(1), port: 7001, left: 0 });
      await announce({ info_hash: infoHash, peer_id: peerId(2), port: 7002, left: 400 });
      const source = kind.make(address().announceUrl);
      try {
        source.follow(hex, 4);
        await changed(source, hex, () => source.reading(hex).counts !== null);
        expect(source.reading(hex)).toMatchObject({
          problem: null,
          counts: { seeds: 1, leechers: 1, demand: 1, swarmCopies: [1, 1, 1, 1], cdnCopies: [0, 0, 0, 0] },
        });
        const first = source.reading(hex).counts!;
        await announce({ info_hash: infoHash, peer_id: peerId(3), port: 7003, left: 0 });
        await changed(source, hex, () => source.reading(hex).counts?.seeds === 2);
        const second = source.reading(hex).counts!;
        expect(second.swarmCopies).toEqual([2, 2, 2, 2]);
        expect(second.version).not.toBe(first.version);
        expect(second.receivedAt).toBeGreaterThanOrEqual(first.receivedAt);
      } finally {
        await source.close();
      }
    });

    it('reads a swarm the tracker has never seen as empty, not as a problem', async () => {
      const hex = randomBytes(20).toString('hex');
      const source = kind.make(address().announceUrl);
      try {
        source.follow(hex, 2);
        await changed(source, hex, () => source.reading(hex).counts !== null);
        expect(source.reading(hex)).toMatchObject({ problem: null, counts: { seeds: 0, leechers: 0, demand: 0 } });
      } finally {
        await source.close();
      }
    });

    it('forgets a swarm it no longer follows', async () => {
      const hex = randomBytes(20).toString('hex');
      const source = kind.make(address().announceUrl);
      try {
        source.follow(hex, 2);
        await changed(source, hex, () => source.reading(hex).counts !== null);
        source.unfollow(hex);
        expect(source.reading(hex)).toEqual({ counts: null, problem: null });
      } finally {
        await source.close();
      }
    });
  });

  describe(`${name}: the StatsSource contract, on errors`, () => {
    let server: Server;
    let announceUrl: string;
    let reply: (res: ServerResponse) => void = (res) => res.writeHead(503).end('busy');
    const HASH = 'ab'.repeat(20);

    beforeAll(async () => {
      server = createServer((_req, res) => reply(res)).listen(0, '127.0.0.1');
      await once(server, 'listening');
      announceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`;
    });
    afterAll(() => {
      server.closeAllConnections();
      server.close();
    });

    it('reports an error status as unreachable, saying which', async () => {
      reply = (res) => res.writeHead(503).end('busy');
      const source = kind.make(announceUrl);
      try {
        source.follow(HASH, 2);
        await changed(source, HASH, () => source.reading(HASH).problem !== null);
        expect(source.reading(HASH)).toMatchObject({ counts: null, problem: { kind: 'unreachable' } });
        expect(source.reading(HASH).problem?.detail).toContain('HTTP 503');
      } finally {
        await source.close();
      }
    });

    it('reports an answer off the format as malformed', async () => {
      reply = (res) => res.end(kind.malformedBody);
      const source = kind.make(announceUrl);
      try {
        source.follow(HASH, 2);
        await changed(source, HASH, () => source.reading(HASH).problem !== null);
        expect(source.reading(HASH)).toMatchObject({ counts: null, problem: { kind: 'malformed' } });
      } finally {
        await source.close();
      }
    });

    it('reports a tracker nobody listens for as unreachable', async () => {
      const closed = createServer().listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const source = kind.make(`http://127.0.0.1:${port}/announce`);
      try {
        source.follow(HASH, 2);
        await changed(source, HASH, () => source.reading(HASH).problem !== null);
        expect(source.reading(HASH)).toMatchObject({ counts: null, problem: { kind: 'unreachable' } });
      } finally {
        await source.close();
      }
    });
  });
}
