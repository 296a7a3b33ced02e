// Query strings of announce and scrape requests. info_hash and peer_id are raw bytes, percent-encoded byte
// by byte (BEP 3), so neither URLSearchParams nor decodeURIComponent (both UTF-8) can be used.

const HEX = '0123456789ABCDEF';

/** Bytes outside RFC 3986's unreserved set become %XX; the result needs no further escaping. */
export function percentEncode(bytes: Uint8Array | string): string {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  let out = '';
  for (const byte of data) {
    if (isUnreserved(byte)) out += String.fromCharCode(byte);
    else out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e // ~
  );
}

export class QueryError extends Error {}

/** Parameters by name; a name may repeat (scrape's info_hash, BEP 48). Values are raw bytes. */
export type QueryParams = Map<string, Buffer[]>;

/**
 * Parses `a=1&b=%41` into raw bytes. '+' is kept as a literal byte: BitTorrent clients percent-encode every
 * byte outside the unreserved set, so a '+' in the query is data, not a space.
 */
export function parseQuery(query: string, maxParams = 64): QueryParams {
  const params: QueryParams = new Map();
  if (query.length === 0) return params;
  let count = 0;
  for (const pair of query.split('&')) {
    if (pair.length === 0) continue;
    if (++count > maxParams) throw new QueryError(`more than ${maxParams} query parameters`);
    const equals = pair.indexOf('=');
    const name = percentDecode(equals < 0 ? pair : pair.slice(0, equals)).toString('latin1');
    const value = equals < 0 ? Buffer.alloc(0) : percentDecode(pair.slice(equals + 1));
    const values = params.get(name);
    if (values === undefined) params.set(name, [value]);
    else values.push(value);
  }
  return params;
}

function percentDecode(text: string): Buffer {
  if (!text.includes('%')) return Buffer.from(text, 'latin1');
  const out = Buffer.allocUnsafe(text.length);
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x25) {
      const high = hexValue(text.charCodeAt(i + 1));
      const low = hexValue(text.charCodeAt(i + 2));
      if (high < 0 || low < 0) throw new QueryError(`malformed percent-encoding at "${text.slice(i, i + 3)}"`);
      out[length++] = (high << 4) | low;
      i += 2;
    } else {
      out[length++] = code & 0xff;
    }
  }
  return out.subarray(0, length);
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** The first value of a parameter as text, or undefined. */
export function queryText(params: QueryParams, name: string): string | undefined {
  return params.get(name)?.[0]?.toString('utf8');
}

/** Builds `name=value&...` from text or byte values (undefined entries skipped). */
export function buildQuery(
  entries: ReadonlyArray<readonly [string, string | number | Uint8Array | undefined]>,
): string {
  const parts: string[] = [];
  for (const [name, value] of entries) {
    if (value === undefined) continue;
    parts.push(`${name}=${typeof value === 'number' ? String(value) : percentEncode(value)}`);
  }
  return parts.join('&');
}
