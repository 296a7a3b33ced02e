// Top-up over HTTP (storageControl.topUpRate, docs/policy.md "Top-up over HTTP"): a response's body goes
// out while the edge's bytes to the client's address stay within the top-up rate less what the address
// gets from other sources, as the peer wire's HAVEs show it (the ledger, src/wire/top-up.ts). Past that the
// body waits (paced, never refused), and the egress limits (src/qos) still apply after it.
import type { BodyFlow, HttpTopUp } from './types.ts';

/** A paused response looks again after this long (the ledger's resolution). */
const POLL_MS = 250;
/**
 * A paused response sends a chunk at least this often: below libtorrent's web seed timeout (urlseed_timeout,
 * 20 s), so a client whose peers give it the whole rate keeps its connection instead of dropping the web seed.
 */
export const TOP_UP_MAX_PAUSE_MS = 10_000;

export class TopUpFlow implements BodyFlow {
  readonly #ledger: HttpTopUp;
  readonly #address: string;
  readonly #infoHash: string;
  readonly #inner: BodyFlow | null;
  readonly #onPause: () => void;
  readonly #now: () => number;
  #lastSentAt: number;
  #closed = false;
  #timer: NodeJS.Timeout | null = null;
  #wake: (() => void) | null = null;

  constructor(
    ledger: HttpTopUp,
    address: string,
    infoHash: string,
    inner: BodyFlow | null,
    onPause: () => void,
    now: () => number = Date.now,
  ) {
    this.#ledger = ledger;
    this.#address = address;
    this.#infoHash = infoHash;
    this.#inner = inner;
    this.#onPause = onPause;
    this.#now = now;
    this.#lastSentAt = now();
  }

  take(bytes: number): boolean {
    if (!this.#allows(bytes)) return false;
    if (this.#inner !== null && !this.#inner.take(bytes)) return false;
    this.#record(bytes);
    return true;
  }

  whenSendable(bytes: number): Promise<void> | undefined {
    if (this.#allows(bytes)) return this.#thenInner(bytes);
    this.#onPause();
    return this.#until(bytes).then(() => this.#thenInner(bytes));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#wake?.();
    // The inner flow (the egress limits') is the connection's: it goes on to the next response.
  }

  #allows(bytes: number): boolean {
    return (
      this.#closed ||
      this.#ledger.maySend(this.#address, this.#infoHash, bytes) ||
      this.#now() - this.#lastSentAt >= TOP_UP_MAX_PAUSE_MS
    );
  }

  /** The egress limits' wait, if any, then the bytes count as sent. */
  #thenInner(bytes: number): Promise<void> | undefined {
    const wait = this.#inner?.whenSendable(bytes);
    if (wait === undefined) {
      this.#record(bytes);
      return undefined;
    }
    return wait.then(() => this.#record(bytes));
  }

  #until(bytes: number): Promise<void> {
    return new Promise((resolve) => {
      const look = (): void => {
        this.#timer = null;
        if (this.#allows(bytes)) {
          this.#wake = null;
          resolve();
          return;
        }
        this.#timer = setTimeout(look, POLL_MS);
      };
      this.#wake = resolve;
      this.#timer = setTimeout(look, POLL_MS);
    });
  }

  #record(bytes: number): void {
    this.#ledger.sent(this.#address, this.#infoHash, bytes, true);
    this.#lastSentAt = this.#now();
  }
}
