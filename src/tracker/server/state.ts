// Where the reference tracker keeps its swarms: this process's memory (the default), or Redis shared by
// several `edgepeer tracker` processes. The Redis client is loaded only for the latter.
import { type Logger, silentLogger } from '../../log/index.ts';
import { swarmStoreLimits, type TrackerCoreOptions } from './core.ts';
import { MemorySwarmStore, type SwarmStore } from './swarm-store.ts';

export interface TrackerRedisState {
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS. */
  url: string;
  password?: string;
  /** CA certificates (PEM) for rediss:// to a private CA. */
  tlsCa?: Buffer;
  /** Prefix of every key; default 'ep:t:'. */
  prefix?: string;
}

/**
 * The swarm store for these tracker options: in memory when `redis` is null; else connected to Redis (rejects
 * with EDGEPEER_STATE_UNREACHABLE when it cannot be reached or refuses). Later outages are logged, once per
 * kind of failure while they last, and retried with backoff.
 */
export async function openSwarmStore(
  redis: TrackerRedisState | null,
  options: TrackerCoreOptions,
  logger: Logger = silentLogger,
): Promise<SwarmStore> {
  const limits = swarmStoreLimits(options);
  if (redis === null) return new MemorySwarmStore(limits);
  const { RedisSwarmStore } = await import('./redis-swarm-store.ts');
  let lastError = '';
  return RedisSwarmStore.open({
    url: redis.url,
    limits,
    ...(redis.password ? { password: redis.password } : {}),
    ...(redis.tlsCa ? { tlsCa: redis.tlsCa } : {}),
    ...(redis.prefix ? { prefix: redis.prefix } : {}),
    onError: (err) => {
      if (err.message === lastError) return;
      lastError = err.message;
      logger.warn({ err: err.message }, 'tracker: Redis connection failed; retrying (announces get a failure reason)');
    },
  });
}

export { redactUrl } from '../../redis/index.ts';
