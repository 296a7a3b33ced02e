// The `state` setting of the processes that can share their state in Redis (the controller and the
// reference tracker): `memory`, or a redis:// or rediss:// URL with its password and CAs read from files.
import { readFile } from 'node:fs/promises';
import { ConfigError, fromSystemError } from '../errors/index.ts';

export interface RedisState {
  url: string;
  password?: string;
  tlsCa?: Buffer;
}

export interface RedisStateSetting {
  /** 'memory' or a Redis URL. */
  state: string;
  /** File holding the Redis password (AUTH), when the URL has none. */
  passwordFile?: string;
  /** PEM file of the CAs that sign Redis's TLS certificate. */
  tlsCaFile?: string;
}

/**
 * Memory (null), or Redis with its password and CAs read from their files. `where` names where a setting
 * came from in messages; without `readFiles` (a service being installed) the files are not read.
 */
export async function redisStateOf(
  setting: RedisStateSetting,
  where: (name: string) => string,
  readFiles = true,
): Promise<RedisState | null> {
  const { state } = setting;
  if (state === 'memory') return null;
  if (!/^rediss?:\/\/[^/\s]+/.test(state)) {
    throw new ConfigError(`state (${where('state')}): must be memory or a redis:// or rediss:// URL, got "${state}"`, {
      subject: 'state',
    });
  }
  const read = async (name: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined || !readFiles) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new ConfigError(`${name} (${where(name)}): ${fromSystemError(err, path).message}`, { subject: name });
    }
  };
  const password = (await read('state-password-file', setting.passwordFile))?.toString('utf8').trim();
  const tlsCa = await read('state-tls-ca', setting.tlsCaFile);
  return { url: state, ...(password ? { password } : {}), ...(tlsCa ? { tlsCa } : {}) };
}
