// The statistics source against the reference tracker (src/tracker, in this process) for real answers, and
// a small HTTP server for what the tracker never sends: malformed answers and errors.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countsFromStats, StatsFormatError, TrackerStatsSource } from '../../src/policy/index.ts';
import { encodeBitmap } from '../../src/tracker/index.ts';
import { peerId } from '../tracker/helpers.ts';
import { changed, referenceTracker, statsSourceContract } from './stats-source-contract.ts';

const HASH = 'ab'.repeat(20);

describe('countsFromStats', () => {
  const answer = (fields: Record<string, unknown> = {}) => ({
    infoHash: HASH,
    version: 7,
    seeds: 1,
    leechers: 3,
    pieceCopies: [2, 1, 1, 3],
    networkPeers: [{ complete: false, bitmap: encodeBitmap(Uint8Array.of(0b1001_0000), 4) }],
    ...fields,
  });

  it('separates CDN copies from the others and counts demand without CDN nodes', () => {
    expect(countsFromStats(answer(), HASH, 4, 5)).toEqual({
      version: 7,
      receivedAt: 5,
      swarmCopies: [2, 1, 1, 3],
      cdnCopies: [1, 0, 0, 1],
      demand: 2,
      seeds: 1,
      leechers: 3,
    });
  });

  it('reads the peers by PID of a tracker with network maps', () => {
    const pids = { b: { seeds: 0, leechers: 2 }, a: { seeds: 1, leechers: 0 } };
    expect(countsFromStats(answer({ pids }), HASH, 4, 5).pids).toEqual(pids);
    expect(countsFromStats(answer(), HASH, 4, 5).pids).toBeUndefined();
    expect(() => countsFromStats(answer({ pids: { b: { seeds: 0, leechers: -1 } } }), HASH, 4, 0)).toThrow(
      '"pids"."b": "leechers" must be a whole number >= 0',
    );
  });

  it('takes seeds as the copies of every piece when the tracker does not know the pieces', () => {
    const counts = countsFromStats(answer({ pieceCopies: null, networkPeers: [], seeds: 2 }), HASH, 3, 0);
    expect(counts.swarmCopies).toEqual([2, 2, 2]);
  });

  it.each([
    ['not an object', []],
    ['another swarm', answer({ infoHash: 'cd'.repeat(20) })],
    ['a wrong number of pieces', answer({ pieceCopies: [1, 2] })],
    ['a negative count', answer({ pieceCopies: [1, -1, 1, 1] })],
    ['a bad bitmap', answer({ networkPeers: [{ complete: false, bitmap: 'b!!' }] })],
    ['no seeds', answer({ seeds: 'x' })],
    ['a network peer without complete', answer({ networkPeers: [{}] })],
    ['pids that are not an object', answer({ pids: [] })],
    ['a PID without counts', answer({ pids: { a: 3 } })],
  ])('refuses %s', (_, value) => {
    expect(() => countsFromStats(value, HASH, 4, 0)).toThrow(StatsFormatError);
  });
});

statsSourceContract('TrackerStatsSource', {
  make: (announceUrl) =>
    new TrackerStatsSource({ statsUrl: announceUrl.replace(/\/announce$/, '/stats'), waitS: 5, retryMs: 50 }),
  malformedBody: '{"infoHash": "oops"',
});

describe('TrackerStatsSource on the reference tracker', () => {
  const { address, announce } = referenceTracker();

  it('follows a swarm: first the current state, then each change as the long poll answers', async () => {
    const infoHash = randomBytes(20);
    const hex = infoHash.toString('hex');
    // A CDN node holding pieces 0 and 1 of 4, and a plain leecher.
    await announce({
      info_hash: infoHash,
      peer_id: peerId(1),
      left: 100,
      ep: 1,
      ep_pieces: 4,
      ep_size: 400,
      ep_bm: encodeBitmap(Uint8Array.of(0b1100_0000), 4),
    });
    await announce({ info_hash: infoHash, peer_id: peerId(2), port: 7002, left: 400 });
    const source = new TrackerStatsSource({ statsUrl: address().statsUrl, waitS: 5 });
    try {
      source.follow(hex, 4);
      await changed(source, hex, () => source.reading(hex).counts !== null);
      expect(source.reading(hex)).toMatchObject({
        problem: null,
        counts: { swarmCopies: [1, 1, 0, 0], cdnCopies: [1, 1, 0, 0], demand: 1, leechers: 2 },
      });
      // A plain seed arrives: every piece gets a copy outside the CDN.
      await announce({ info_hash: infoHash, peer_id: peerId(3), port: 7003, left: 0 });
      await changed(source, hex, () => source.reading(hex).counts?.seeds === 1);
      expect(source.reading(hex).counts).toMatchObject({ swarmCopies: [2, 2, 1, 1], cdnCopies: [1, 1, 0, 0] });
    } finally {
      await source.close();
    }
  });
});

describe('TrackerStatsSource on bad answers', () => {
  let server: Server;
  let base: string;
  let reply: (res: import('node:http').ServerResponse) => void = (res) => res.end('{}');

  beforeAll(async () => {
    server = createServer((_req, res) => reply(res)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stats`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('reports malformed statistics and keeps the last good counts', async () => {
    const good = { infoHash: HASH, version: 1, seeds: 1, leechers: 1, pieceCopies: [1, 1], networkPeers: [] };
    let answered = 0;
    reply = (res) => {
      answered++;
      res.setHeader('content-type', 'application/json');
      res.end(answered === 1 ? JSON.stringify(good) : '{"infoHash": "oops"');
    };
    const source = new TrackerStatsSource({ statsUrl: base, waitS: 1, retryMs: 50 });
    try {
      source.follow(HASH, 2);
      await changed(source, HASH, () => source.reading(HASH).problem !== null);
      expect(source.reading(HASH)).toMatchObject({ counts: { version: 1 }, problem: { kind: 'malformed' } });
      expect(source.reading(HASH).problem?.detail).toContain('not JSON');
    } finally {
      await source.close();
    }
  });
});
