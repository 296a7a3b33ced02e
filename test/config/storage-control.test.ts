import { describe, expect, it } from 'vitest';
import { issuesOf, type ResolveOptions, resolveAgentConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors/index.ts';

const resolveWith = (options: ResolveOptions) =>
  resolveAgentConfig({ configPath: null, env: {}, flags: {}, cwd: '/tmp', ...options });

const HASH = 'C0FFEEC0FFEEC0FFEEC0FFEEC0FFEEC0FFEEC0FF';

describe('storageControl settings', () => {
  it('are off unless enabled', async () => {
    expect((await resolveWith({})).config.storageControl).toBeNull();
  });

  it('resolve to the policy settings, the statistics URL beside the tracker and the objects controlled', async () => {
    const { config } = await resolveWith({
      env: {
        EDGEPEER_TRACKERS: 'udp://t.example:1/announce,http://t.example:6969/announce',
        EDGEPEER_STORAGE_CONTROL_HOLD: '90s',
        EDGEPEER_STORAGE_CONTROL_OBJECTS: HASH,
      },
      flags: { 'storage-control': true },
    });
    expect(config.storageControl).toEqual({
      settings: {
        lowCopies: 2,
        highCopies: 4,
        demandPerCopy: 0,
        copiesPerLeecher: 0,
        paceSeedsPerLeecher: 0,
        holdMs: 90_000,
        ttlMs: 0,
        budgetBytes: 10 * 1024 ** 3,
        ingestBytesPerSecond: 0,
        opsPerMinute: 60,
        staleMs: 120_000,
        setAside: true,
      },
      statsUrl: 'http://t.example:6969/stats',
      scrape: null,
      objects: [HASH.toLowerCase()],
      intervalMs: 5000,
      catalogue: null,
      topUpBytesPerSecond: 0,
    });
  });

  it('refuse marks without hysteresis and a missing statistics URL, naming the keys', async () => {
    const err = await resolveWith({
      env: { EDGEPEER_STORAGE_CONTROL_LOW_COPIES: '4', EDGEPEER_STORAGE_CONTROL_HIGH_COPIES: '4' },
      flags: { 'storage-control': true },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(issuesOf(err as ConfigError).map((issue) => issue.key)).toEqual([
      'storageControl.highCopies',
      'storageControl.statsUrl',
    ]);
  });

  it("follow a tracker's scrape instead of /stats when scrapeUrl is set: no edgepeer tracker needed", async () => {
    const { config } = await resolveWith({
      env: { EDGEPEER_STORAGE_CONTROL_SCRAPE_URL: 'http://opentracker.example:6969/scrape' },
      flags: { 'storage-control': true },
    });
    expect(config.storageControl?.scrape).toEqual({
      url: 'http://opentracker.example:6969/scrape',
      intervalMs: 30_000,
    });
  });

  it('refuse a scrape beside a statistics URL, invitations with a scrape, and a scrape interval past the staleness', async () => {
    const err = await resolveWith({
      env: {
        EDGEPEER_STORAGE_CONTROL_STATS_URL: 'http://t.example:6969/stats',
        EDGEPEER_STORAGE_CONTROL_SCRAPE_URL: 'http://opentracker.example:6969/scrape',
        EDGEPEER_STORAGE_CONTROL_CATALOGUE: '/srv/torrents',
        EDGEPEER_STORAGE_CONTROL_SCRAPE_INTERVAL: '5m',
      },
      flags: { 'storage-control': true },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(issuesOf(err as ConfigError).map((issue) => issue.key)).toEqual([
      'storageControl.scrapeUrl',
      'storageControl.catalogue',
      'storageControl.scrapeInterval',
    ]);
  });

  it('refuse an objects list that is not info hashes', async () => {
    const err = await resolveWith({ env: { EDGEPEER_STORAGE_CONTROL_OBJECTS: 'all,abc' } }).catch((e: unknown) => e);
    expect(issuesOf(err as ConfigError)[0]?.key).toBe('storageControl.objects');
  });
});
