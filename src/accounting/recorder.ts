// Turns what the servers report (a response that ended, a peer-wire session that ended, the sessions
// open now) into accounting records. The servers' hooks only hand over plain data; the work here is small
// and the writing is the log's, on its timer.
import { parseToken, TOKEN_NAME } from '../auth/index.ts';
import type { ResponseEntry } from '../http/index.ts';
import type { PeerInfo } from '../wire/index.ts';
import type { AccountingLog } from './log.ts';
import type { RecordInput } from './record.ts';

const OBJECT_OR_PIECE = /^\/(?:objects|pieces)\/([0-9a-fA-F]{40})(?:[/?]|$)/;

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

  /** One HTTP response: numbered and timed now, its fields made when it is written (off the serving path). */
  httpResponse(entry: ResponseEntry): void {
    this.#log.add(() => httpRecord(entry));
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
      // peerAuth: tracker: the subscriber of the allow-list entry the peer was let in by.
      ...(peer.subscriber === undefined ? {} : { subscriber: peer.subscriber }),
    });
  }
}

function httpRecord(entry: ResponseEntry): RecordInput {
  const { path, token } = pathAndToken(entry.target);
  // Built field by field (no spreads): this runs once per response, on the write timer.
  const record: RecordInput = { type: 'http', 'time-taken': round3(entry.durationMs / 1000) };
  if (entry.remoteAddress !== undefined) record['c-ip'] = entry.remoteAddress;
  if (entry.remotePort !== undefined) record['c-port'] = entry.remotePort;
  record['cs-method'] = entry.method;
  record['u-uri'] = token === undefined ? entry.target : redact(entry.target);
  record.protocol = entry.minorVersion === 1 ? 'HTTP/1.1' : 'HTTP/1.0';
  record['sc-status'] = entry.status;
  record['sc-entity-bytes'] = entry.bodyBytes;
  if (entry.range !== undefined) record['cs(range)'] = entry.range;
  if (entry.source !== undefined) record.source = entry.source;
  const infoHash = OBJECT_OR_PIECE.exec(path)?.[1];
  if (infoHash !== undefined) record['s-ccid'] = infoHash.toLowerCase();
  if (token !== undefined) {
    const claims = parseToken(token);
    if (claims?.subscriber !== undefined) record.subscriber = claims.subscriber;
    if (claims !== null) record['token-key'] = claims.keyId;
  }
  return record;
}

function sessionKey(peer: PeerInfo): string {
  return `${peer.address}|${peer.port}|${peer.connectedAt}`;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function pathAndToken(target: string): { path: string; token: string | undefined } {
  const q = target.indexOf('?');
  if (q < 0) return { path: target, token: undefined };
  const at = target.indexOf(`${TOKEN_NAME}=`, q);
  if (at < 0) return { path: target.slice(0, q), token: undefined };
  const end = target.indexOf('&', at);
  const raw = target.slice(at + TOKEN_NAME.length + 1, end < 0 ? target.length : end);
  let token = raw;
  try {
    token = decodeURIComponent(raw);
  } catch {}
  return { path: target.slice(0, q), token };
}

function redact(target: string): string {
  const at = target.indexOf(`${TOKEN_NAME}=`);
  const end = target.indexOf('&', at);
  return `${target.slice(0, at + TOKEN_NAME.length + 1)}-${end < 0 ? '' : target.slice(end)}`;
}
