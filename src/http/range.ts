// Range header parsing (RFC 9110 14.1-14.2), with the caps that keep a client from making us send more
// than it could get by asking for the whole representation (range amplification).

/** An inclusive byte range of a representation: bytes first..last. */
export interface ByteRange {
  first: number;
  last: number;
}

export interface RangeLimits {
  /** More range-specs than this: the request is refused with 416 (RFC 9110 15.5.17 allows it). */
  maxRanges: number;
  /** Ranges closer than this many bytes are merged: a multipart part header costs about as much. */
  coalesceGap: number;
}

/**
 * What to do with a Range header:
 * - `ignore`: no Range, another unit, or a malformed ranges-specifier: serve the whole representation;
 * - `unsatisfiable`: no range overlaps the representation (416 with `Content-Range: bytes *\/len`);
 * - `excessive`: more ranges than allowed (416, a sign of a broken or hostile client);
 * - `ranges`: one or more disjoint ranges in ascending order, each within the representation.
 */
export type RangeDecision =
  | { kind: 'ignore' }
  | { kind: 'unsatisfiable' }
  | { kind: 'excessive' }
  | { kind: 'ranges'; ranges: ByteRange[] };

const IGNORE: RangeDecision = { kind: 'ignore' };
const UNSATISFIABLE: RangeDecision = { kind: 'unsatisfiable' };
const EXCESSIVE: RangeDecision = { kind: 'excessive' };
// Positions longer than this are beyond any representation we hold (and beyond exact doubles).
const MAX_DIGITS = 15;

/**
 * Parses `Range: bytes=...` against a representation of `length` bytes. A zero-length representation has
 * no satisfiable range but a suffix one, which selects nothing: then the Range is ignored (RFC 9110 allows
 * ignoring Range at any time) and the empty representation is sent whole.
 */
export function parseRange(header: string | undefined, length: number, limits: RangeLimits): RangeDecision {
  if (header === undefined) return IGNORE;
  // The fast path: one `bytes=a-b` as web seeds and BitTorrent-minded clients send it.
  const single = parseSingle(header, length);
  if (single !== undefined) return single;
  const equals = header.indexOf('=');
  if (equals < 0 || header.slice(0, equals).trim().toLowerCase() !== 'bytes') return IGNORE;
  const specs = header.slice(equals + 1).split(',');
  let count = 0;
  const ranges: ByteRange[] = [];
  for (const rawSpec of specs) {
    const spec = rawSpec.trim();
    // RFC 9110 5.6.1: empty list elements are allowed and not counted.
    if (spec === '') continue;
    count += 1;
    if (count > limits.maxRanges) return EXCESSIVE;
    const range = parseSpec(spec, length);
    if (range === null) return IGNORE;
    if (range !== undefined) ranges.push(range);
  }
  if (count === 0) return IGNORE;
  if (length === 0) return IGNORE;
  if (ranges.length === 0) return UNSATISFIABLE;
  return { kind: 'ranges', ranges: coalesce(ranges, limits.coalesceGap) };
}

const BYTES_EQUALS = 'bytes=';

/**
 * `bytes=a-b` or `bytes=a-` with nothing else (1-15 digits each, as in the general path); undefined when
 * the header is anything more. Scanned by hand: it runs on nearly every request.
 */
function parseSingle(header: string, length: number): RangeDecision | undefined {
  if (length === 0 || !header.startsWith(BYTES_EQUALS)) return undefined;
  let at = BYTES_EQUALS.length;
  let first = 0;
  const firstStart = at;
  for (let code = header.charCodeAt(at); code >= 48 && code <= 57; code = header.charCodeAt(++at)) {
    first = first * 10 + (code - 48);
  }
  const firstDigits = at - firstStart;
  if (firstDigits === 0 || firstDigits > MAX_DIGITS || header.charCodeAt(at) !== 45 /* - */) return undefined;
  at += 1;
  let last = 0;
  const lastStart = at;
  for (let code = header.charCodeAt(at); code >= 48 && code <= 57; code = header.charCodeAt(++at)) {
    last = last * 10 + (code - 48);
  }
  const lastDigits = at - lastStart;
  if (at !== header.length || lastDigits > MAX_DIGITS) return undefined;
  if (lastDigits === 0) last = Number.POSITIVE_INFINITY;
  if (last < first) return IGNORE;
  if (first >= length) return UNSATISFIABLE;
  return { kind: 'ranges', ranges: [{ first, last: Math.min(last, length - 1) }] };
}

/**
 * One range-spec: a range, undefined if it is valid but does not overlap the representation, null if
 * it is malformed (then the whole header is invalid).
 */
function parseSpec(spec: string, length: number): ByteRange | undefined | null {
  const dash = spec.indexOf('-');
  if (dash < 0) return null;
  const firstText = spec.slice(0, dash).trim();
  const lastText = spec.slice(dash + 1).trim();
  if (firstText === '') {
    // suffix-range: the last N bytes
    const suffix = digits(lastText);
    if (suffix === null) return null;
    if (suffix === 0 || length === 0) return undefined;
    return { first: Math.max(0, length - suffix), last: length - 1 };
  }
  const first = digits(firstText);
  if (first === null) return null;
  if (lastText === '') return first < length ? { first, last: length - 1 } : undefined;
  const last = digits(lastText);
  if (last === null || last < first) return null;
  return first < length ? { first, last: Math.min(last, length - 1) } : undefined;
}

/** A non-negative decimal; huge values become Infinity (beyond any length); null if not digits. */
function digits(text: string): number | null {
  if (text.length === 0) return null;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return null;
  }
  return text.length > MAX_DIGITS ? Number.POSITIVE_INFINITY : Number(text);
}

/**
 * Sorts and merges ranges that overlap or lie within `gap` bytes of each other (RFC 9110 14.2 lets a
 * server coalesce such ranges). The result is disjoint, so its total never exceeds the representation.
 */
export function coalesce(ranges: ByteRange[], gap: number): ByteRange[] {
  if (ranges.length === 1) return ranges;
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  const merged: ByteRange[] = [{ ...sorted[0]! }];
  for (let i = 1; i < sorted.length; i += 1) {
    const range = sorted[i]!;
    const previous = merged[merged.length - 1]!;
    if (range.first <= previous.last + 1 + gap) {
      if (range.last > previous.last) previous.last = range.last;
    } else {
      merged.push({ ...range });
    }
  }
  return merged;
}
