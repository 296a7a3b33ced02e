// A strict structural check of bencoded data, run before the `bencode` package decodes it. That decoder
// trusts its input: a negative string length makes it loop forever, a string longer than the data is
// silently cut short, deep nesting overflows the stack, and integers like "i03e" pass. This scan rejects
// all of that with a message saying where, and records where each top-level key's value lies so the
// info dictionary can be hashed as the bytes received.

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MINUS = 0x2d;
const COLON = 0x3a;
const LETTER_D = 0x64;
const LETTER_E = 0x65;
const LETTER_I = 0x69;
const LETTER_L = 0x6c;

/** Real torrents nest a handful of levels; this bounds recursion well below the stack limit. */
const MAX_DEPTH = 256;

export class BencodeSyntaxError extends Error {}

export interface ByteSpan {
  start: number;
  end: number;
}

export interface ScannedDictionary {
  /** For each key of the top-level dictionary, where its value lies in the data. */
  valueSpans: Map<string, ByteSpan>;
}

/** Checks that `data` is exactly one well-formed bencoded dictionary and returns its keys' value spans. */
export function scanTopLevelDictionary(data: Uint8Array): ScannedDictionary {
  if (data.length === 0) throw new BencodeSyntaxError('empty input');
  if (data[0] !== LETTER_D) throw new BencodeSyntaxError('not a bencoded dictionary (first byte is not "d")');
  const valueSpans = new Map<string, ByteSpan>();
  const end = scanDictionary(data, 0, 1, valueSpans);
  if (end !== data.length) throw new BencodeSyntaxError(`${data.length - end} trailing bytes after the dictionary`);
  return { valueSpans };
}

function scanValue(data: Uint8Array, pos: number, depth: number): number {
  if (depth > MAX_DEPTH) throw new BencodeSyntaxError(`nesting deeper than ${MAX_DEPTH} levels at byte ${pos}`);
  const byte = byteAt(data, pos);
  if (byte === LETTER_I) return scanInteger(data, pos);
  if (byte === LETTER_L) return scanList(data, pos, depth);
  if (byte === LETTER_D) return scanDictionary(data, pos, depth);
  if (byte >= DIGIT_0 && byte <= DIGIT_9) return scanString(data, pos).end;
  throw new BencodeSyntaxError(`unexpected byte 0x${byte.toString(16).padStart(2, '0')} at byte ${pos}`);
}

function byteAt(data: Uint8Array, pos: number): number {
  const byte = data[pos];
  if (byte === undefined) throw new BencodeSyntaxError(`truncated: data ends at byte ${pos}`);
  return byte;
}

function scanInteger(data: Uint8Array, start: number): number {
  let pos = start + 1;
  if (data[pos] === MINUS) pos++;
  const firstDigit = pos;
  while (isDigit(data[pos])) pos++;
  if (byteAt(data, pos) !== LETTER_E) throw new BencodeSyntaxError(`malformed integer at byte ${start}`);
  const digits = pos - firstDigit;
  if (digits === 0) throw new BencodeSyntaxError(`integer without digits at byte ${start}`);
  if (digits > 1 && data[firstDigit] === DIGIT_0)
    throw new BencodeSyntaxError(`integer with a leading zero at byte ${start}`);
  if (firstDigit > start + 1 && digits === 1 && data[firstDigit] === DIGIT_0) {
    throw new BencodeSyntaxError(`negative zero at byte ${start}`);
  }
  return pos + 1;
}

function scanString(data: Uint8Array, start: number): ByteSpan {
  let pos = start;
  let length = 0;
  while (isDigit(data[pos])) {
    length = length * 10 + (data[pos]! - DIGIT_0);
    if (length > data.length) throw new BencodeSyntaxError(`string at byte ${start} is longer than the data`);
    pos++;
  }
  if (pos === start) throw new BencodeSyntaxError(`expected a string length at byte ${start}`);
  if (byteAt(data, pos) !== COLON) throw new BencodeSyntaxError(`malformed string length at byte ${start}`);
  const contentStart = pos + 1;
  const end = contentStart + length;
  if (end > data.length) throw new BencodeSyntaxError(`truncated: string at byte ${start} runs past the end`);
  return { start: contentStart, end };
}

function scanList(data: Uint8Array, start: number, depth: number): number {
  let pos = start + 1;
  while (byteAt(data, pos) !== LETTER_E) pos = scanValue(data, pos, depth + 1);
  return pos + 1;
}

function scanDictionary(data: Uint8Array, start: number, depth: number, valueSpans?: Map<string, ByteSpan>): number {
  let pos = start + 1;
  const seen = new Set<string>();
  while (byteAt(data, pos) !== LETTER_E) {
    if (!isDigit(data[pos])) throw new BencodeSyntaxError(`dictionary key at byte ${pos} is not a string`);
    const keySpan = scanString(data, pos);
    const key = Buffer.from(data.buffer, data.byteOffset + keySpan.start, keySpan.end - keySpan.start).toString(
      'latin1',
    );
    if (seen.has(key)) throw new BencodeSyntaxError(`duplicate dictionary key at byte ${pos}`);
    seen.add(key);
    const valueStart = keySpan.end;
    pos = scanValue(data, valueStart, depth + 1);
    valueSpans?.set(key, { start: valueStart, end: pos });
  }
  return pos + 1;
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= DIGIT_0 && byte <= DIGIT_9;
}
