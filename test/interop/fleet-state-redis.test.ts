// The Redis fleet state against a real redis-server: the FleetState contract, then what only a shared state
// does: a second controller's state hears the first's changes, and reads what is there when it starts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisFleetState } from '../../src/controller/redis-fleet-state.ts';
import { fleetStateContract } from '../controller/fleet-state-contract.ts';
import { type RedisServer, startRedis } from '../fixtures/redis.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.dispose();
});

/** A fleet of its own on the shared server: a prefix per test. */
const open = (prefix = `t${randomBytes(4).toString('hex')}:`) => RedisFleetState.open({ url: redis.url, prefix });

fleetStateContract('redis fleet state', () => open());

describe('redis fleet state shared by two controllers', () => {
  it("tells one controller of the other's changes, and counts copies per piece in Redis", async () => {
    const prefix = `s${randomBytes(4).toString('hex')}:`;
    const [one, two] = [await open(prefix), await open(prefix)];
    try {
      const heard: unknown[][] = [];
      two.on('edge-record', (record) => heard.push(['edge-record', record.id]));
      two.on('holdings', (edgeId, infoHash, pieceCount, bitfield) =>
        heard.push(['holdings', edgeId, infoHash, pieceCount, Buffer.from(bitfield).toString('hex')]),
      );
      const infoHash = randomBytes(20).toString('hex');
      for (const id of ['edge-000000000001', 'edge-000000000002']) {
        await one.addEdge({ id, name: id, keyHash: '00', enrolledAt: 1, draining: false });
        await one.replaceHoldings(id, { session: 'a1b2c3d4e5f60718', seq: 0 }, [
          { infoHash, pieceCount: 10, bitfield: Buffer.from(id.endsWith('1') ? [0xff, 0xc0] : [0xf0, 0x00]) },
        ]);
      }
      await vi.waitFor(() => expect(heard).toHaveLength(4), { timeout: 2000, interval: 10 });
      expect(heard).toContainEqual(['holdings', 'edge-000000000002', infoHash, 10, 'f000']);
      expect(await two.copiesOf(infoHash, 10)).toEqual([2, 2, 2, 2, 1, 1, 1, 1, 1, 1]);
      expect((await two.holdingsOf('edge-000000000001')).map((held) => held.infoHash)).toEqual([infoHash]);
      await one.markDown('edge-000000000001');
      expect(await two.copiesOf(infoHash, 10)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('puts back the purges queued for a down edge when Redis comes back empty, as the other controller heard of them', async () => {
    const empty = await startRedis({ persist: false });
    const prefix = `q${randomBytes(4).toString('hex')}:`;
    const openOnEmpty = () => RedisFleetState.open({ url: empty.url, prefix });
    const edgeId = 'edge-000000000001';
    const [first, second, third, fourth] = Array.from({ length: 4 }, () => randomBytes(20).toString('hex'));
    const purge = (infoHash: string, queuedAt: number) => ({ infoHash, pieces: null, queuedAt });
    const one = await openOnEmpty();
    let two: RedisFleetState | undefined;
    try {
      await one.addEdge({ id: edgeId, name: edgeId, keyHash: '00', enrolledAt: 1, draining: false });
      await one.queuePurge(edgeId, purge(first!, 1));
      // `two` reads the first at start, then hears of the others and of the drops.
      two = await openOnEmpty();
      const heard: unknown[] = [];
      two.on('queued-purge', (_edge, infoHash, queued) => heard.push([infoHash, queued === null]));
      await one.queuePurge(edgeId, purge(second!, 2));
      await one.queuePurge(edgeId, purge(third!, 3));
      await one.queuePurge(edgeId, purge(fourth!, 4));
      await one.dropQueuedPurge(edgeId, third!);
      await one.dropQueuedPurgesOf(fourth!);
      await vi.waitFor(() => expect(heard).toHaveLength(5), { timeout: 2000, interval: 10 });
      await one.close();

      await empty.stop();
      await empty.restart();
      await vi.waitFor(
        async () => {
          expect(await two!.listEdges()).toHaveLength(1);
          expect(await two!.queuedPurges(edgeId)).toEqual([purge(first!, 1), purge(second!, 2)]);
        },
        { timeout: 15_000, interval: 100 },
      );
    } finally {
      await one.close().catch(() => {});
      await two?.close();
      await empty.dispose();
    }
  });

  it('refuses to open when Redis cannot be reached', async () => {
    await expect(RedisFleetState.open({ url: 'redis://user:secret@127.0.0.1:1', prefix: 'x:' })).rejects.toMatchObject({
      code: 'EDGEPEER_STATE_UNREACHABLE',
      message: expect.stringMatching(/^Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1: .*ECONNREFUSED/),
    });
  });
});
