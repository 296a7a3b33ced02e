import { createHash } from 'node:crypto';

/** Deterministic content bytes: byte i of the stream seeded by `seed`. */
export function contentBytes(length: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/** SHA-1 of each piece of `content`, concatenated: what a torrent's `pieces` holds. */
export function pieceHashesOf(content: Buffer, pieceLength: number): Buffer {
  const hashes: Buffer[] = [];
  for (let offset = 0; offset < content.length; offset += pieceLength) {
    hashes.push(
      createHash('sha1')
        .update(content.subarray(offset, offset + pieceLength))
        .digest(),
    );
  }
  return Buffer.concat(hashes);
}

export function sha1Hex(data: Uint8Array): string {
  return createHash('sha1').update(data).digest('hex');
}
