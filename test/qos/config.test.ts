// The qos.* keys from flags and the environment into the agent's QosSettings, and their cross-checks.
import { describe, expect, it } from 'vitest';
import { resolveAgentConfig } from '../../src/config/index.ts';

const HASH = 'c0ffee'.padEnd(40, '0');

describe('qos configuration', () => {
  it('reads the limits, classes and schedule from flags and the environment', async () => {
    const { config } = await resolveAgentConfig({
      configPath: null,
      env: { EDGEPEER_QOS_CLIENT_RATE: '1MiB', EDGEPEER_QOS_SHED_CONNECTIONS: '500' },
      flags: {
        'qos-rate': '100MiB',
        'qos-classes': 'gold:3,bronze:1:10MB',
        'qos-object-classes': `${HASH}=gold`,
        'qos-alt-rate': '5MiB',
        'qos-alt-window': '09:00-18:00',
      },
    });
    expect(config.qos).toMatchObject({
      rate: 100 * 1024 * 1024,
      clientRate: 1024 * 1024,
      shedConnections: 500,
      classes: [
        { name: 'gold', weight: 3, rate: 0 },
        { name: 'bronze', weight: 1, rate: 10_000_000 },
      ],
      objectClasses: { [HASH]: 'gold' },
      altRate: 5 * 1024 * 1024,
      altWindow: '09:00-18:00',
      retryAfterMs: 5000,
    });
  });

  it('refuses an object class that qos.classes does not define, and a window out of the day, naming the key', async () => {
    await expect(
      resolveAgentConfig({ configPath: null, env: {}, flags: { 'qos-object-classes': `${HASH}=gold` } }),
    ).rejects.toMatchObject({ code: 'EDGEPEER_CONFIG_INVALID', message: expect.stringMatching(/qos\.objectClasses/) });
    await expect(
      resolveAgentConfig({ configPath: null, env: {}, flags: { 'qos-alt-window': '23:00-25:30' } }),
    ).rejects.toMatchObject({ code: 'EDGEPEER_CONFIG_INVALID', message: expect.stringMatching(/qos\.altWindow/) });
  });
});
