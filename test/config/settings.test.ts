import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { defaultTokenFile } from '../../src/admin/index.ts';
import { DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import {
  AGENT_FLAGS,
  envName,
  LOG_LEVELS,
  resolveAgentConfig,
  SETTING_KEYS,
  SETTINGS,
  type SettingSpec,
} from '../../src/config/index.ts';
import { fromText } from '../../src/config/settings.ts';
import { DEFAULT_LIMITS, resolveLimits } from '../../src/wire/index.ts';

// src/config sits below wire, agent and cli, so it keeps copies of their defaults and ranges: these tests are
// what keeps the copies honest.
describe('the settings table agrees with the parts it configures', () => {
  const limitKeys = SETTING_KEYS.filter((k) => k.startsWith('peer.limits.'));

  it('has every peer wire limit, with the wire default', () => {
    expect(limitKeys.map((k) => k.slice('peer.limits.'.length)).sort()).toEqual(Object.keys(DEFAULT_LIMITS).sort());
    for (const key of limitKeys) {
      const name = key.slice('peer.limits.'.length) as keyof typeof DEFAULT_LIMITS;
      expect((SETTINGS[key] as SettingSpec).default, key).toBe(DEFAULT_LIMITS[name]);
    }
  });

  it("accepts exactly the wire's range for every numeric limit", () => {
    for (const key of limitKeys) {
      const spec = SETTINGS[key] as SettingSpec;
      if (spec.value.type === 'bool') continue;
      const { min, max } = spec.value as { min: number; max: number };
      const name = key.slice('peer.limits.'.length);
      // keepAlive must stay below idle: test each bound with the other one out of the way.
      const room = name === 'keepAliveIntervalMs' ? { idleTimeoutMs: 86_400_000 } : { keepAliveIntervalMs: 10 };
      const rangeError = (value: number) => {
        try {
          resolveLimits({ ...room, [name]: value });
          return null;
        } catch (err) {
          // The keep-alive < idle rule is not a range: idleTimeoutMs at its minimum trips only that rule.
          return /must be an integer/.test((err as Error).message) ? (err as Error).message : null;
        }
      };
      expect(rangeError(min), `${name} min`).toBeNull();
      expect(rangeError(max), `${name} max`).toBeNull();
      expect(rangeError(min - 1), `${name} min-1`).toMatch(name);
      expect(rangeError(max + 1), `${name} max+1`).toMatch(name);
    }
  });

  it('has the log levels of the logger (pino)', () => {
    expect([...LOG_LEVELS].filter((l) => l !== 'silent').sort()).toEqual(Object.keys(pino.levels.values).sort());
  });

  it("resolves, with nothing given, to the agent's own defaults", async () => {
    const { config } = await resolveAgentConfig({ configPath: null, env: {}, flags: {} });
    const { limits, ...peer } = config.peer;
    expect(limits).toEqual({ ...DEFAULT_LIMITS });
    expect({ ...config, peer }).toEqual({
      ...DEFAULT_AGENT_CONFIG,
      dataDir: config.dataDir,
      logLevel: 'info',
      admin: { ...DEFAULT_AGENT_CONFIG.admin, tokenFile: defaultTokenFile(config.dataDir) },
    });
  });
});

describe('names', () => {
  it('derives env names from key paths', () => {
    expect(envName('peer.port')).toBe('EDGEPEER_PEER_PORT');
    expect(envName('dataDir')).toBe('EDGEPEER_DATA_DIR');
    expect(envName('http.publicUrl')).toBe('EDGEPEER_HTTP_PUBLIC_URL');
    expect(envName('ims.passwordFile')).toBe('EDGEPEER_IMS_PASSWORD_FILE');
    expect(envName('peer.limits.maxConnectionsPerIp')).toBe('EDGEPEER_PEER_LIMITS_MAX_CONNECTIONS_PER_IP');
  });

  it('maps every flag to a key, each flag name once', () => {
    const names = AGENT_FLAGS.map((f) => f.flag);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining(['data-dir', 'peer-port', 'http-port', 'tracker', 'no-http', 'no-announce', 'log-level']),
    );
    for (const flag of AGENT_FLAGS) expect(SETTING_KEYS).toContain(flag.key);
  });
});

describe('fromText', () => {
  it('reads integers, booleans and lists, and leaves junk for the schema to reject', () => {
    expect(fromText('int', ' 6881 ')).toBe(6881);
    expect(fromText('int', '68x')).toBe('68x');
    expect(fromText('bool', 'off')).toBe(false);
    expect(fromText('bool', 'YES')).toBe(true);
    expect(fromText('bool', 'maybe')).toBe('maybe');
    expect(fromText('urls', 'http://a/announce, udp://b:6969,,')).toEqual(['http://a/announce', 'udp://b:6969']);
    expect(fromText('hosts', '::1')).toBe('::1');
    expect(fromText('hosts', '127.0.0.1,::1')).toEqual(['127.0.0.1', '::1']);
    expect(fromText('size', '256MiB')).toBe('256MiB');
  });
});
