// UDP trackers (BEP 15) with node:dgram: connect, then announce or scrape with the connection id (reused
// for a minute), each exchange retried with a growing timeout. The bitmap extension rides in BEP 41 URL data,
// which plain UDP trackers ignore.
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { TrackerError } from '../../errors/index.ts';
import { decodeCompactPeers } from '../protocol/compact.ts';
import { type AnnounceParams, extensionQuery } from '../protocol/messages.ts';
import {
  announceRequest,
  connectRequest,
  MAX_SCRAPE_HASHES,
  scrapeRequest,
  UdpAction,
  type UdpEventName,
} from '../protocol/udp.ts';
import type { AnnounceSent, DefaultTransportOptions, ScrapeCounts } from './transport.ts';

/** BEP 15: a client may use a connection id for one minute. */
const CONNECTION_ID_LIFETIME_MS = 60_000;
const ATTEMPTS = 2;

interface Endpoint {
  address: string;
  port: number;
  family: 4 | 6;
  key: string;
}

interface Pending {
  endpoint: Endpoint;
  action: number;
  resolve(packet: Buffer): void;
  fail(error: TrackerError): void;
}

/** The failure reason of an announce answered with its header alone (BEP 15 gives none, opentracker sends it). */
export const REFUSED_BY_HEADER_ONLY =
  'announce refused: the tracker answered with an empty announce (opentracker does so for an info hash not on its whitelist)';

/** A tracker's error answer (BEP 15 action 3): its message is the failure reason. */
class UdpTrackerFailure extends Error {}

export class UdpTrackerTransport {
  readonly #options: DefaultTransportOptions;
  readonly #sockets = new Map<4 | 6, Promise<Socket>>();
  readonly #pending = new Map<number, Pending>();
  readonly #connections = new Map<string, { id: Buffer; until: number }>();

  constructor(options: DefaultTransportOptions) {
    this.#options = options;
  }

  async announce(url: string, params: AnnounceParams, signal: AbortSignal): Promise<AnnounceSent> {
    const endpoint = await resolve(url);
    const { urlData, bitmapSent } = this.#urlData(url, params);
    try {
      const connectionId = await this.#connect(url, endpoint, signal);
      const packet = await this.#exchange(url, endpoint, UdpAction.announce, signal, (transactionId) =>
        announceRequest({
          connectionId,
          transactionId,
          infoHash: params.infoHash,
          peerId: params.peerId,
          downloaded: params.downloaded,
          left: params.left,
          uploaded: params.uploaded,
          event: (params.event ?? '') as UdpEventName,
          ip: 0,
          key: params.key === undefined ? 0 : Number.parseInt(params.key.slice(0, 8), 16) || 0,
          numWant: params.numWant ?? -1,
          port: params.port,
          urlData,
        }),
      );
      // opentracker's answer to an info hash not on its whitelist: the 8-byte header, nothing after it.
      if (packet.length === 8) {
        return { bitmapSent, result: { failureReason: REFUSED_BY_HEADER_ONLY, peers: [], urlList: [], pieceUrls: [] } };
      }
      if (packet.length < 20) throw invalid(url, 'announce answer shorter than 20 bytes');
      return {
        bitmapSent,
        result: {
          interval: packet.readUInt32BE(8),
          incomplete: packet.readUInt32BE(12),
          complete: packet.readUInt32BE(16),
          peers: decodeCompactPeers(packet.subarray(20), endpoint.family === 4 ? 4 : 16),
          urlList: [],
          pieceUrls: [],
        },
      };
    } catch (err) {
      if (!(err instanceof UdpTrackerFailure)) throw err;
      // The id may have expired at the tracker: connect afresh next time.
      this.#connections.delete(endpoint.key);
      return { bitmapSent, result: { failureReason: err.message, peers: [], urlList: [], pieceUrls: [] } };
    }
  }

  async scrape(url: string, infoHashes: Buffer[], signal: AbortSignal): Promise<Map<string, ScrapeCounts>> {
    const endpoint = await resolve(url);
    const counts = new Map<string, ScrapeCounts>();
    for (let offset = 0; offset < infoHashes.length; offset += MAX_SCRAPE_HASHES) {
      const hashes = infoHashes.slice(offset, offset + MAX_SCRAPE_HASHES);
      let packet: Buffer;
      try {
        const connectionId = await this.#connect(url, endpoint, signal);
        packet = await this.#exchange(url, endpoint, UdpAction.scrape, signal, (transactionId) =>
          scrapeRequest(connectionId, transactionId, hashes),
        );
      } catch (err) {
        if (!(err instanceof UdpTrackerFailure)) throw err;
        this.#connections.delete(endpoint.key);
        throw new TrackerError('EDGEPEER_TRACKER_FAILURE', `${url}: ${err.message}`, { subject: url });
      }
      hashes.forEach((hash, i) => {
        const at = 8 + 12 * i;
        if (at + 12 > packet.length) return;
        counts.set(hash.toString('hex'), {
          complete: packet.readUInt32BE(at),
          downloaded: packet.readUInt32BE(at + 4),
          incomplete: packet.readUInt32BE(at + 8),
        });
      });
    }
    return counts;
  }

  async close(): Promise<void> {
    for (const pending of this.#pending.values()) {
      pending.fail(new TrackerError('EDGEPEER_TRACKER_UNREACHABLE', 'announce client closed'));
    }
    this.#pending.clear();
    const sockets = await Promise.all(this.#sockets.values());
    await Promise.all(sockets.map((socket) => new Promise<void>((done) => socket.close(() => done()))));
    this.#sockets.clear();
  }

  /** BEP 41 URL data: the announce URL's path and query, then the extension (bitmap left out if too long). */
  #urlData(url: string, params: AnnounceParams): { urlData: string; bitmapSent: boolean } {
    const parsed = new URL(url);
    const base = `${parsed.pathname}${parsed.search}`;
    const extension = params.extension;
    if (extension === undefined) return { urlData: base, bitmapSent: false };
    const separator = base.includes('?') ? '&' : '?';
    const withBitmap = `${base}${separator}${extensionQuery(extension, true)}`;
    if (withBitmap.length <= this.#options.maxUdpUrlData || extension.bitmap === undefined) {
      return { urlData: withBitmap, bitmapSent: extension.bitmap !== undefined };
    }
    return { urlData: `${base}${separator}${extensionQuery(extension, false)}`, bitmapSent: false };
  }

  async #connect(url: string, endpoint: Endpoint, signal: AbortSignal): Promise<Buffer> {
    const cached = this.#connections.get(endpoint.key);
    if (cached !== undefined && cached.until > Date.now()) return cached.id;
    const packet = await this.#exchange(url, endpoint, UdpAction.connect, signal, connectRequest);
    if (packet.length < 16) throw invalid(url, 'connect answer shorter than 16 bytes');
    const id = Buffer.from(packet.subarray(8, 16));
    this.#connections.set(endpoint.key, { id, until: Date.now() + CONNECTION_ID_LIFETIME_MS });
    return id;
  }

  /** Sends a request (a fresh transaction id per attempt) and waits for its answer, retrying once. */
  async #exchange(
    url: string,
    endpoint: Endpoint,
    action: number,
    signal: AbortSignal,
    build: (transactionId: number) => Buffer,
  ): Promise<Buffer> {
    const socket = await this.#socket(endpoint.family);
    // Attempt timeouts of t and 2t share the request timeout (BEP 15 doubles them the same way).
    const firstTimeout = this.#options.timeoutMs / (2 ** ATTEMPTS - 1);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const transactionId = randomInt(0, 2 ** 32);
      if (this.#pending.has(transactionId)) continue;
      const answer = await new Promise<Buffer | undefined>((resolvePacket, reject) => {
        const timer = setTimeout(() => finish(() => resolvePacket(undefined)), firstTimeout * 2 ** attempt);
        const onAbort = (): void =>
          finish(() =>
            reject(new TrackerError('EDGEPEER_TRACKER_UNREACHABLE', `${url}: announce aborted`, { subject: url })),
          );
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.#pending.delete(transactionId);
          settle();
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort);
        this.#pending.set(transactionId, {
          endpoint,
          action,
          resolve: (packet) => finish(() => resolvePacket(packet)),
          fail: (error) => finish(() => reject(error)),
        });
        socket.send(build(transactionId), endpoint.port, endpoint.address, (err) => {
          if (err) {
            finish(() =>
              reject(
                new TrackerError('EDGEPEER_TRACKER_UNREACHABLE', `${url}: ${err.message}`, {
                  subject: url,
                  cause: err,
                }),
              ),
            );
          }
        });
      });
      if (answer === undefined) continue;
      if (answer.readUInt32BE(0) === UdpAction.error) throw new UdpTrackerFailure(answer.subarray(8).toString('utf8'));
      return answer;
    }
    throw new TrackerError('EDGEPEER_TRACKER_TIMEOUT', `${url}: no answer within ${this.#options.timeoutMs} ms`, {
      subject: url,
    });
  }

  /** One socket per address family, bound on first use (concurrent first uses share the binding). */
  #socket(family: 4 | 6): Promise<Socket> {
    let socket = this.#sockets.get(family);
    if (socket === undefined) {
      socket = new Promise<Socket>((done) => {
        const created = createSocket(family === 4 ? 'udp4' : 'udp6');
        created.on('error', () => undefined);
        created.on('message', (packet, remote) => this.#receive(packet, remote.address, remote.port));
        created.bind(0, () => {
          created.unref();
          done(created);
        });
      });
      this.#sockets.set(family, socket);
    }
    return socket;
  }

  #receive(packet: Buffer, address: string, port: number): void {
    if (packet.length < 8) return;
    const pending = this.#pending.get(packet.readUInt32BE(4));
    if (pending === undefined || pending.endpoint.port !== port || pending.endpoint.address !== address) return;
    const action = packet.readUInt32BE(0);
    if (action === pending.action || action === UdpAction.error) pending.resolve(packet);
  }
}

async function resolve(url: string): Promise<Endpoint> {
  let host: string;
  let port: number;
  try {
    const parsed = new URL(url);
    host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    port = Number(parsed.port);
  } catch {
    throw new TrackerError('EDGEPEER_TRACKER_UNSUPPORTED', `${url} is not a valid UDP tracker URL`, { subject: url });
  }
  if (!(port > 0 && port < 65536)) {
    throw new TrackerError('EDGEPEER_TRACKER_UNSUPPORTED', `${url}: a UDP tracker URL needs a port`, { subject: url });
  }
  try {
    const { address, family } = await lookup(host);
    return { address, port, family: family === 6 ? 6 : 4, key: `${address}|${port}` };
  } catch (err) {
    throw new TrackerError('EDGEPEER_TRACKER_UNREACHABLE', `${url}: cannot resolve ${host}`, {
      subject: url,
      cause: err,
    });
  }
}

function invalid(url: string, what: string): TrackerError {
  return new TrackerError('EDGEPEER_TRACKER_INVALID_RESPONSE', `${url}: ${what}`, { subject: url });
}
