// Listening: the address (dual stack by default, IPv4 where IPv6 is off) and the base URLs it gives.
import type { Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fromListenError } from '../errors/index.ts';

export function listenOn(
  server: Server,
  options: { host?: string; port: number; tls?: unknown; reusePort?: boolean },
  onListening: () => void,
): Promise<number> {
  const attempt = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      // reusePort (SO_REUSEPORT): serving threads each listen on the port; the kernel spreads connections.
      server.listen({ host, port: options.port, ipv6Only: false, reusePort: options.reusePort === true }, () => {
        server.off('error', onError);
        onListening();
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : options.port);
      });
    });
  const host = options.host ?? '::';
  return attempt(host).catch((err: NodeJS.ErrnoException) => {
    // A machine with IPv6 switched off: the default falls back to IPv4 only.
    if (options.host === undefined && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')) {
      return attempt('0.0.0.0');
    }
    throw fromListenError(err, options.tls ? 'HTTPS' : 'HTTP', host, options.port);
  });
}

/** URLs under which this server can be reached: the listening address, or every interface for a wildcard. */
export function baseUrls(server: Server, port: number, scheme: 'http' | 'https'): string[] {
  const address = server.address();
  if (typeof address !== 'object' || address === null) return [];
  const wildcard = address.address === '::' || address.address === '0.0.0.0';
  if (!wildcard) return [`${scheme}://${formatHost(address.address)}:${port}`];
  const external: string[] = [];
  const internal: string[] = [];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.family === 'IPv6' && (address.address === '0.0.0.0' || entry.scopeid !== 0)) continue;
      (entry.internal ? internal : external).push(`${scheme}://${formatHost(entry.address)}:${port}`);
    }
  }
  return [...external, ...internal];
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
