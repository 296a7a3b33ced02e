// Each peer connection's send rate, from two looks at its byte counter: the peers pages of the agent's and
// the controller's dashboards.
import type { PeerInfo } from '../wire/index.ts';

/** The peer connections with each one's send rate since the previous look (at most one look per `minMs`). */
export class PeerRates {
  readonly #peers: () => PeerInfo[];
  readonly #minMs: number;
  #last: { at: number; bytes: Map<string, number>; shown: Array<PeerInfo & { sentPerSecond: number | null }> } | null =
    null;

  constructor(peers: () => PeerInfo[], minMs: number) {
    this.#peers = peers;
    this.#minMs = minMs;
  }

  peers(): Array<PeerInfo & { sentPerSecond: number | null }> {
    const now = Date.now();
    const last = this.#last;
    if (last !== null && now - last.at < this.#minMs) return last.shown;
    const bytes = new Map<string, number>();
    const shown = this.#peers().map((peer) => {
      const key = `${peer.address}:${peer.port}:${peer.connectedAt}`;
      bytes.set(key, peer.uploadedBytes);
      const before = last?.bytes.get(key);
      const sentPerSecond =
        last === null || before === undefined ? null : ((peer.uploadedBytes - before) * 1000) / (now - last.at);
      return { ...peer, sentPerSecond };
    });
    this.#last = { at: now, bytes, shown };
    return shown;
  }
}
