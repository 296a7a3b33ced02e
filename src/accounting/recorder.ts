// Turns what the servers report (a response that ended, a peer-wire session that ended, the sessions
// open now) into accounting records. The servers' hooks only hand over plain data; the work here is small
// and the writing is the log's, on its timer.
import { parseToken, TOKEN_NAME } from '../auth/index.ts';
import type { ResponseEntry } from '../http/index.ts';
import type { PeerInfo } from '../wire/index.ts';
import type { AccountingLog } from './log.ts';

/** Bytes of a session already in a record, by session (address, port, start). */
type Recorded = Map<string, number>;

export class AccountingRecorder {
  readonly #log: AccountingLog;
  readonly #recorded: Recorded = new Map();
  /** When each session's last record ended (its interim's time-taken starts there). */
  readonly #since = new Map<string, number>();

  constructor(log: AccountingLog) {
    this.#log = log;
  }

  counters(): { written: number; lost: number; queued: number } {
    return this.#log.counters();
  }

  /** One HTTP response: its line, numbered and timed now. */
  httpResponse(entry: ResponseEntry): void {
    this.#log.addLine('http', httpMembers(entry));
  }

  /** A peer-wire session ended: its bytes not yet in an interim record. */
  sessionEnded(peer: PeerInfo): void {
    const key = sessionKey(peer);
    const before = this.#recorded.get(key) ?? 0;
    const since = this.#since.get(key) ?? peer.connectedAt;
    this.#recorded.delete(key);
    this.#since.delete(key);
    this.#wire('wire', peer, peer.uploadedBytes - before, since);
  }

  /** Interim records of the open sessions that sent bytes since their last record. */
  interim(peers: readonly PeerInfo[]): void {
    for (const peer of peers) {
      if (peer.infoHash === null) continue;
      const key = sessionKey(peer);
      const before = this.#recorded.get(key) ?? 0;
      if (peer.uploadedBytes <= before) continue;
      this.#wire('wire-interim', peer, peer.uploadedBytes - before, this.#since.get(key) ?? peer.connectedAt);
      this.#recorded.set(key, peer.uploadedBytes);
      this.#since.set(key, Date.now());
    }
  }

  #wire(type: 'wire' | 'wire-interim', peer: PeerInfo, bytes: number, since: number): void {
    this.#log.add({
      type,
      'time-taken': round3((Date.now() - since) / 1000),
      'c-ip': peer.address,
      'c-port': peer.port,
      protocol: 'BitTorrent',
      'sc-status': 0,
      'sc-entity-bytes': bytes,
      ...(peer.infoHash === null ? {} : { 's-ccid': peer.infoHash }),
    });
  }
}

/**
 * The JSON members of an HTTP response's record, built by hand (once per response, on the serving thread:
 * a third of the cost of an object and JSON.stringify). Strings from the client are escaped by jsonString.
 */
function httpMembers(entry: ResponseEntry): string {
  const token = tokenOf(entry.target);
  let line = `"time-taken":${round3(entry.durationMs / 1000)}`;
  // A socket's address and an HTTP method (a token, RFC 9110 5.6.2) hold nothing JSON escapes.
  if (entry.remoteAddress !== undefined) line += `,"c-ip":"${entry.remoteAddress}"`;
  if (entry.remotePort !== undefined) line += `,"c-port":${entry.remotePort}`;
  line += `,"cs-method":"${entry.method}","u-uri":${targetString(token === undefined ? entry.target : redact(entry.target))}`;
  line += `,"protocol":"${entry.minorVersion === 1 ? 'HTTP/1.1' : 'HTTP/1.0'}","sc-status":${entry.status},"sc-entity-bytes":${entry.bodyBytes}`;
  if (entry.range !== undefined) line += `,"cs(range)":${jsonString(entry.range)}`;
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

function sessionKey(peer: PeerInfo): string {
  return `${peer.address}|${peer.port}|${peer.connectedAt}`;
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
