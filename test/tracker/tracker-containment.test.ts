// A failure nobody meant (a bug in the swarm store, say) costs the tracker one request or datagram, never the
// process: logged with its fields, counted in /stats, answered 500 over HTTP without the internals, and not at
// all over UDP. A real store cannot be made to fail like that, so one that throws stands in for it.
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTracker, type Tracker, type TrackerAddress } from '../../src/tracker/index.ts';
import { announceRequest, connectRequest, scrapeRequest, UdpAction } from '../../src/tracker/protocol/udp.ts';
import { MemorySwarmStore } from '../../src/tracker/server/swarm-store.ts';
import { announceQueryOf, getBencoded, peerId } from './helpers.ts';

const FAULTY_HASH = Buffer.alloc(20, 0xee);

/** A memory store whose announce for FAULTY_HASH throws as a bug would. */
class FaultyStore extends MemorySwarmStore {
  override async announce(announce: Parameters<MemorySwarmStore['announce']>[0]) {
    if (announce.infoHash === FAULTY_HASH.toString('hex')) throw new TypeError('secret internals: x is undefined');
    return super.announce(announce);
  }
}

describe('tracker containment', () => {
  let tracker: Tracker;
  let address: TrackerAddress;
  const errors: Array<{ fields: Record<string, unknown>; message: string }> = [];
  let logged: () => void = () => {};
  const logger = {
    debug() {},
    info() {},
    warn() {},
    error(fields: object, message: string) {
      errors.push({ fields: fields as Record<string, unknown>, message });
      logged();
    },
  };

  beforeAll(async () => {
    const swarmStore = new FaultyStore({
      maxSwarms: 100,
      maxPeersPerSwarm: 100,
      maxPeers: 1000,
      maxPeersPerAddress: 1000,
      maxPeersPerNetwork: 1000,
      maxPieces: 1024,
      maxBitmapBytes: 1 << 20,
      maxUrlsPerAnswer: 16,
    });
    tracker = createTracker({ port: 0, host: '127.0.0.1', swarmStore, logger });
    address = await tracker.listen();
  });

  afterAll(async () => {
    await tracker.close();
  });

  it('answers a failing HTTP announce 500 without internals, logs it, and serves the next', async () => {
    const failed = await getBencoded(`${address.announceUrl}?${announceQueryOf({ info_hash: FAULTY_HASH })}`);
    expect(failed.status).toBe(500);
    expect(String(failed.body['failure reason'])).toBe('internal error');
    expect(errors[0]).toMatchObject({
      message: 'tracker: request failed',
      fields: { method: 'GET', path: '/announce' },
    });
    expect((errors[0]!.fields.err as Error).message).toContain('secret internals');
    const next = await getBencoded(`${address.announceUrl}?${announceQueryOf({})}`);
    expect(next.status).toBe(200);
    const stats = (await (await fetch(address.statsUrl)).json()) as { internalErrors: number };
    expect(stats.internalErrors).toBe(1);
  });

  it('leaves a failing UDP announce unanswered, logs it, and answers the next datagram', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      const exchange = async (packet: Buffer) => {
        const answer = once(socket, 'message');
        socket.send(packet, address.port, '127.0.0.1');
        return ((await answer) as [Buffer])[0];
      };
      const connectionId = (await exchange(connectRequest(7))).subarray(8, 16);
      const errorLogged = new Promise<void>((resolve) => {
        logged = resolve;
      });
      const answers: Buffer[] = [];
      socket.on('message', (answer: Buffer) => answers.push(answer));
      socket.send(
        announceRequest({
          connectionId,
          transactionId: 99,
          infoHash: FAULTY_HASH,
          peerId: peerId(3),
          downloaded: 0,
          left: 0,
          uploaded: 0,
          event: 'started',
          ip: 0,
          key: 1,
          numWant: -1,
          port: 7003,
        }),
        address.port,
        '127.0.0.1',
      );
      await errorLogged;
      expect(errors.at(-1)).toMatchObject({ message: 'tracker: UDP datagram failed', fields: { bytes: 98 } });
      const scrape = await exchange(scrapeRequest(connectionId, 100, [randomBytes(20)]));
      expect(scrape.readUInt32BE(0)).toBe(UdpAction.scrape);
      // The only answer since the failing announce is the scrape's.
      expect(answers.map((answer) => answer.readUInt32BE(4))).toEqual([100]);
      const stats = (await (await fetch(address.statsUrl)).json()) as { internalErrors: number };
      expect(stats.internalErrors).toBe(2);
    } finally {
      socket.close();
    }
  });
});
