// SIGHUP's configuration reload, on a real agent (store, wire server, announces) and two of edgepeer's own
// trackers on loopback: a new tracker list goes into effect in place. The dropped tracker hears `stopped`,
// the new one `started`. (That the trackers kept see nothing of it is test/tracker/announce-client.test.ts's.)
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type AgentConfig, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { createTracker, type SwarmStats, type Tracker } from '../../src/tracker/index.ts';

let dir: string;
const trackers: Tracker[] = [];
const urls: string[] = [];

/** The tracker's statistics of one object, once `accept` holds (checked every 50 ms, for up to 20 s). */
async function swarmWhen(tracker: Tracker, infoHash: string, accept: (stats: SwarmStats) => boolean) {
  for (let tries = 0; tries < 400; tries += 1) {
    const stats = await tracker.swarms.stats(infoHash, 10);
    if (accept(stats)) return stats;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the tracker's statistics of ${infoHash} never got there`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-reload-'));
  for (let i = 0; i < 2; i += 1) {
    const tracker = createTracker({ host: '127.0.0.1', udp: false });
    urls.push((await tracker.listen()).announceUrl);
    trackers.push(tracker);
  }
});

afterAll(async () => {
  await Promise.all(trackers.map((tracker) => tracker.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('agent reload', () => {
  it('moves announces from a dropped tracker to a new one, in place', async () => {
    const [first, second] = trackers as [Tracker, Tracker];
    const config: AgentConfig = {
      ...DEFAULT_AGENT_CONFIG,
      dataDir: join(dir, 'store'),
      peer: { port: 0, host: '127.0.0.1' },
      http: null,
      admin: null,
      trackers: [urls[0]!],
    };
    const agent = await Agent.start(config, pino({ level: 'silent' }));
    try {
      const file = join(dir, 'object.bin');
      await writeFile(file, Buffer.alloc(300_000, 5));
      let infoHash = '';
      await agent.operations.ingest({ sources: [file], options: {} }, (result) => {
        infoHash = result.infoHash ?? '';
      });
      await swarmWhen(first, infoHash, (stats) => stats.networkPeers.length === 1);

      const applied = await agent.reload({ ...config, trackers: [urls[1]!] });
      expect(applied).toEqual({ applied: ['trackers'], restartNeeded: [] });
      await swarmWhen(second, infoHash, (stats) => stats.networkPeers.length === 1);
      await swarmWhen(first, infoHash, (stats) => stats.networkPeers.length === 0);
      expect(agent.status().trackers.map((tracker) => [tracker.url, tracker.objects])).toEqual([[urls[1], 1]]);
    } finally {
      await agent.stop();
    }
  });
});
