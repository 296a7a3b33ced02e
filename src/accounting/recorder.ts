// Turns what the servers report (a response that ended, a peer-wire session that ended, the sessions
// open now) into accounting records. The servers' hooks only hand over plain data; an HTTP response goes to
// the log as it is (its line is made on the log's writer thread, format.ts), a session's fields are made here.
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

  /** One HTTP response, numbered and timed now; its line is made and written off this thread. */
  httpResponse(entry: ResponseEntry): void {
    this.#log.addHttp(entry);
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

function sessionKey(peer: PeerInfo): string {
  return `${peer.address}|${peer.port}|${peer.connectedAt}`;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
