// The canonical allowed-fast set of BEP 6: pieces a choked peer may still request. Every peer in one
// IPv4 /24 gets the same set for one torrent, so a peer gains nothing by reconnecting from nearby addresses.
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';

/**
 * The first `setSize` pieces of the canonical sequence for `ipv4` and `infoHash` (20 bytes), or [] when
 * the address is not IPv4 (BEP 6 defines the set for IPv4 only). `setSize` is capped at `pieceCount`.
 */
export function allowedFastSet(ipv4: string, infoHash: Uint8Array, pieceCount: number, setSize: number): number[] {
  const address = unmapIPv4(ipv4);
  if (!isIPv4(address) || pieceCount <= 0 || setSize <= 0) return [];
  const wanted = Math.min(setSize, pieceCount);
  const octets = address.split('.').map(Number);
  let x: Buffer = Buffer.alloc(24);
  x[0] = octets[0]!;
  x[1] = octets[1]!;
  x[2] = octets[2]!;
  x[3] = 0; // 0xFFFFFF00 & ip
  x.set(infoHash.subarray(0, 20), 4);
  const pieces: number[] = [];
  while (pieces.length < wanted) {
    x = createHash('sha1').update(x).digest();
    for (let i = 0; i < 5 && pieces.length < wanted; i++) {
      const index = x.readUInt32BE(i * 4) % pieceCount;
      if (!pieces.includes(index)) pieces.push(index);
    }
  }
  return pieces;
}

/** '::ffff:1.2.3.4' (an IPv4 peer on a dual-stack socket) -> '1.2.3.4'. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}
