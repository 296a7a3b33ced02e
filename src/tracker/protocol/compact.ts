// Compact peer lists: 6 bytes per IPv4 peer (BEP 23 `peers`), 18 bytes per IPv6 peer (BEP 7 `peers6`),
// address then port, network byte order. Also used by UDP announces (BEP 15).
import { isIPv4, isIPv6 } from 'node:net';

export interface PeerAddress {
  ip: string;
  port: number;
}

/** 4 or 6: the family of an address as peers see it (IPv4-mapped IPv6 counts as IPv4). */
export function addressFamily(ip: string): 4 | 6 {
  return isIPv4(ip) ? 4 : 6;
}

/** '::ffff:1.2.3.4' -> '1.2.3.4' (what a dual-stack socket reports for IPv4 clients); others unchanged. */
export function normalizeIp(ip: string): string {
  if (ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) return ip.slice(7);
  return ip;
}

/** 4 or 16 bytes, or undefined for text that is not an IP address. */
export function ipToBytes(ip: string): Buffer | undefined {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) return undefined;
  const zone = ip.indexOf('%');
  const text = zone < 0 ? ip : ip.slice(0, zone);
  const out = Buffer.alloc(16);
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const headGroups = groupsOf(head);
  const tailGroups = tail === undefined ? [] : groupsOf(tail);
  tailGroups.forEach((group, i) => {
    out.writeUInt16BE(group, 16 - 2 * (tailGroups.length - i));
  });
  headGroups.forEach((group, i) => {
    out.writeUInt16BE(group, 2 * i);
  });
  return out;
}

/** Hex groups of half an IPv6 address; an embedded dotted IPv4 tail counts as two groups. */
function groupsOf(part: string): number[] {
  if (part.length === 0) return [];
  const groups: number[] = [];
  for (const piece of part.split(':')) {
    if (piece.includes('.')) {
      const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
      groups.push((a << 8) | b, (c << 8) | d);
    } else {
      groups.push(Number.parseInt(piece, 16));
    }
  }
  return groups;
}

/** Text form of 4 or 16 address bytes (IPv6 with the longest run of zero groups compressed). */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i > 1) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** One compact peer (6 or 18 bytes), or undefined if the address is not an IP literal. */
export function encodeCompactPeer(ip: string, port: number): Buffer | undefined {
  const address = ipToBytes(ip);
  if (address === undefined) return undefined;
  const out = Buffer.allocUnsafe(address.length + 2);
  address.copy(out, 0);
  out.writeUInt16BE(port, address.length);
  return out;
}

/** Splits a compact peer string (entries of `addressLength` + 2 bytes); a ragged tail is ignored. */
export function decodeCompactPeers(data: Uint8Array, addressLength: 4 | 16): PeerAddress[] {
  const entry = addressLength + 2;
  const peers: PeerAddress[] = [];
  for (let offset = 0; offset + entry <= data.length; offset += entry) {
    const port = (data[offset + addressLength]! << 8) | data[offset + addressLength + 1]!;
    peers.push({ ip: bytesToIp(data.subarray(offset, offset + addressLength)), port });
  }
  return peers;
}
