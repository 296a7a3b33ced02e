// An edge's channel, the controller's side: the socket of one edge after its HTTP/1.1 upgrade, heartbeats
// coming in and commands going out, one JSON message per line (src/fleet/protocol.ts). A heartbeat is
// answered only when its answer is not the one last sent (a resync, draining, a new period) or every
// CHANNEL_ACK_EVERY heartbeats, so that a fleet's heartbeats cost a read each and rarely a write.

import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { toErrorJson } from '../admin/index.ts';
import { httpStatusFor, InvalidArgumentError, isEdgepeerError, UnauthorizedError } from '../errors/index.ts';
import {
  CHANNEL_ACK_EVERY,
  type ChannelControllerMessage,
  channelEdgeMessage,
  EDGE_CHANNEL_PROTOCOL,
  type HeartbeatResponse,
  MAX_CHANNEL_EDGE_LINE,
  parseMessage,
  readLines,
} from '../fleet/index.ts';
import type { EdgeRegistry } from './edge-registry.ts';

export interface ChannelOptions {
  registry: EdgeRegistry;
  /** A message or call refused: the edge API counts it and warns, throttled. */
  onRefused: (err: unknown, from: string | undefined) => void;
  onFailure: (err: unknown) => void;
}

/**
 * Takes an upgrade request on the edge listener: a channel once the edge's credential checks out, else an
 * HTTP error answer (426 when the request does not ask for the channel protocol) and the socket closed.
 */
export async function acceptChannel(
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  options: ChannelOptions,
): Promise<EdgeChannel | undefined> {
  if (req.headers.upgrade?.toLowerCase() !== EDGE_CHANNEL_PROTOCOL) {
    refuse(socket, 426, { code: 'EDGEPEER_INVALID_ARGUMENT', message: `upgrade to ${EDGE_CHANNEL_PROTOCOL} only` });
    return undefined;
  }
  const authorization = req.headers.authorization;
  let edgeId: string;
  try {
    edgeId = (await options.registry.authenticate(authorization)).id;
  } catch (err) {
    if (err instanceof UnauthorizedError) options.onRefused(err, socket.remoteAddress);
    else options.onFailure(err);
    refuse(socket, httpStatusFor(err), toErrorJson(err));
    return undefined;
  }
  if (socket.destroyed) return undefined;
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${EDGE_CHANNEL_PROTOCOL}\r\n\r\n`);
  return new EdgeChannel(edgeId, authorization as string, socket, head, options);
}

/** One edge's open channel. */
export class EdgeChannel {
  readonly edgeId: string;
  readonly #authorization: string;
  readonly #socket: Socket;
  readonly #options: ChannelOptions;
  readonly #detach: () => void;
  /** Lines are handled one after another, in order. */
  #handling: Promise<void> = Promise.resolve();
  #lastAnswer: HeartbeatResponse | null = null;
  #unanswered = 0;

  constructor(edgeId: string, authorization: string, socket: Socket, head: Buffer, options: ChannelOptions) {
    this.edgeId = edgeId;
    this.#authorization = authorization;
    this.#socket = socket;
    this.#options = options;
    socket.setNoDelay(true);
    // A vanished edge (no FIN) is found by its missing heartbeats; this only frees the socket some day.
    socket.setKeepAlive(true, 60_000);
    this.#detach = options.registry.attachChannel(edgeId, (commands) => this.#send({ commands }));
    if (head.length > 0) socket.unshift(head);
    readLines(socket, MAX_CHANNEL_EDGE_LINE, (line, tooLong) => {
      if (tooLong) this.#fail(new InvalidArgumentError(`channel: a line longer than ${MAX_CHANNEL_EDGE_LINE} bytes`));
      else this.#handle(line);
    });
    // The HTTP server's sockets stay half open after the edge's FIN: this one closes with it.
    socket.on('end', () => socket.destroy());
    socket.on('error', () => {}); // a reset edge: 'close' follows
    socket.once('close', () => this.#detach());
  }

  get closed(): boolean {
    return this.#socket.destroyed;
  }

  close(): void {
    this.#socket.destroy();
  }

  #handle(line: string): void {
    this.#handling = this.#handling.then(async () => {
      if (this.#socket.destroyed) return;
      try {
        await this.#heartbeat(line);
      } catch (err) {
        this.#fail(err);
      }
    });
  }

  async #heartbeat(line: string): Promise<void> {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new InvalidArgumentError('channel: a line is not JSON');
    }
    const { heartbeat } = parseMessage(channelEdgeMessage, value, 'channel message');
    // Checked again (from the cache) every time: an edge removed meanwhile loses its channel here.
    const edge = await this.#options.registry.authenticate(this.#authorization);
    const answer = await this.#options.registry.heartbeat(edge, heartbeat);
    this.#unanswered += 1;
    const last = this.#lastAnswer;
    if (
      last === null ||
      answer.resync ||
      answer.draining !== last.draining ||
      answer.heartbeatMs !== last.heartbeatMs ||
      this.#unanswered >= CHANNEL_ACK_EVERY
    ) {
      this.#send({ heartbeat: answer });
      this.#lastAnswer = answer;
      this.#unanswered = 0;
    }
  }

  /** A bad message or a refused edge: the edge hears why, and the channel closes (it reconnects, backing off). */
  #fail(err: unknown): void {
    if (this.#socket.destroyed) return;
    if (err instanceof InvalidArgumentError || err instanceof UnauthorizedError) {
      this.#options.onRefused(err, this.#socket.remoteAddress);
    } else {
      this.#options.onFailure(err);
    }
    const error = isEdgepeerError(err) ? toErrorJson(err) : { code: 'EDGEPEER_INTERNAL', message: 'internal error' };
    this.#socket.end(`${JSON.stringify({ error })}\n`);
  }

  #send(message: ChannelControllerMessage): void {
    if (!this.#socket.destroyed) this.#socket.write(`${JSON.stringify(message)}\n`);
  }
}

function refuse(socket: Socket, status: number, error: { code: string; message: string }): void {
  const body = JSON.stringify({ error });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
