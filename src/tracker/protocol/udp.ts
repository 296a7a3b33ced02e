// The UDP tracker protocol (BEP 15) and its URL data option (BEP 41), both directions. Integers are
// big-endian; 64-bit counters are read as numbers (byte counts stay far below 2^53).

export const UDP_PROTOCOL_ID = 0x41727101980n;

export const UdpAction = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;

/** BEP 15 event codes. */
export const UDP_EVENTS = ['', 'completed', 'started', 'stopped'] as const;
export type UdpEventName = (typeof UDP_EVENTS)[number];

export const ANNOUNCE_REQUEST_LENGTH = 98;
/** BEP 15 allows about 74 info hashes per scrape so that the answer fits one packet. */
export const MAX_SCRAPE_HASHES = 74;

export function connectRequest(transactionId: number): Buffer {
  const packet = Buffer.alloc(16);
  packet.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
  packet.writeUInt32BE(UdpAction.connect, 8);
  packet.writeUInt32BE(transactionId, 12);
  return packet;
}

export function connectResponse(transactionId: number, connectionId: Buffer): Buffer {
  const packet = Buffer.alloc(16);
  packet.writeUInt32BE(UdpAction.connect, 0);
  packet.writeUInt32BE(transactionId, 4);
  connectionId.copy(packet, 8, 0, 8);
  return packet;
}

export interface UdpAnnounceRequest {
  connectionId: Buffer;
  transactionId: number;
  infoHash: Buffer;
  peerId: Buffer;
  downloaded: number;
  left: number;
  uploaded: number;
  event: UdpEventName;
  /** IPv4 address as a 32-bit number, 0 for "the sender's". */
  ip: number;
  key: number;
  numWant: number;
  port: number;
  /** BEP 41 URL data: the path and query of the announce URL plus any extension parameters. */
  urlData?: string;
}

export function announceRequest(request: UdpAnnounceRequest): Buffer {
  const options = request.urlData === undefined ? Buffer.alloc(0) : urlDataOptions(request.urlData);
  const packet = Buffer.alloc(ANNOUNCE_REQUEST_LENGTH + options.length);
  request.connectionId.copy(packet, 0, 0, 8);
  packet.writeUInt32BE(UdpAction.announce, 8);
  packet.writeUInt32BE(request.transactionId, 12);
  request.infoHash.copy(packet, 16, 0, 20);
  request.peerId.copy(packet, 36, 0, 20);
  packet.writeBigUInt64BE(BigInt(request.downloaded), 56);
  packet.writeBigUInt64BE(BigInt(request.left), 64);
  packet.writeBigUInt64BE(BigInt(request.uploaded), 72);
  packet.writeUInt32BE(UDP_EVENTS.indexOf(request.event), 80);
  packet.writeUInt32BE(request.ip >>> 0, 84);
  packet.writeUInt32BE(request.key >>> 0, 88);
  packet.writeInt32BE(request.numWant, 92);
  packet.writeUInt16BE(request.port, 96);
  options.copy(packet, ANNOUNCE_REQUEST_LENGTH);
  return packet;
}

export class UdpPacketError extends Error {}

/** Reads an announce request (BEP 15 layout, BEP 41 options after it). */
export function parseAnnounceRequest(packet: Buffer): UdpAnnounceRequest {
  if (packet.length < ANNOUNCE_REQUEST_LENGTH) throw new UdpPacketError('announce packet shorter than 98 bytes');
  const eventCode = packet.readUInt32BE(80);
  const event = UDP_EVENTS[eventCode];
  if (event === undefined) throw new UdpPacketError(`unknown event code ${eventCode}`);
  const urlData = parseUrlDataOptions(packet.subarray(ANNOUNCE_REQUEST_LENGTH));
  return {
    connectionId: packet.subarray(0, 8),
    transactionId: packet.readUInt32BE(12),
    infoHash: packet.subarray(16, 36),
    peerId: packet.subarray(36, 56),
    downloaded: readCounter(packet, 56),
    left: readCounter(packet, 64),
    uploaded: readCounter(packet, 72),
    event,
    ip: packet.readUInt32BE(84),
    key: packet.readUInt32BE(88),
    numWant: packet.readInt32BE(92),
    port: packet.readUInt16BE(96),
    ...(urlData === undefined ? {} : { urlData }),
  };
}

/** A 64-bit counter as a number; values past 2^53 (never real byte counts) are clamped. */
function readCounter(packet: Buffer, offset: number): number {
  const value = packet.readBigUInt64BE(offset);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

/** BEP 41: URL data split into options of at most 255 bytes, then end of options. */
function urlDataOptions(urlData: string): Buffer {
  const data = Buffer.from(urlData, 'latin1');
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += 255) {
    const chunk = data.subarray(offset, offset + 255);
    parts.push(Buffer.from([0x2, chunk.length]), chunk);
  }
  parts.push(Buffer.from([0x0]));
  return Buffer.concat(parts);
}

/** Concatenated URL data of BEP 41 options, or undefined if there is none; malformed options end the list. */
export function parseUrlDataOptions(options: Buffer): string | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < options.length) {
    const type = options[offset]!;
    if (type === 0x0) break;
    if (type === 0x1) {
      offset++;
      continue;
    }
    if (type !== 0x2 || offset + 1 >= options.length) break;
    const length = options[offset + 1]!;
    parts.push(options.subarray(offset + 2, offset + 2 + length));
    offset += 2 + length;
  }
  return parts.length === 0 ? undefined : Buffer.concat(parts).toString('latin1');
}

export interface UdpAnnounceResponse {
  transactionId: number;
  interval: number;
  leechers: number;
  seeders: number;
  /** Concatenated compact peers, 6 bytes each over IPv4, 18 over IPv6. */
  peers: Buffer;
}

export function announceResponse(response: UdpAnnounceResponse): Buffer {
  const packet = Buffer.alloc(20 + response.peers.length);
  packet.writeUInt32BE(UdpAction.announce, 0);
  packet.writeUInt32BE(response.transactionId, 4);
  packet.writeUInt32BE(response.interval, 8);
  packet.writeUInt32BE(response.leechers, 12);
  packet.writeUInt32BE(response.seeders, 16);
  response.peers.copy(packet, 20);
  return packet;
}

export function scrapeRequest(connectionId: Buffer, transactionId: number, infoHashes: Buffer[]): Buffer {
  const packet = Buffer.alloc(16 + 20 * infoHashes.length);
  connectionId.copy(packet, 0, 0, 8);
  packet.writeUInt32BE(UdpAction.scrape, 8);
  packet.writeUInt32BE(transactionId, 12);
  infoHashes.forEach((hash, i) => {
    hash.copy(packet, 16 + 20 * i, 0, 20);
  });
  return packet;
}

export interface UdpScrapeEntry {
  seeders: number;
  completed: number;
  leechers: number;
}

export function scrapeResponse(transactionId: number, entries: UdpScrapeEntry[]): Buffer {
  const packet = Buffer.alloc(8 + 12 * entries.length);
  packet.writeUInt32BE(UdpAction.scrape, 0);
  packet.writeUInt32BE(transactionId, 4);
  entries.forEach((entry, i) => {
    packet.writeUInt32BE(entry.seeders, 8 + 12 * i);
    packet.writeUInt32BE(entry.completed, 12 + 12 * i);
    packet.writeUInt32BE(entry.leechers, 16 + 12 * i);
  });
  return packet;
}

/**
 * An error answer of at most `maxBytes` (the message is cut to fit): answering a spoofed source with more
 * bytes than it sent would make the tracker a traffic amplifier.
 */
export function errorResponse(transactionId: number, message: string, maxBytes = Number.POSITIVE_INFINITY): Buffer {
  const text = Buffer.from(message, 'utf8').subarray(0, Math.max(0, maxBytes - 8));
  const packet = Buffer.alloc(8 + text.length);
  packet.writeUInt32BE(UdpAction.error, 0);
  packet.writeUInt32BE(transactionId, 4);
  text.copy(packet, 8);
  return packet;
}
