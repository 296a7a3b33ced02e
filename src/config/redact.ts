import type { AgentConfig } from './agent-config.ts';

/**
 * The config for logs and output: IMS secrets and the HTTPS private key replaced by "(set)", certificates
 * by where they came from.
 */
export function redactConfig<T extends Pick<AgentConfig, 'ims' | 'https'>>(config: T): T {
  const shown: Record<string, unknown> = { ...config };
  if (config.ims) {
    const { password, aka, tls, ...ims } = config.ims;
    shown.ims = {
      ...ims,
      ...(password === undefined ? {} : { password: '(set)' }),
      ...(aka ? { aka: '(set)' } : {}),
      ...(tls ? { tls: '(CA certificates from ims.tlsCaFile)' } : {}),
    };
  }
  if (config.https) {
    shown.https = { port: config.https.port, cert: '(from https.certFile)', key: '(set)' };
  }
  return shown as T;
}
