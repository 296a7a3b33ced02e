// The bitmap extension's encoding of one object's bitfield in an announce (docs/tracker.md, "Bitmap
// extension"). One value, `<form><data>`, where data is base64url (RFC 4648 section 5, no padding), so it
// needs no percent-encoding in a query string:
//   '1'             every piece held          '0'            no piece held
//   'r' + runs      run lengths (below)       'b' + bitfield  the BitTorrent bitfield as it is
//   'z' + deflate   the bitfield compressed with raw DEFLATE (RFC 1951)
// Runs, after RFC 7574's chunk ranges: unsigned LEB128 lengths alternating absent, present, absent, ...,
// starting with absent (the first run may be 0). Pieces after the last run have the state that follows it,
// so "the first 5000 of 20000 pieces" is the runs 0, 5000. The sender picks the shortest form.
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export class BitmapError extends Error {}

/** Set bits in each byte value. */
const POPCOUNT = new Uint8Array(256);
for (let value = 1; value < 256; value++) POPCOUNT[value] = (value & 1) + POPCOUNT[value >> 1]!;

export function bitmapByteLength(pieceCount: number): number {
  return Math.ceil(pieceCount / 8);
}

export function countBits(bitmap: Uint8Array): number {
  let count = 0;
  for (const byte of bitmap) count += POPCOUNT[byte]!;
  return count;
}

/** Pieces that `candidate` holds and `asker` does not: what the asker could get from the candidate. */
export function countMissing(candidate: Uint8Array, asker: Uint8Array): number {
  let count = 0;
  const length = Math.min(candidate.length, asker.length);
  for (let i = 0; i < length; i++) count += POPCOUNT[candidate[i]! & ~asker[i]! & 0xff]!;
  return count;
}

export function hasBit(bitmap: Uint8Array, index: number): boolean {
  return (bitmap[index >> 3]! & (0x80 >> (index & 7))) !== 0;
}

/** Sets pieces [start, end) in a wire-order bitfield, whole bytes at a time where it can. */
export function setBitRange(bitmap: Uint8Array, start: number, end: number): void {
  let index = start;
  while (index < end && (index & 7) !== 0) {
    bitmap[index >> 3]! |= 0x80 >> (index & 7);
    index++;
  }
  const wholeBytesEnd = end - (end & 7);
  if (index < wholeBytesEnd) {
    bitmap.fill(0xff, index >> 3, wholeBytesEnd >> 3);
    index = wholeBytesEnd;
  }
  for (; index < end; index++) bitmap[index >> 3]! |= 0x80 >> (index & 7);
}

/** The shortest extension form of a bitfield of `pieceCount` pieces (wire order, spare bits zero). */
export function encodeBitmap(bitfield: Uint8Array, pieceCount: number): string {
  const held = countBits(bitfield);
  if (held === pieceCount) return '1';
  if (held === 0) return '0';
  let best = `b${Buffer.from(bitfield.buffer, bitfield.byteOffset, bitfield.byteLength).toString('base64url')}`;
  const runs = encodeRuns(bitfield, pieceCount, best.length);
  if (runs !== undefined) best = `r${runs.toString('base64url')}`;
  // DEFLATE pays off only once there is something to compress (its block overhead is ~10 bytes).
  if (bitfield.length > 32) {
    const compressed = `z${deflateRawSync(bitfield, { level: 9 }).toString('base64url')}`;
    if (compressed.length < best.length) best = compressed;
  }
  return best;
}

/**
 * The run-length form: every run but the last (the rest is implied), or undefined as soon as it would not
 * be shorter than `limit` base64url characters.
 */
function encodeRuns(bitfield: Uint8Array, pieceCount: number, limit: number): Buffer | undefined {
  const maxBytes = Math.floor((limit * 3) / 4);
  const out: number[] = [];
  let state = false;
  let runStart = 0;
  let index = 0;
  while (index < pieceCount) {
    const byte = bitfield[index >> 3]!;
    // Whole bytes that continue the current run are skipped at once.
    if ((index & 7) === 0 && index + 8 <= pieceCount && byte === (state ? 0xff : 0x00)) {
      index += 8;
      continue;
    }
    if (((byte & (0x80 >> (index & 7))) !== 0) !== state) {
      pushVarint(out, index - runStart);
      if (out.length >= maxBytes) return undefined;
      runStart = index;
      state = !state;
    }
    index++;
  }
  return Buffer.from(out);
}

function pushVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes an extension bitmap into a wire-order bitfield of `pieceCount` pieces. BitmapError naming what
 * is wrong; never allocates more than the bitfield's size (a DEFLATE bomb stops at that size).
 */
export function decodeBitmap(value: string, pieceCount: number): Uint8Array {
  const byteLength = bitmapByteLength(pieceCount);
  const form = value[0];
  const data = value.slice(1);
  if (form === '1' || form === '0') {
    if (data.length > 0) throw new BitmapError(`bitmap form "${form}" takes no data`);
    const bitfield = new Uint8Array(byteLength);
    if (form === '1') setBitRange(bitfield, 0, pieceCount);
    return bitfield;
  }
  if (!BASE64URL.test(data)) throw new BitmapError('bitmap data is not base64url');
  const bytes = Buffer.from(data, 'base64url');
  if (form === 'b') return checkedBitfield(bytes, pieceCount);
  if (form === 'z') {
    let inflated: Buffer;
    try {
      inflated = inflateRawSync(bytes, { maxOutputLength: Math.max(byteLength, 1) });
    } catch (err) {
      throw new BitmapError(`compressed bitmap does not inflate to ${byteLength} bytes: ${(err as Error).message}`);
    }
    return checkedBitfield(inflated, pieceCount);
  }
  if (form === 'r') return decodeRuns(bytes, pieceCount);
  throw new BitmapError(`unknown bitmap form "${form ?? ''}" (expected 0, 1, r, b or z)`);
}

function checkedBitfield(bytes: Uint8Array, pieceCount: number): Uint8Array {
  const byteLength = bitmapByteLength(pieceCount);
  if (bytes.length !== byteLength) {
    throw new BitmapError(`bitmap of ${pieceCount} pieces must be ${byteLength} bytes, got ${bytes.length}`);
  }
  const spareBits = byteLength * 8 - pieceCount;
  if (spareBits > 0 && (bytes[byteLength - 1]! & ((1 << spareBits) - 1)) !== 0) {
    throw new BitmapError('bitmap has bits set past the last piece');
  }
  return Uint8Array.from(bytes);
}

function decodeRuns(bytes: Uint8Array, pieceCount: number): Uint8Array {
  const bitfield = new Uint8Array(bitmapByteLength(pieceCount));
  let position = 0;
  let state = false;
  let offset = 0;
  let first = true;
  while (offset < bytes.length) {
    let length = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[offset++];
      if (byte === undefined) throw new BitmapError('bitmap runs end inside a number');
      length += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) break;
      scale *= 128;
      if (scale > 2 ** 35) throw new BitmapError('bitmap run length too large');
    }
    if (length === 0 && !first) throw new BitmapError('bitmap has an empty run after the first');
    if (position + length > pieceCount) throw new BitmapError(`bitmap runs cover more than ${pieceCount} pieces`);
    if (state) setBitRange(bitfield, position, position + length);
    position += length;
    state = !state;
    first = false;
  }
  if (state && position < pieceCount) setBitRange(bitfield, position, pieceCount);
  return bitfield;
}
