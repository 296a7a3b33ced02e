// The tracker's invitations (docs/tracker.md "Invitations"): with inviteBelow, GET /invitations lists the
// swarms whose rarest piece has fewer copies than that while leechers want it, and long-polls on changes.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTracker, type Tracker, type TrackerAddress } from '../../src/tracker/index.ts';
import { announceQueryOf, getBencoded, peerId } from './helpers.ts';

interface List {
  version: number;
  inviteBelow: number;
  invitations: Array<{ infoHash: string; rarestCopies: number; seeds: number; leechers: number }>;
}

describe('tracker invitations', () => {
  let tracker: Tracker;
  let plain: Tracker;
  let address: TrackerAddress;
  let url: string;
  beforeAll(async () => {
    tracker = createTracker({ host: '127.0.0.1', udp: false, inviteBelow: 2 });
    address = await tracker.listen();
    url = address.statsUrl.replace(/\/stats$/, '/invitations');
    plain = createTracker({ host: '127.0.0.1', udp: false });
  });
  afterAll(async () => {
    await tracker.close();
    await plain.close();
  });

  const announce = (values: Record<string, string | number | Uint8Array | undefined>) =>
    getBencoded(`${address.announceUrl}?${announceQueryOf(values)}`);
  const list = async (query = ''): Promise<List> => (await (await fetch(`${url}${query}`)).json()) as List;

  it('lists a swarm while its rarest piece has too few copies for its leechers, and wakes long polls', async () => {
    const infoHash = randomBytes(20);
    const hex = infoHash.toString('hex');
    const start = await list();
    expect(start).toMatchObject({ inviteBelow: 2, invitations: [] });
    const waiting = list(`?since=${start.version}&wait=20`);
    await announce({ info_hash: infoHash, peer_id: peerId(1), port: 7001 });
    expect((await waiting).invitations).toEqual([
      expect.objectContaining({ infoHash: hex, rarestCopies: 0, seeds: 0, leechers: 1 }),
    ]);
    // One seed: still below 2 copies. Two: no longer in need.
    await announce({ info_hash: infoHash, peer_id: peerId(2), port: 7002, left: 0 });
    const oneSeed = await waitUntil(list, (l) => l.invitations.some((i) => i.infoHash === hex && i.seeds === 1));
    expect(oneSeed.invitations.find((i) => i.infoHash === hex)).toMatchObject({ rarestCopies: 1 });
    await announce({ info_hash: infoHash, peer_id: peerId(3), port: 7003, left: 0 });
    await waitUntil(list, (l) => !l.invitations.some((i) => i.infoHash === hex));
    // A swarm of seeds only wants nothing.
    const seedsOnly = randomBytes(20);
    await announce({ info_hash: seedsOnly, peer_id: peerId(4), port: 7004, left: 0 });
    const after = await list();
    expect(after.invitations.map((i) => i.infoHash)).not.toContain(seedsOnly.toString('hex'));
  });

  it('answers 404 naming the flag when invitations are off', async () => {
    const plainAddress = await plain.listen();
    const response = await fetch(plainAddress.statsUrl.replace(/\/stats$/, '/invitations'));
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toContain('--invite-below');
  });
});

/** Long-polls the list until `done` holds (each answer comes at the next change, or after 5 s). */
async function waitUntil(list: (query?: string) => Promise<List>, done: (l: List) => boolean): Promise<List> {
  let current = await list();
  for (let i = 0; i < 10 && !done(current); i++) current = await list(`?since=${current.version}&wait=5`);
  expect(done(current)).toBe(true);
  return current;
}
