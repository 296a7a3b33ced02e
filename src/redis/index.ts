// The connection to Redis that the processes sharing state there (the reference tracker's swarm store,
// the controller's fleet state) open the same way: a client for commands and a duplicate for pub/sub,
// replies as Buffers, the first connection failing at once with the reason, later losses retried for as
// long as it takes. The Redis client itself is imported when a connection is opened: a process on its
// in-memory state never loads it.
import type * as Redis from 'redis';
import { StateUnreachableError } from '../errors/index.ts';

export interface RedisConnectionOptions {
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS. */
  url: string;
  /** Password (read from a file by the caller), when the URL has none. */
  password?: string;
  /** CA certificates (PEM) for rediss:// to a private CA. */
  tlsCa?: Buffer;
  /** Time for a connection to be made; default 5 s. */
  connectTimeoutMs?: number;
  /** Connection errors once connected (each failed reconnection attempt); the first failure rejects. */
  onError?: (err: Error) => void;
}

export type RedisClient = ReturnType<typeof binaryClient>;

function binaryClient(
  redis: typeof Redis,
  options: RedisConnectionOptions,
  offlineQueue: boolean,
  connected: () => boolean,
) {
  return redis
    .createClient({
      url: options.url,
      ...(options.password ? { password: options.password } : {}),
      ...(offlineQueue ? {} : { disableOfflineQueue: true }),
      socket: {
        connectTimeout: options.connectTimeoutMs ?? 5000,
        // The first connection fails at once (the operator hears why); once connected, a lost connection is
        // retried with backoff, 50 ms doubling to 2 s, for as long as it takes.
        reconnectStrategy: (retries: number, cause: Error) =>
          connected() ? Math.min(2000, 50 * 2 ** Math.min(retries, 6)) : cause,
        ...(options.tlsCa ? { tls: true as const, ca: options.tlsCa } : {}),
      },
    })
    .withTypeMapping({ [redis.RESP_TYPES.BLOB_STRING]: Buffer });
}

/**
 * Connects a command client and a subscriber; rejects with EDGEPEER_STATE_UNREACHABLE when Redis cannot be
 * reached or refuses. `offlineQueue: false`: while Redis is away a command fails at once instead of waiting
 * to be sent (the tracker answers a failure reason rather than hold the client).
 */
export async function openRedisConnection(
  options: RedisConnectionOptions,
  { offlineQueue }: { offlineQueue: boolean },
): Promise<{ client: RedisClient; subscriber: RedisClient }> {
  const redis = await import('redis');
  let connected = false;
  const client = binaryClient(redis, options, offlineQueue, () => connected);
  const subscriber = client.duplicate();
  // Before the first connection, its failure is the rejection, told once.
  const onError = (err: Error) => {
    if (connected) options.onError?.(err);
  };
  client.on('error', onError);
  subscriber.on('error', onError);
  try {
    await client.connect();
    await subscriber.connect();
  } catch (err) {
    client.destroy();
    subscriber.destroy();
    throw new StateUnreachableError(`Redis at ${redactUrl(options.url)}: ${(err as Error).message}`, {
      subject: redactUrl(options.url),
      cause: err,
    });
  }
  connected = true;
  return { client, subscriber };
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
