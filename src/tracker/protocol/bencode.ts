// Bencode for tracker traffic, both directions. The `bencode` package trusts its input (a negative string
// length loops forever, deep nesting overflows the stack), and tracker responses and batch announces come
// from strangers, so this decoder is strict and bounded. Dictionaries come back without a prototype
// (a key named "__proto__" is just a key); byte strings come back as Buffer views of the input.

export type BencodeValue = number | Buffer | BencodeValue[] | BencodeDictionary;
export type BencodeDictionary = { [key: string]: BencodeValue };

/** What `encodeBencode` accepts: strings are written as UTF-8, undefined entries are skipped. */
export type BencodeInput =
  | number
  | string
  | Uint8Array
  | readonly BencodeInput[]
  | { readonly [key: string]: BencodeInput | undefined };

export class BencodeError extends Error {}

const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MINUS = 0x2d;
const LETTER_D = 0x64;
const LETTER_E = 0x65;
const LETTER_I = 0x69;
const LETTER_L = 0x6c;

export interface DecodeLimits {
  /** Deepest nesting accepted (tracker messages nest three or four levels). */
  maxDepth?: number;
}

/** Decodes exactly one bencoded value filling `data`; BencodeError saying what is wrong and where. */
export function decodeBencode(data: Uint8Array, limits: DecodeLimits = {}): BencodeValue {
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const decoder = new Decoder(buffer, limits.maxDepth ?? 32);
  const value = decoder.value(0);
  if (decoder.pos !== buffer.length) {
    throw new BencodeError(`${buffer.length - decoder.pos} trailing bytes after the value`);
  }
  return value;
}

class Decoder {
  pos = 0;
  readonly data: Buffer;
  readonly maxDepth: number;

  constructor(data: Buffer, maxDepth: number) {
    this.data = data;
    this.maxDepth = maxDepth;
  }

  value(depth: number): BencodeValue {
    if (depth > this.maxDepth)
      throw new BencodeError(`nesting deeper than ${this.maxDepth} levels at byte ${this.pos}`);
    const byte = this.byte();
    if (byte === LETTER_I) return this.integer();
    if (byte === LETTER_L) return this.list(depth);
    if (byte === LETTER_D) return this.dictionary(depth);
    if (byte >= DIGIT_0 && byte <= DIGIT_9) return this.string();
    throw new BencodeError(`unexpected byte 0x${byte.toString(16).padStart(2, '0')} at byte ${this.pos}`);
  }

  byte(): number {
    const byte = this.data[this.pos];
    if (byte === undefined) throw new BencodeError(`truncated at byte ${this.pos}`);
    return byte;
  }

  integer(): number {
    const start = this.pos;
    let pos = start + 1;
    const negative = this.data[pos] === MINUS;
    if (negative) pos++;
    const firstDigit = pos;
    let value = 0;
    for (let byte = this.data[pos]; byte !== undefined && byte >= DIGIT_0 && byte <= DIGIT_9; byte = this.data[++pos]) {
      value = value * 10 + (byte - DIGIT_0);
    }
    const digits = pos - firstDigit;
    if (this.data[pos] !== LETTER_E || digits === 0) throw new BencodeError(`malformed integer at byte ${start}`);
    if (digits > 1 && this.data[firstDigit] === DIGIT_0)
      throw new BencodeError(`integer with a leading zero at byte ${start}`);
    if (negative && value === 0) throw new BencodeError(`negative zero at byte ${start}`);
    if (!Number.isSafeInteger(value)) throw new BencodeError(`integer too large at byte ${start}`);
    this.pos = pos + 1;
    return negative ? -value : value;
  }

  string(): Buffer {
    const start = this.pos;
    let pos = start;
    let length = 0;
    for (let byte = this.data[pos]; byte !== undefined && byte >= DIGIT_0 && byte <= DIGIT_9; byte = this.data[++pos]) {
      length = length * 10 + (byte - DIGIT_0);
      if (length > this.data.length) throw new BencodeError(`string at byte ${start} is longer than the data`);
    }
    if (this.data[pos] !== COLON) throw new BencodeError(`malformed string length at byte ${start}`);
    const end = pos + 1 + length;
    if (end > this.data.length) throw new BencodeError(`string at byte ${start} runs past the end`);
    this.pos = end;
    return this.data.subarray(pos + 1, end);
  }

  list(depth: number): BencodeValue[] {
    this.pos++;
    const items: BencodeValue[] = [];
    while (this.byte() !== LETTER_E) items.push(this.value(depth + 1));
    this.pos++;
    return items;
  }

  dictionary(depth: number): BencodeDictionary {
    this.pos++;
    const dictionary: BencodeDictionary = Object.create(null);
    while (this.byte() !== LETTER_E) {
      const keyAt = this.pos;
      const byte = this.byte();
      if (byte < DIGIT_0 || byte > DIGIT_9) throw new BencodeError(`dictionary key at byte ${keyAt} is not a string`);
      const key = this.string().toString('latin1');
      if (key in dictionary) throw new BencodeError(`duplicate dictionary key at byte ${keyAt}`);
      dictionary[key] = this.value(depth + 1);
    }
    this.pos++;
    return dictionary;
  }
}

/** Encodes a value; dictionary keys are sorted (BEP 3), undefined entries skipped. */
export function encodeBencode(value: BencodeInput): Buffer {
  // Built as a latin1 string (one character per byte) and converted once: tracker answers are small and
  // many, and this allocates far less than a Buffer per key and value.
  return Buffer.from(encodeLatin1(value), 'latin1');
}

const ASCII = /^[\x00-\x7f]*$/;

function encodeLatin1(value: BencodeInput): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new BencodeError(`cannot bencode ${value}: not an integer`);
    return `i${value}e`;
  }
  if (typeof value === 'string') {
    const bytes = ASCII.test(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
    return `${bytes.length}:${bytes}`;
  }
  if (value instanceof Uint8Array) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
    return `${bytes.length}:${bytes}`;
  }
  if (Array.isArray(value)) {
    let out = 'l';
    for (const item of value as readonly BencodeInput[]) out += encodeLatin1(item);
    return `${out}e`;
  }
  const dictionary = value as { readonly [key: string]: BencodeInput | undefined };
  let out = 'd';
  // Keys are compared as bytes; the keys trackers use are ASCII or latin1, where this order is byte order.
  for (const key of Object.keys(dictionary).sort()) {
    const item = dictionary[key];
    if (item === undefined) continue;
    out += `${key.length}:${key}${encodeLatin1(item)}`;
  }
  return `${out}e`;
}

// Readers for decoded values: undefined when absent or of another type.

export function isDictionary(value: BencodeValue | undefined): value is BencodeDictionary {
  return typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && !Array.isArray(value);
}

export function readInteger(dictionary: BencodeDictionary, key: string): number | undefined {
  const value = dictionary[key];
  return typeof value === 'number' ? value : undefined;
}

export function readBytes(dictionary: BencodeDictionary, key: string): Buffer | undefined {
  const value = dictionary[key];
  return Buffer.isBuffer(value) ? value : undefined;
}

export function readText(dictionary: BencodeDictionary, key: string): string | undefined {
  return readBytes(dictionary, key)?.toString('utf8');
}

export function readList(dictionary: BencodeDictionary, key: string): BencodeValue[] | undefined {
  const value = dictionary[key];
  return Array.isArray(value) ? value : undefined;
}

export function readDictionary(dictionary: BencodeDictionary, key: string): BencodeDictionary | undefined {
  const value = dictionary[key];
  return isDictionary(value) ? value : undefined;
}
