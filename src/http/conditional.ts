// Conditional requests (RFC 9110 13): preconditions evaluated in the order of 13.2.2, and If-Range.

/** The validators of one representation: a strong entity tag and a modification time in whole seconds. */
export interface Validators {
  /** Quoted, strong: `"..."`. */
  etag: string;
  /** Seconds since the epoch. */
  lastModifiedSeconds: number;
}

/** The outcome of the preconditions: go on, 304 Not Modified, or 412 Precondition Failed. */
export type PreconditionOutcome = 'proceed' | 'not-modified' | 'failed';

/** The request fields the preconditions read (as the HTTP/1.1 layer parses them). */
export interface PreconditionFields {
  'if-match'?: string | undefined;
  'if-none-match'?: string | undefined;
  'if-modified-since'?: string | undefined;
  'if-unmodified-since'?: string | undefined;
}

/**
 * RFC 9110 13.2.2 for a GET or HEAD of an existing representation:
 * If-Match, else If-Unmodified-Since (412); then If-None-Match, else If-Modified-Since (304).
 */
export function evaluatePreconditions(headers: PreconditionFields, validators: Validators): PreconditionOutcome {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesList(ifMatch, validators.etag, true)) return 'failed';
  } else {
    const ifUnmodifiedSince = parseHttpDate(headers['if-unmodified-since']);
    if (ifUnmodifiedSince !== null && validators.lastModifiedSeconds > ifUnmodifiedSince) return 'failed';
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    return matchesList(ifNoneMatch, validators.etag, false) ? 'not-modified' : 'proceed';
  }
  const ifModifiedSince = parseHttpDate(headers['if-modified-since']);
  if (ifModifiedSince !== null && validators.lastModifiedSeconds <= ifModifiedSince) return 'not-modified';
  return 'proceed';
}

/**
 * If-Range (RFC 9110 13.1.5): true when the Range may be honoured. An entity tag must match strongly
 * (a weak tag never does); a date must equal Last-Modified exactly.
 */
export function ifRangeHolds(ifRange: string | string[] | undefined, validators: Validators): boolean {
  if (ifRange === undefined) return true;
  if (typeof ifRange !== 'string') return false; // repeated: not one validator
  const value = ifRange.trim();
  if (value.startsWith('"')) return value === validators.etag;
  if (value.startsWith('W/')) return false;
  const date = parseHttpDate(value);
  return date !== null && date === validators.lastModifiedSeconds;
}

/**
 * `*` or a list of entity tags (RFC 9110 8.8.3), compared strongly or weakly with `etag` (always strong
 * here). Entity tags may hold commas, so the list is scanned, not split.
 */
export function matchesList(list: string, etag: string, strong: boolean): boolean {
  const value = list.trim();
  if (value === '*') return true;
  let i = 0;
  while (i < value.length) {
    while (i < value.length && (value[i] === ',' || value[i] === ' ' || value[i] === '\t')) i += 1;
    if (i >= value.length) break;
    let weak = false;
    if (value.startsWith('W/', i)) {
      weak = true;
      i += 2;
    }
    if (value[i] !== '"') return false; // malformed: nothing matches
    const end = value.indexOf('"', i + 1);
    if (end < 0) return false;
    const tag = value.slice(i, end + 1);
    if (tag === etag && !(strong && weak)) return true;
    i = end + 1;
  }
  return false;
}

/** An HTTP-date (IMF-fixdate or an obsolete form) in whole seconds, or null if absent or invalid. */
export function parseHttpDate(value: string | undefined): number | null {
  if (value === undefined || value.length > 64) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}
