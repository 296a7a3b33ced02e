// The JSON members of accounting records that the writer thread makes (workers/accounting-writer.ts): an
// HTTP response's, from the plain data the serving thread handed over. Built by hand (a third of the cost of
// an object and JSON.stringify); strings from the client are escaped by jsonString.
import { parseToken, TOKEN_NAME } from '../auth/index.ts';
import type { RingHttp } from './ring.ts';

/** The JSON members of an HTTP response's record, after the common ones (`"time-taken":...,"c-ip":...`). */
export function httpMembers(entry: RingHttp): string {
  const token = tokenOf(entry.target);
  let line = `"time-taken":${round3(entry.durationMs / 1000)}`;
  // A socket's address and an HTTP method (a token, RFC 9110 5.6.2) hold nothing JSON escapes.
  if (entry.remoteAddress !== undefined) line += `,"c-ip":"${entry.remoteAddress}"`;
  if (entry.remotePort !== undefined) line += `,"c-port":${entry.remotePort}`;
  line += `,"cs-method":"${entry.method}","u-uri":${targetString(token === undefined ? entry.target : redact(entry.target))}`;
  line += `,"protocol":"${entry.minorVersion === 1 ? 'HTTP/1.1' : 'HTTP/1.0'}","sc-status":${entry.status},"sc-entity-bytes":${entry.bodyBytes}`;
  if (entry.range !== undefined) line += `,"cs(range)":${jsonString(entry.range)}`;
  if (entry.source !== undefined) line += `,"source":"${entry.source}"`;
  if (entry.infoHash !== undefined) line += `,"s-ccid":"${entry.infoHash}"`;
  if (token !== undefined) {
    const claims = parseToken(token);
    if (claims?.subscriber !== undefined) line += `,"subscriber":${jsonString(claims.subscriber)}`;
    if (claims !== null) line += `,"token-key":${jsonString(claims.keyId)}`;
  }
  return line;
}

/** Characters a JSON string must escape (and lone surrogates, which JSON.stringify escapes too). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/** A request target as a JSON string: the HTTP/1.1 layer refuses control characters and bytes above 0x7e in it. */
function targetString(target: string): string {
  return target.indexOf('"') < 0 && target.indexOf('\\') < 0 ? `"${target}"` : jsonString(target);
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The signed URL token in a target's query, if any. */
function tokenOf(target: string): string | undefined {
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  const at = target.indexOf(`${TOKEN_NAME}=`, q);
  if (at < 0) return undefined;
  const end = target.indexOf('&', at);
  const raw = target.slice(at + TOKEN_NAME.length + 1, end < 0 ? target.length : end);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function redact(target: string): string {
  const at = target.indexOf(`${TOKEN_NAME}=`);
  const end = target.indexOf('&', at);
  return `${target.slice(0, at + TOKEN_NAME.length + 1)}-${end < 0 ? '' : target.slice(end)}`;
}
