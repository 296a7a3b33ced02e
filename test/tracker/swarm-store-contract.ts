// The SwarmStore contract (src/tracker/server/swarm-store.ts), for every implementation: the tracker's
// in-memory store today, a shared (Redis) one next. test/tracker/swarm-store.test.ts runs it.
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerLocality } from '../../src/tracker/server/peer-selection.ts';
import type { ListedPeer, PeerAnnounce, SwarmStore, SwarmStoreLimits } from '../../src/tracker/server/swarm-store.ts';

/** Makes a fresh, empty store with these limits. */
export type SwarmStoreFactory = (limits: SwarmStoreLimits) => SwarmStore | Promise<SwarmStore>;

const HASH = 'aa'.repeat(20);

const LIMITS: SwarmStoreLimits = {
  maxSwarms: 100,
  maxPeersPerSwarm: 1000,
  maxPeers: 10_000,
  maxPieces: 1 << 20,
  maxBitmapBytes: 1 << 20,
  maxUrlsPerAnswer: 16,
  maxPeersPerAddress: 10_000,
  maxPeersPerNetwork: 10_000,
};

function peer(n: number, overrides: Partial<PeerAnnounce> = {}): PeerAnnounce {
  return {
    infoHash: HASH,
    peerId: Buffer.from(`-XX0001-${String(n).padStart(12, '0')}`),
    ip: `10.0.${n >> 8}.${n & 255}`,
    family: 4,
    port: 6881,
    uploaded: 0,
    downloaded: 0,
    left: 1000,
    event: undefined,
    numWant: 50,
    now: 1_000_000,
    ...overrides,
  };
}

function bitmap(pieceCount: number, held: (i: number) => boolean): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(pieceCount / 8));
  for (let i = 0; i < pieceCount; i++) if (held(i)) bytes[i >> 3]! |= 0x80 >> (i & 7);
  return bytes;
}

export function swarmStoreContract(name: string, factory: SwarmStoreFactory): void {
  describe(`SwarmStore contract: ${name}`, () => {
    const opened: SwarmStore[] = [];
    const create = async (limits: SwarmStoreLimits) => {
      const store = await factory(limits);
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    it('keys peers by address and port: an announce from another address cannot move or stop an entry', async () => {
      const store = await create(LIMITS);
      const edge = peer(1, { left: 0, network: { urls: ['http://10.0.0.1:8080'] } });
      await store.announce(edge);
      // Same peer id, another address: a forged update and a forged `stopped`.
      const forged = { peerId: edge.peerId, ip: '10.9.9.9', network: { urls: ['http://10.9.9.9:8080'] } };
      await store.announce(peer(2, { ...forged, left: 0 }));
      await store.announce(peer(2, { ...forged, event: 'stopped' }));
      const stats = await store.stats(HASH, 10);
      expect(stats?.peers.map((listed) => `${listed.ip}:${listed.port}`)).toEqual(['10.0.0.1:6881']);
      const answer = await store.announce(peer(3));
      expect(answer.urlList).toEqual([`http://10.0.0.1:8080/objects/${HASH}/`]);
    });

    it('with a locality, lists the nearest peers first and keeps the random share (RFC 6821)', async () => {
      const store = await create(LIMITS);
      for (let n = 1; n <= 40; n++) await store.announce(peer(n, { numWant: 0 }));
      // Odd last bytes are the asker's PID (cost 0), even ones another (cost 10).
      const cost = (listed: ListedPeer) => (listed.compact.charCodeAt(3) % 2 === 1 ? 0 : 10);
      const lastByte = (listed: ListedPeer) => listed.compact.charCodeAt(3);
      const local = await store.announce(peer(99, { numWant: 10 }), { cost, randomShare: 0 });
      expect(local.peers.map((listed) => lastByte(listed) % 2)).toEqual(Array(10).fill(1));
      let remoteSeen = 0;
      for (let round = 0; round < 20; round++) {
        const answer = await store.announce(peer(99, { numWant: 10 }), { cost, randomShare: 0.2 });
        const costs = answer.peers.map(cost);
        expect(answer.peers).toHaveLength(10);
        expect(costs.slice(0, 8)).toEqual(Array(8).fill(0));
        expect(costs).toEqual([...costs].sort((a, b) => a - b));
        remoteSeen += costs.filter((value) => value > 0).length;
      }
      expect(remoteSeen).toBeGreaterThan(0);
      // Fewer candidates than wanted: all of them, nearest first.
      const all = await store.announce(peer(99, { numWant: 100 }), { cost, randomShare: 0.2 });
      expect(all.peers).toHaveLength(40);
      expect(all.peers.slice(0, 20).every((listed) => cost(listed) === 0)).toBe(true);
    });

    it('keeps the PID numbers of announcing peers (no lookup when listed) and looks them up after a map reload', async () => {
      const store = await create(LIMITS);
      let lookups = 0;
      // Map 1: odd last bytes are PID 1, even ones PID 0. Map 2 (a reload) swaps them.
      const map1 = (compact: string) => compact.charCodeAt(3) % 2;
      const map2 = (compact: string) => 1 - map1(compact);
      const numbered = (generation: number, map: (compact: string) => number, asker: number): PeerLocality => {
        const numberOf = (compact: string) => {
          lookups += 1;
          return map(compact);
        };
        return {
          // As the tracker's: the number the store kept, else a lookup.
          cost: (listed) => ((listed.pidNumber ?? numberOf(listed.compact)) === asker ? 0 : 10),
          randomShare: 0,
          pids: { asker, generation, fingerprint: `map${generation}`, numberOf },
        };
      };
      const addressOf = (n: number) => String.fromCharCode(10, 0, n >> 8, n & 255, 0x1a, 0xe1);
      for (let n = 1; n <= 30; n++)
        await store.announce(peer(n, { numWant: 0 }), numbered(1, map1, map1(addressOf(n))));
      lookups = 0;
      const before = await store.announce(peer(99, { numWant: 10 }), numbered(1, map1, 1));
      expect(before.peers.map((listed) => listed.compact.charCodeAt(3) % 2)).toEqual(Array(10).fill(1));
      expect(before.peers.every((listed) => listed.pidNumber === 1)).toBe(true);
      expect(lookups).toBe(0);
      const after = await store.announce(peer(99, { numWant: 10 }), numbered(2, map2, 1));
      expect(after.peers.map((listed) => listed.compact.charCodeAt(3) % 2)).toEqual(Array(10).fill(0));
      expect(lookups).toBeGreaterThan(0);
    });

    it('with a PID lookup, counts seeds and leechers that are not network peers by PID in statistics', async () => {
      const store = await create(LIMITS);
      // 10.0.0.x is PID "low" below .100, "high" from .100; 10.0.1.x is outside every PID.
      const pidOf = (compact: string) =>
        compact.charCodeAt(2) !== 0 ? null : compact.charCodeAt(3) < 100 ? 'low' : 'high';
      await store.announce(peer(1));
      await store.announce(peer(2));
      await store.announce(peer(3, { left: 0 }));
      await store.announce(peer(101));
      await store.announce(peer(102, { left: 0 }));
      await store.announce(peer(103, { left: 0, network: { urls: ['http://10.0.0.103:8080'] } }));
      await store.announce(peer(300));
      const stats = await store.stats(HASH, 0, pidOf);
      expect(stats.pids).toEqual({ low: { seeds: 1, leechers: 2 }, high: { seeds: 1, leechers: 1 } });
      expect((await store.stats(HASH, 0)).pids).toBeUndefined();
      expect((await store.stats('bb'.repeat(20), 0, pidOf)).pids).toEqual({});
    });

    it('lists a client that restarts on the same address and port with a new peer id once', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1));
      const restarted = await store.announce(peer(1, { peerId: Buffer.from('-TR3000-restarted0001') }));
      expect(restarted).toMatchObject({ incomplete: 1 });
      const answer = await store.announce(peer(2));
      expect(answer.peers.map((listed) => [listed.ip, listed.peerId])).toEqual([['10.0.0.1', '-TR3000-restarted0001']]);
    });

    it('one address flooding new swarms stops at its quota; another address still opens a new swarm', async () => {
      const store = await create({ ...LIMITS, maxSwarms: 1000, maxPeersPerAddress: 50, maxPeersPerNetwork: 80 });
      const flood = (n: number, ip: string) => peer(1, { infoHash: n.toString(16).padStart(40, '0'), ip });
      const refused: string[] = [];
      for (let n = 0; n < 200; n++) {
        const outcome = await store.announce(flood(n, '10.0.0.1'));
        if (outcome.failure !== undefined) refused.push(outcome.failure);
      }
      expect(refused).toHaveLength(150);
      expect(refused[0]).toMatch(/your address holds 50 entries/);
      // The same /24 shares a network quota (80): a second flooder there gets 30 more.
      let accepted = 0;
      for (let n = 200; n < 300; n++)
        if ((await store.announce(flood(n, '10.0.0.2'))).failure === undefined) accepted++;
      expect(accepted).toBe(30);
      const legit = await store.announce(peer(2, { infoHash: 'ee'.repeat(20), ip: '198.51.100.7' }));
      expect(legit.failure).toBeUndefined();
      expect((await store.counts()).swarms).toBe(81);
    });

    it('makes room for a new swarm by dropping the least recently announced one, not by refusing', async () => {
      const store = await create({ ...LIMITS, maxSwarms: 3 });
      const hash = (n: number) => String(n).repeat(40);
      for (const n of [1, 2, 3]) await store.announce(peer(n, { infoHash: hash(n) }));
      await store.announce(peer(1, { infoHash: hash(1) })); // 1 is fresh again: 2 is now the oldest
      const fourth = await store.announce(peer(4, { infoHash: hash(4) }));
      expect(fourth.failure).toBeUndefined();
      expect((await store.list(10)).map((swarm) => swarm.infoHash).sort()).toEqual([hash(1), hash(3), hash(4)]);
      expect(await store.counts()).toMatchObject({ swarms: 3, peers: 3, evictedSwarms: 1 });
    });

    it('publishes no peer ids in statistics', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { network: { urls: [] } }));
      await store.announce(peer(2));
      const stats = await store.stats(HASH, 10);
      expect(JSON.stringify(stats)).not.toMatch(/peerId|2d5858303030312d/);
    });

    it('counts seeds and leechers and lists the others, not the asker', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { left: 0 }));
      await store.announce(peer(2));
      const answer = await store.announce(peer(3));
      expect(answer).toMatchObject({ complete: 1, incomplete: 2 });
      expect(answer.peers.map((listed) => listed.ip).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    });

    it('gives seeds leechers first, then seeds (a magnet client announces left=0 before it has the metadata)', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { left: 0 }));
      await store.announce(peer(2));
      const answer = await store.announce(peer(3, { left: 0 }));
      expect(answer.peers.map((listed) => listed.ip)).toEqual(['10.0.0.2', '10.0.0.1']);
      const one = await store.announce(peer(3, { left: 0, numWant: 1 }));
      expect(one.peers.map((listed) => listed.ip)).toEqual(['10.0.0.2']);
    });

    it('drops a peer on stopped and the swarm with its last peer', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1));
      const stopped = await store.announce(peer(1, { event: 'stopped' }));
      expect(stopped).toMatchObject({ complete: 0, incomplete: 0, changed: true });
      expect((await store.counts()).swarms).toBe(0);
    });

    it('counts a completed download once', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { event: 'started' }));
      await store.announce(peer(1, { event: 'completed', left: 0 }));
      const again = await store.announce(peer(1, { event: 'completed', left: 0 }));
      expect(again).toMatchObject({ complete: 1, incomplete: 0, downloaded: 1 });
    });

    it('keeps piece copy counts from bitmaps and seeds, and moves them when a bitmap changes', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { left: 0, network: { pieceCount: 10, size: 1000, urls: [] } }));
      await store.announce(
        peer(2, { left: 500, network: { pieceCount: 10, bitmap: bitmap(10, (i) => i < 5), urls: [] } }),
      );
      await store.announce(peer(3, { left: 700 }));
      let stats = await store.stats(HASH, 10);
      expect(stats.pieceCopies).toEqual([2, 2, 2, 2, 2, 1, 1, 1, 1, 1]);
      expect(stats).toMatchObject({ seeds: 1, leechers: 2, peersWithUnknownPieces: 1, pieceCount: 10, size: 1000 });
      expect(stats.peers.find((listed) => listed.port === 6881 && listed.left === 700)?.progress).toBeCloseTo(0.3);
      await store.announce(
        peer(2, { left: 100, network: { pieceCount: 10, bitmap: bitmap(10, (i) => i !== 3), urls: [] } }),
      );
      stats = await store.stats(HASH, 10);
      expect(stats.pieceCopies).toEqual([2, 2, 2, 1, 2, 2, 2, 2, 2, 2]);
      expect(stats.networkPeers.map((network) => network.held)).toEqual([10, 9]);
      await store.announce(peer(2, { event: 'stopped' }));
      expect((await store.stats(HASH, 10)).pieceCopies).toEqual(Array(10).fill(1));
      expect((await store.counts()).bitmapBytes).toBe(0);
    });

    it('ignores a bitmap whose piece count disagrees with the swarm, with a warning', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { network: { pieceCount: 10, bitmap: bitmap(10, (i) => i < 2), urls: [] } }));
      const answer = await store.announce(
        peer(2, { network: { pieceCount: 11, bitmap: bitmap(11, () => true), urls: [] } }),
      );
      expect(answer.warnings.join()).toMatch(/disagrees/);
      expect((await store.stats(HASH, 10)).pieceCopies).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    });

    it('keeps a network peer bitmap when a later announce leaves it out', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { network: { pieceCount: 10, bitmap: bitmap(10, (i) => i < 2), urls: [] } }));
      await store.announce(peer(1, { network: { pieceCount: 10, urls: [] } }));
      expect((await store.stats(HASH, 10)).networkPeers[0]?.held).toBe(2);
    });

    it('derives url-list from complete network peers and piece URLs from partial ones', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { left: 0, network: { pieceCount: 10, urls: ['http://edge1:8080'] } }));
      await store.announce(
        peer(2, { network: { pieceCount: 10, bitmap: bitmap(10, (i) => i < 5), urls: ['http://edge2:8080'] } }),
      );
      const answer = await store.announce(peer(3));
      expect(answer.urlList).toEqual([`http://edge1:8080/objects/${HASH}/`]);
      expect(answer.pieceUrls.sort()).toEqual([
        `http://edge1:8080/pieces/${HASH}/{index}`,
        `http://edge2:8080/pieces/${HASH}/{index}`,
      ]);
      const own = await store.announce(peer(1, { left: 0, network: { pieceCount: 10, urls: ['http://edge1:8080'] } }));
      expect(own.urlList).toEqual([]);
    });

    it('puts first the peers that hold what a bitmap-carrying asker lacks', async () => {
      const store = await create(LIMITS);
      const pieceCount = 64;
      // Peers 1-20 hold the first half, peers 21-25 the second half.
      for (let n = 1; n <= 20; n++) {
        await store.announce(peer(n, { network: { pieceCount, bitmap: bitmap(pieceCount, (i) => i < 32), urls: [] } }));
      }
      for (let n = 21; n <= 25; n++) {
        await store.announce(
          peer(n, { network: { pieceCount, bitmap: bitmap(pieceCount, (i) => i >= 32), urls: [] } }),
        );
      }
      const asker = peer(99, {
        numWant: 5,
        network: { pieceCount, bitmap: bitmap(pieceCount, (i) => i < 32), urls: [] },
      });
      const answer = await store.announce(asker);
      expect(answer.peers.map((listed) => listed.ip).sort()).toEqual(
        ['10.0.0.21', '10.0.0.22', '10.0.0.23', '10.0.0.24', '10.0.0.25'].sort(),
      );
    });

    it('puts seeds and further-along peers first for a plain asker', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { left: 0, network: { pieceCount: 10, size: 1000, urls: [] } }));
      for (let n = 2; n <= 30; n++) await store.announce(peer(n, { left: 990 }));
      await store.announce(peer(31, { left: 10 }));
      const answer = await store.announce(peer(50, { numWant: 2 }));
      expect(answer.peers.map((listed) => listed.ip).sort()).toEqual(['10.0.0.1', '10.0.0.31']);
    });

    it('expires peers not heard from and reports the swarms that changed', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { now: 1000 }));
      await store.announce(peer(2, { now: 5000 }));
      expect(await store.expire(2000)).toEqual([HASH]);
      expect((await store.stats(HASH, 10)).peerCount).toBe(1);
      expect(await store.expire(2000)).toEqual([]);
      await store.expire(10_000);
      expect(await store.counts()).toEqual({ swarms: 0, peers: 0, bitmapBytes: 0, evictedSwarms: 0 });
    });

    it('expires a peer whose announce carried an earlier clock than the others (another instance behind)', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { now: 5000 }));
      await store.announce(peer(2, { now: 1000 }));
      await store.announce(peer(3, { now: 6000 }));
      await store.announce(peer(3, { now: 1500 }));
      expect(await store.expire(2000)).toEqual([HASH]);
      expect((await store.stats(HASH, 10)).peers.map((listed) => listed.ip)).toEqual(['10.0.0.1']);
    });

    it('bumps versions only on changes, and never reuses one after a swarm comes back', async () => {
      const store = await create(LIMITS);
      const first = await store.announce(peer(1));
      const same = await store.announce(peer(1));
      expect(same.changed).toBe(false);
      expect(same.version).toBe(first.version);
      const moved = await store.announce(peer(1, { left: 10 }));
      expect(moved.version).toBeGreaterThan(first.version);
      await store.announce(peer(1, { event: 'stopped' }));
      expect((await store.stats(HASH, 1)).version).toBe(0);
      const back = await store.announce(peer(1));
      expect(back.version).toBeGreaterThan(moved.version);
    });

    it('bounds swarms, peers per swarm, all peers and bitmap memory', async () => {
      const store = await create({
        ...LIMITS,
        maxSwarms: 2,
        maxPeersPerSwarm: 2,
        maxPeers: 3,
        maxBitmapBytes: 4,
      });
      await store.announce(peer(1, { infoHash: '01'.repeat(20) }));
      await store.announce(peer(1, { infoHash: '02'.repeat(20) }));
      // Full of swarms: the least recently announced (01) makes room.
      expect((await store.announce(peer(1, { infoHash: '03'.repeat(20) }))).failure).toBeUndefined();
      expect(await store.counts()).toMatchObject({ swarms: 2, evictedSwarms: 1 });
      await store.announce(peer(2, { infoHash: '03'.repeat(20) }));
      expect((await store.announce(peer(3, { infoHash: '03'.repeat(20) }))).warnings.join()).toMatch(/swarm is full/);
      // Full of peers (3): a new peer in a swarm makes room by dropping the least recently announced other swarm.
      // (03 refused peer 3 above without dropping anything: a full swarm makes no room.)
      expect(await store.counts()).toMatchObject({ peers: 3, swarms: 2, evictedSwarms: 1 });
      await store.announce(peer(2, { infoHash: '02'.repeat(20) }));
      expect(await store.counts()).toMatchObject({ peers: 2, swarms: 1, evictedSwarms: 2 });
      const big = await create({ ...LIMITS, maxBitmapBytes: 4 });
      const answer = await big.announce(
        peer(1, { network: { pieceCount: 64, bitmap: bitmap(64, (i) => i < 3), urls: [] } }),
      );
      expect(answer.warnings.join()).toMatch(/bitmap memory is full/);
      expect((await big.counts()).bitmapBytes).toBe(0);
    });

    it('answers scrapes for known and unknown swarms', async () => {
      const store = await create(LIMITS);
      await store.announce(peer(1, { left: 0 }));
      expect(await store.scrape([HASH, 'bb'.repeat(20)], 10)).toEqual([
        { infoHash: HASH, complete: 1, incomplete: 0, downloaded: 0 },
        { infoHash: 'bb'.repeat(20), complete: 0, incomplete: 0, downloaded: 0 },
      ]);
      expect((await store.scrape(undefined, 10)).map((entry) => entry.infoHash)).toEqual([HASH]);
    });

    it('tells its change listeners of announces, stopped and expiry that change a swarm, with the new version', async () => {
      const store = await create(LIMITS);
      const heard: Array<[string, number]> = [];
      const unfollow = store.onChange((infoHash, version) => heard.push([infoHash, version]));
      const first = await store.announce(peer(1, { now: 1000 }));
      await store.announce(peer(1, { now: 1000 })); // nothing changed
      const second = await store.announce(peer(2, { now: 5000 }));
      await store.expire(2000);
      const expired = await store.stats(HASH, 0);
      const stopped = await store.announce(peer(2, { event: 'stopped' }));
      expect(heard).toEqual([
        [HASH, first.version],
        [HASH, second.version],
        [HASH, expired.version],
        [HASH, stopped.version],
      ]);
      unfollow();
      await store.announce(peer(3));
      expect(heard).toHaveLength(4);
    });

    it('lets the instance that claims expiry keep it', async () => {
      const store = await create(LIMITS);
      expect(await store.claimExpiry(10_000)).toBe(true);
      expect(await store.claimExpiry(10_000)).toBe(true);
    });
  });
}
