import type { AgentConfig } from '../agent/index.ts';

/** The config with the IMS secrets replaced by "(set)" (and CA certificates by a count), for logs and output. */
export function redactConfig<T extends Pick<AgentConfig, 'ims'>>(config: T): T {
  if (!config.ims) return config;
  const { password, aka, tls, ...ims } = config.ims;
  return {
    ...config,
    ims: {
      ...ims,
      ...(password === undefined ? {} : { password: '(set)' }),
      ...(aka ? { aka: '(set)' } : {}),
      ...(tls ? { tls: '(CA certificates from ims.tlsCaFile)' } : {}),
    },
  } as T;
}
