// edgepeer tracker with ALTO maps (docs/topology.md), loopback /24s as PIDs: an asker in PID a is given
// peers and CDN URLs of a first with the random share kept; a changed map changes the order; a malformed
// map is refused and the previous one kept.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { edgepeer } from '../helpers/cli.ts';
import {
  announceFrom,
  costMapJson,
  getFrom,
  networkMapJson,
  PIDS,
  pidOf,
  writeLoopbackMaps,
} from './topology-support.ts';
import { type RunningEdgepeerTracker, startTrackerCommand } from './tracker-support.ts';

const HASH = 'c3'.repeat(20);
const ASKER = `${PIDS.a}.100`;

describe('edgepeer tracker with ALTO maps', () => {
  let dir: string;
  let tracker: RunningEdgepeerTracker;
  const networkPath = () => join(dir, 'networkmap.json');
  const costPath = () => join(dir, 'costmap.json');
  const stats = async () => JSON.parse((await getFrom(tracker.statsUrl, '127.0.0.1')).body.toString()).topology;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ep-topology-tracker-'));
    await writeLoopbackMaps(networkPath(), costPath());
    tracker = await startTrackerCommand([
      '--alto-network-map',
      networkPath(),
      '--alto-cost-map',
      costPath(),
      '--alto-random-share',
      '0.2',
    ]);
    for (const prefix of Object.values(PIDS)) {
      for (let host = 10; host < 18; host++)
        await announceFrom(tracker.announceUrl, HASH, `${prefix}.${host}`, { numWant: 0 });
      await announceFrom(tracker.announceUrl, HASH, `${prefix}.2`, { numWant: 0, edgeUrl: `http://${prefix}.2:8080` });
    }
  });
  afterAll(async () => {
    await tracker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives an asker in PID a the peers of a first, keeps the random share, and lists the nearest edge first', async () => {
    let remote = 0;
    for (let round = 0; round < 5; round++) {
      const answer = await announceFrom(tracker.announceUrl, HASH, ASKER, { numWant: 10 });
      const pids = answer.peers.map(pidOf);
      expect(pids).toHaveLength(10);
      // 10 x (1 - 0.2) nearest: all in a (a holds 9 others), then 2 drawn at random.
      expect(pids.slice(0, 8)).toEqual(Array(8).fill('a'));
      remote += pids.filter((pid) => pid !== 'a').length;
      expect(answer.urlList.map(pidOf)).toEqual(['a', 'b', 'c']);
    }
    // The random share always holds at least one peer outside a: a has only 9 others to give.
    expect(remote).toBeGreaterThanOrEqual(5);
    const topology = await stats();
    expect(topology.networkMap).toMatchObject({ format: 'alto', pids: 3, tag: 'v1', lastError: null });
    expect(topology.peersListed.within).toBeGreaterThanOrEqual(40);
    expect(topology.peersListed.across).toBe(remote);
    const metrics = (await getFrom(tracker.statsUrl.replace(/\/stats$/, '/metrics'), '127.0.0.1')).body.toString();
    expect(metrics).toContain(`edgepeer_tracker_peers_listed_total{scope="within"} ${topology.peersListed.within}`);
  });

  it('orders by the new map once it changes, and keeps the old one when the next is malformed', async () => {
    // c moves next to a: its edge now comes before b's.
    await writeFile(
      costPath(),
      costMapJson({ a: { a: 1, b: 5, c: 2 }, b: { a: 5, b: 1, c: 5 }, c: { a: 2, b: 5, c: 1 } }),
    );
    await vi.waitFor(
      async () =>
        expect((await announceFrom(tracker.announceUrl, HASH, ASKER, { numWant: 0 })).urlList.map(pidOf)).toEqual([
          'a',
          'c',
          'b',
        ]),
      { timeout: 10_000, interval: 100 },
    );
    await writeFile(
      networkPath(),
      networkMapJson({ a: ['127.0.1.0/24'], b: ['127.0.2.0/24', '127.0.2.300/32'], c: ['127.0.3.0/24'] }, 'v2'),
    );
    await vi.waitFor(
      async () =>
        expect((await stats()).networkMap.lastError?.message).toContain('"127.0.2.300/32" is not an address prefix'),
      { timeout: 10_000, interval: 100 },
    );
    const answer = await announceFrom(tracker.announceUrl, HASH, ASKER, { numWant: 10 });
    expect(answer.peers.slice(0, 8).map(pidOf)).toEqual(Array(8).fill('a'));
    expect((await stats()).networkMap.tag).toBe('v1');
    expect(tracker.stderr()).toContain('map refused');
  });

  it('does not start on a malformed map (exit 6, naming it) or a random share outside 0-1 (exit 2)', async () => {
    await writeFile(join(dir, 'bad.json'), networkMapJson({ a: ['127.0.1.0/24'], b: ['127.0.1.0/24'] }));
    const bad = await edgepeer([
      'tracker',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--json',
      '--alto-network-map',
      join(dir, 'bad.json'),
    ]);
    expect(bad.code).toBe(6);
    expect(bad.stdout + bad.stderr).toContain('EDGEPEER_TOPOLOGY_MAP_INVALID');
    expect(bad.stdout + bad.stderr).toContain('127.0.1.0/24 is already in PID "a"');
    await writeFile(join(dir, 'good.json'), networkMapJson({ a: ['127.0.1.0/24'] }));
    const share = await edgepeer([
      'tracker',
      '--port',
      '0',
      '--json',
      '--alto-network-map',
      join(dir, 'good.json'),
      '--alto-random-share',
      '1.5',
    ]);
    expect(share.code).toBe(2);
    expect(share.stdout + share.stderr).toContain('--alto-random-share must be a number from 0 to 1');
  });
});
