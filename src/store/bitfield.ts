// The bitmap of one object: which pieces are held, in BitTorrent wire order (BEP 3 "bitfield": bit 0 is the
// high bit of byte 0) so that it goes to peers and trackers without conversion. Spare bits stay zero.
import { InvalidArgumentError } from '../errors/index.ts';
import type { BitfieldView } from './types.ts';

/** Set bits in each byte value, for counting without a loop per bit. */
const POPCOUNT = new Uint8Array(256);
for (let value = 1; value < 256; value++) POPCOUNT[value] = (value & 1) + POPCOUNT[value >> 1]!;

/** Set bits among the first `length` bits of wire-order `bytes` (bits beyond `length`, or missing bytes, count none). */
export function countSetBits(bytes: Uint8Array, length: number): number {
  const whole = Math.min(bytes.length, Math.floor(length / 8));
  let count = 0;
  for (let i = 0; i < whole; i++) count += POPCOUNT[bytes[i]!]!;
  const spare = length % 8;
  if (spare !== 0 && whole < bytes.length && whole === Math.floor(length / 8)) {
    count += POPCOUNT[bytes[whole]! & (0xff << (8 - spare)) & 0xff]!;
  }
  return count;
}

export function bitfieldByteLength(length: number): number {
  return Math.ceil(length / 8);
}

export class Bitfield implements BitfieldView {
  readonly length: number;
  #bytes: Uint8Array;
  #count = 0;

  /** An empty bitfield of `length` pieces, or one copied from wire-format `bytes`. */
  constructor(length: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new InvalidArgumentError(`bitfield length must be a non-negative integer, got ${length}`);
    }
    this.length = length;
    this.#bytes = new Uint8Array(bitfieldByteLength(length));
    if (bytes !== undefined) this.assign(bytes);
  }

  /** Parses a wire-format bitfield, refusing a wrong size or set spare bits (BEP 3 says drop such a peer). */
  static fromBuffer(bytes: Uint8Array, length: number): Bitfield {
    return new Bitfield(length, bytes);
  }

  /** A bitfield with every piece set. */
  static full(length: number): Bitfield {
    const bitfield = new Bitfield(length);
    bitfield.setAll();
    return bitfield;
  }

  get(pieceIndex: number): boolean {
    if (!Number.isInteger(pieceIndex) || pieceIndex < 0 || pieceIndex >= this.length) return false;
    return (this.#bytes[pieceIndex >> 3]! & (0x80 >> (pieceIndex & 7))) !== 0;
  }

  /** Sets or clears one piece; true when that changed anything. */
  set(pieceIndex: number, held = true): boolean {
    this.#checkIndex(pieceIndex);
    const byteIndex = pieceIndex >> 3;
    const mask = 0x80 >> (pieceIndex & 7);
    const before = this.#bytes[byteIndex]!;
    const after = held ? before | mask : before & ~mask;
    if (after === before) return false;
    this.#bytes[byteIndex] = after;
    this.#count += held ? 1 : -1;
    return true;
  }

  setAll(): void {
    this.#bytes.fill(0xff);
    this.#clearSpareBits();
    this.#count = this.length;
  }

  clearAll(): void {
    this.#bytes.fill(0);
    this.#count = 0;
  }

  /** Replaces the contents with wire-format `bytes` (keeps this object, so live views stay live). */
  assign(bytes: Uint8Array): void {
    const expected = bitfieldByteLength(this.length);
    if (bytes.byteLength !== expected) {
      throw new InvalidArgumentError(
        `bitfield of ${this.length} pieces must be ${expected} bytes, got ${bytes.byteLength}`,
      );
    }
    const spareBits = expected * 8 - this.length;
    if (spareBits > 0 && (bytes[expected - 1]! & ((1 << spareBits) - 1)) !== 0) {
      throw new InvalidArgumentError(`bitfield of ${this.length} pieces has spare bits set`);
    }
    this.#bytes.set(bytes);
    let count = 0;
    for (const byte of this.#bytes) count += POPCOUNT[byte]!;
    this.#count = count;
  }

  count(): number {
    return this.#count;
  }

  isComplete(): boolean {
    return this.#count === this.length;
  }

  /** A copy in wire format. */
  toBuffer(): Buffer {
    return Buffer.from(this.#bytes);
  }

  /** Indexes of held pieces (or of missing ones), ascending. */
  indexes(held = true): number[] {
    const result: number[] = [];
    for (let index = 0; index < this.length; index++) if (this.get(index) === held) result.push(index);
    return result;
  }

  #checkIndex(pieceIndex: number): void {
    if (!Number.isInteger(pieceIndex) || pieceIndex < 0 || pieceIndex >= this.length) {
      throw new InvalidArgumentError(`piece ${pieceIndex} is out of range 0..${this.length - 1}`);
    }
  }

  #clearSpareBits(): void {
    const spareBits = this.#bytes.length * 8 - this.length;
    const last = this.#bytes.length - 1;
    if (spareBits > 0) this.#bytes[last] = this.#bytes[last]! & (0xff << spareBits);
  }
}
