// JSON over HTTP for edgepeer's control APIs (the admin API, the controller's edge API): bodies read
// within a size cap, answers and errors in one shape, error statuses from the one catalogue.
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type EdgepeerError,
  fromListenError,
  httpStatusFor,
  InvalidArgumentError,
  isEdgepeerError,
} from '../errors/index.ts';

/** Admin API bodies (bulk ingest manifests) are small next to this. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The request body as JSON, refused past `maxBytes`. */
export async function readJson(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const body = await readBody(req, maxBytes);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidArgumentError('request body is not JSON');
  }
}

/** The request body, refused past `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new InvalidArgumentError(`request body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function toErrorJson(err: unknown): { code: string; message: string; subject?: string } {
  if (isEdgepeerError(err)) return (err as EdgepeerError).toJSON();
  return { code: 'EDGEPEER_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/** The request target's path; a target that is no URL path is the client's error. */
export function pathOf(target: string | undefined): string {
  // The usual origin-form target with nothing to decode: its path as it is, without a URL parse per request.
  if (target !== undefined && /^\/[A-Za-z0-9._~/-]*(\?|$)/.test(target)) {
    const query = target.indexOf('?');
    return query < 0 ? target : target.slice(0, query);
  }
  try {
    return new URL(target ?? '/', 'http://admin').pathname;
  } catch {
    throw new InvalidArgumentError('the request target is not a URL path', { subject: 'path' });
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, httpStatusFor(err), { error: toErrorJson(err) });
}

/** Listens; AddressInUseError & co. name `what`. Resolves with the address as a URL and as the socket has it. */
export async function listenHttp(
  server: Server,
  what: string,
  host: string,
  port: number,
): Promise<{ url: string; address: AddressInfo }> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    throw fromListenError(err, what, host, port);
  }
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${shown}:${address.port}`, address };
}

/** Closes at once: idle and busy connections (long polls, streams) go with the server. */
export async function closeHttp(server: Server): Promise<void> {
  server.closeIdleConnections();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
