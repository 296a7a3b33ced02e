// The peer wire and HTTP(S) servers as parts: listening once started, closed with a grace for transfers in
// flight. Their dependencies (catalog, piece source, policy) are the root's to choose.
import { createHttpServer, type HttpServer, type HttpServerOptions } from '../http/index.ts';
import { createPeerWireServer, type PeerWireServer, type PeerWireServerOptions } from '../wire/index.ts';
import type { Part } from './lifecycle.ts';

export interface PeerWirePart extends Part {
  readonly server: PeerWireServer;
  readonly port: number;
  readonly addresses: string[];
}

export async function startPeerWire(options: PeerWireServerOptions, graceMs: number): Promise<PeerWirePart> {
  const server = createPeerWireServer(options);
  const { port, addresses } = await server.listen();
  return { name: 'peer wire', phase: 'serving', server, port, addresses, stop: () => server.close(graceMs) };
}

export interface HttpPart extends Part {
  readonly server: HttpServer;
  readonly port: number;
  readonly baseUrls: string[];
}

/** The HTTP server, or with `options.tls` the HTTPS one. */
export async function startHttp(options: HttpServerOptions, graceMs: number): Promise<HttpPart> {
  const server = createHttpServer(options);
  const { port, baseUrls } = await server.listen();
  const name = options.tls === undefined ? 'http' : 'https';
  options.logger?.info({ port, baseUrls }, `${name}: listening`);
  return { name, phase: 'serving', server, port, baseUrls, stop: () => server.close(graceMs) };
}
