// The tracker's Redis swarm store against a real redis-server: the SwarmStore contract, then what only a
// shared store does: a second instance sees the first's swarms and hears its changes, one instance at a time
// holds the expiry lease (fenced), and Redis away is EDGEPEER_STATE_UNREACHABLE, not a crash or a hang.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisSwarmStore } from '../../src/tracker/server/redis-swarm-store.ts';
import type { PeerAnnounce, SwarmStoreLimits } from '../../src/tracker/server/swarm-store.ts';
import { type RedisServer, startRedis } from '../fixtures/redis.ts';
import { swarmStoreContract } from '../tracker/swarm-store-contract.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.dispose();
});

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

/** A tracker state of its own on the shared server: a prefix per store (or per pair of instances). */
const open = (limits: SwarmStoreLimits, prefix = `t${randomBytes(4).toString('hex')}:`) =>
  RedisSwarmStore.open({ url: redis.url, prefix, limits });

swarmStoreContract('redis', (limits) => open(limits));

const HASH = 'cd'.repeat(20);
function peer(n: number, overrides: Partial<PeerAnnounce> = {}): PeerAnnounce {
  return {
    infoHash: HASH,
    peerId: Buffer.from(`-XX0001-${String(n).padStart(12, '0')}`),
    ip: `10.1.0.${n}`,
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

describe('redis swarm store shared by two tracker instances', () => {
  it("lists one instance's peers to the other, and tells the other's listeners of its changes", async () => {
    const prefix = `s${randomBytes(4).toString('hex')}:`;
    const [one, two] = [await open(LIMITS, prefix), await open(LIMITS, prefix)];
    try {
      const heard: Array<[string, number]> = [];
      two.onChange((infoHash, version) => heard.push([infoHash, version]));
      const announced = await one.announce(peer(1, { left: 0 }));
      await vi.waitFor(() => expect(heard).toEqual([[HASH, announced.version]]), { timeout: 2000, interval: 10 });
      const answer = await two.announce(peer(2));
      expect(answer.peers.map((listed) => listed.ip)).toEqual(['10.1.0.1']);
      expect(answer).toMatchObject({ complete: 1, incomplete: 1 });
      expect((await one.stats(HASH, 10)).peerCount).toBe(2);
      const stopped = await two.announce(peer(1, { event: 'stopped' }));
      expect(stopped.changed).toBe(true);
      expect((await one.scrape([HASH], 1))[0]).toMatchObject({ complete: 0, incomplete: 1 });
      // One tracker id for both: a client whose announces reach the other resends nothing.
      expect(one.trackerId).toMatch(/^[0-9a-f]{12}$/);
      expect(two.trackerId).toBe(one.trackerId);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('gives the expiry lease to one instance at a time; a fenced former holder expires nothing', async () => {
    const prefix = `e${randomBytes(4).toString('hex')}:`;
    const [one, two] = [await open(LIMITS, prefix), await open(LIMITS, prefix)];
    try {
      expect(await one.claimExpiry(300)).toBe(true);
      expect(await two.claimExpiry(300)).toBe(false);
      await one.announce(peer(1, { now: 1000 }));
      // The lease lapses (its holder stalled): the other takes it, and the stalled one's sweep is refused.
      await vi.waitFor(async () => expect(await two.claimExpiry(60_000)).toBe(true), { timeout: 3000, interval: 50 });
      expect(await one.expire(2000)).toEqual([]);
      expect((await one.counts()).peers).toBe(1);
      expect(await two.expire(2000)).toEqual([HASH]);
      expect(await one.counts()).toMatchObject({ peers: 0, swarms: 0 });
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('expires more swarms than one batch of the sweep takes', async () => {
    const store = await open({ ...LIMITS, maxSwarms: 2000 });
    try {
      const hashes = Array.from({ length: 1200 }, (_, n) => n.toString(16).padStart(40, '0'));
      await Promise.all(hashes.map((infoHash) => store.announce(peer(1, { infoHash, now: 1000 }))));
      await store.announce(peer(2, { infoHash: hashes[0]!, now: 9000 }));
      expect((await store.expire(2000)).sort()).toEqual([...hashes].sort());
      expect(await store.counts()).toMatchObject({ swarms: 1, peers: 1 });
    } finally {
      await store.close();
    }
  });

  it('refuses to open when Redis cannot be reached, naming it without its password', async () => {
    await expect(
      RedisSwarmStore.open({ url: 'redis://user:secret@127.0.0.1:1', prefix: 'x:', limits: LIMITS }),
    ).rejects.toMatchObject({
      code: 'EDGEPEER_STATE_UNREACHABLE',
      message: expect.stringMatching(/^Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1: .*ECONNREFUSED/),
    });
  });

  it('fails announces with EDGEPEER_STATE_UNREACHABLE while Redis is away, and serves again once it is back', async () => {
    const own = await startRedis();
    const errors: string[] = [];
    const store = await RedisSwarmStore.open({
      url: own.url,
      limits: LIMITS,
      onError: (err) => errors.push(err.message),
    });
    try {
      await store.announce(peer(1));
      const trackerId = store.trackerId;
      await own.stop();
      await expect(store.announce(peer(2))).rejects.toMatchObject({ code: 'EDGEPEER_STATE_UNREACHABLE' });
      await own.restart();
      // Back (empty: no persistence here): the scripts are loaded again and announces work.
      await vi.waitFor(async () => expect((await store.announce(peer(3))).failure).toBeUndefined(), {
        timeout: 10_000,
        interval: 100,
      });
      expect(errors.length).toBeGreaterThan(0);
      // The state was lost: a new tracker id tells clients to send their bitmaps in full again.
      await vi.waitFor(() => expect(store.trackerId).not.toBe(trackerId), { timeout: 5000, interval: 50 });
    } finally {
      await store.close();
      await own.dispose();
    }
  });
});
