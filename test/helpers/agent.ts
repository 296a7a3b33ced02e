import { join } from 'node:path';
import { type AgentConfig, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';

/**
 * An agent for an in-process test: its store under `dir`, the peer wire on a free loopback port, no HTTP,
 * admin API, announces or scrub unless `overrides` says otherwise, one hashing thread.
 */
export function testAgentConfig(dir: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  return {
    ...DEFAULT_AGENT_CONFIG,
    dataDir: join(dir, 'store'),
    peer: { port: 0, host: '127.0.0.1' },
    http: null,
    admin: null,
    announce: false,
    hashThreads: 1,
    scrub: { bytesPerSecond: 0, passIntervalMs: 3_600_000, window: null },
    ...overrides,
  };
}

/** The default HTTP server settings on a free loopback port. */
export function loopbackHttp(): NonNullable<AgentConfig['http']> {
  return { ...(DEFAULT_AGENT_CONFIG.http as NonNullable<AgentConfig['http']>), port: 0, host: '127.0.0.1' };
}
