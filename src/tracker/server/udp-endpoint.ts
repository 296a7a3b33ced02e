// The tracker's UDP side (BEP 15). Connection ids are derived, not stored: an HMAC of the client's address
// and the minute, accepted for two minutes as BEP 15 asks, so spoofed sources cannot get answers and no
// state grows with the number of clients. Bitmap extension parameters may ride in BEP 41 URL data.
import { createHmac, randomBytes } from 'node:crypto';
import { parseQuery, QueryError } from '../protocol/query.ts';
import {
  ANNOUNCE_REQUEST_LENGTH,
  announceResponse,
  connectResponse,
  errorResponse,
  MAX_SCRAPE_HASHES,
  parseAnnounceRequest,
  scrapeResponse,
  UDP_PROTOCOL_ID,
  UdpAction,
  UdpPacketError,
} from '../protocol/udp.ts';
import { type AnnounceLimits, AnnounceRefused, type ParamSource, parseAnnounce } from './announce-request.ts';
import type { AnnounceOutcome, PeerAnnounce, SwarmStore } from './swarm-store.ts';

const CONNECTION_ID_MINUTES_VALID = 3;

export interface UdpEndpointOptions {
  store: SwarmStore;
  /** Answers an announce (the tracker core's, which applies the topology); default: the store's. */
  announce?: (announce: PeerAnnounce) => Promise<AnnounceOutcome>;
  limits: AnnounceLimits;
  intervalS: number;
  now: () => number;
}

export class UdpEndpoint {
  readonly #secret = randomBytes(32);
  readonly #options: UdpEndpointOptions;

  constructor(options: UdpEndpointOptions) {
    this.#options = options;
  }

  /** The answer to one datagram, or undefined when none is due (too short to carry a transaction id). */
  async handle(packet: Buffer, ip: string, port: number): Promise<Buffer | undefined> {
    if (packet.length < 16) return undefined;
    const transactionId = packet.readUInt32BE(12);
    const action = packet.readUInt32BE(8);
    if (action === UdpAction.connect) {
      if (packet.readBigUInt64BE(0) !== UDP_PROTOCOL_ID)
        return errorResponse(transactionId, 'bad protocol id', packet.length);
      return connectResponse(transactionId, this.#connectionId(ip, port, this.#minute()));
    }
    if (!this.#validConnectionId(packet.subarray(0, 8), ip, port)) {
      return errorResponse(transactionId, 'connection id expired or invalid: connect again', packet.length);
    }
    try {
      if (action === UdpAction.announce) return await this.#announce(packet, ip);
      if (action === UdpAction.scrape) return await this.#scrape(packet, transactionId);
      return errorResponse(transactionId, `unknown action ${action}`, packet.length);
    } catch (err) {
      if (err instanceof AnnounceRefused || err instanceof UdpPacketError)
        return errorResponse(transactionId, err.message, packet.length);
      throw err;
    }
  }

  #minute(): number {
    return Math.floor(this.#options.now() / 60_000);
  }

  #connectionId(ip: string, port: number, minute: number): Buffer {
    return createHmac('sha256', this.#secret).update(`${minute}|${ip}|${port}`).digest().subarray(0, 8);
  }

  #validConnectionId(connectionId: Buffer, ip: string, port: number): boolean {
    const minute = this.#minute();
    for (let age = 0; age < CONNECTION_ID_MINUTES_VALID; age++) {
      if (this.#connectionId(ip, port, minute - age).equals(connectionId)) return true;
    }
    return false;
  }

  async #announce(packet: Buffer, ip: string): Promise<Buffer> {
    if (packet.length < ANNOUNCE_REQUEST_LENGTH) throw new UdpPacketError('announce packet shorter than 98 bytes');
    const request = parseAnnounceRequest(packet);
    const extension = extensionParams(request.urlData);
    const values: Record<string, Buffer> = {
      info_hash: request.infoHash,
      peer_id: request.peerId,
      port: Buffer.from(String(request.port)),
      uploaded: Buffer.from(String(request.uploaded)),
      downloaded: Buffer.from(String(request.downloaded)),
      left: Buffer.from(String(request.left)),
      event: Buffer.from(request.event),
      numwant: Buffer.from(String(request.numWant < 0 ? this.#options.limits.defaultNumWant : request.numWant)),
    };
    const source: ParamSource = {
      bytes: (name) => values[name] ?? extension.get(name)?.[0],
      all: (name) => extension.get(name) ?? [],
    };
    const parsed = parseAnnounce(source, ip, this.#options.now(), this.#options.limits);
    // A UDP answer carries peers of the asker's own family only (BEP 15).
    parsed.announce.wantFamily = parsed.announce.family;
    const outcome: AnnounceOutcome = await (this.#options.announce?.(parsed.announce) ??
      this.#options.store.announce(parsed.announce));
    if (outcome.failure !== undefined) return errorResponse(request.transactionId, outcome.failure);
    return announceResponse({
      transactionId: request.transactionId,
      interval: this.#options.intervalS,
      leechers: outcome.incomplete,
      seeders: outcome.complete,
      peers: Buffer.from(outcome.peers.map((peer) => peer.compact).join(''), 'latin1'),
    });
  }

  async #scrape(packet: Buffer, transactionId: number): Promise<Buffer> {
    const count = Math.min(Math.floor((packet.length - 16) / 20), MAX_SCRAPE_HASHES);
    if (count === 0) throw new UdpPacketError('scrape without info hashes');
    const hashes: string[] = [];
    for (let i = 0; i < count; i++) hashes.push(packet.toString('hex', 16 + 20 * i, 36 + 20 * i));
    const entries = await this.#options.store.scrape(hashes, MAX_SCRAPE_HASHES);
    return scrapeResponse(
      transactionId,
      entries.map((entry) => ({ seeders: entry.complete, completed: entry.downloaded, leechers: entry.incomplete })),
    );
  }
}

/** Extension parameters (ep*) from BEP 41 URL data; anything else in it, or malformed data, is ignored. */
function extensionParams(urlData: string | undefined): Map<string, Buffer[]> {
  const result = new Map<string, Buffer[]>();
  if (urlData === undefined) return result;
  const query = urlData.indexOf('?');
  if (query < 0) return result;
  try {
    for (const [name, values] of parseQuery(urlData.slice(query + 1))) {
      if (name === 'ep' || name.startsWith('ep_')) result.set(name, values);
    }
  } catch (err) {
    if (!(err instanceof QueryError)) throw err;
  }
  return result;
}
