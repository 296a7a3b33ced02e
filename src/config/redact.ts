import type { AgentConfig } from '../agent/index.ts';

/** The config with the IMS secrets replaced by "(set)", for logs and output. */
export function redactConfig<T extends Pick<AgentConfig, 'ims'>>(config: T): T {
  if (!config.ims) return config;
  const { password, aka, ...ims } = config.ims;
  return {
    ...config,
    ims: { ...ims, ...(password === undefined ? {} : { password: '(set)' }), ...(aka ? { aka: '(set)' } : {}) },
  } as T;
}
