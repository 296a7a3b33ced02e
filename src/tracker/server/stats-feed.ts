// Who follows which swarm's statistics (Server-Sent Events streams and long polls), and telling them when a
// swarm's version changes. Bounded: past maxFollowers, new followers are refused.

export type VersionListener = (version: number) => void;

export class StatsFeed {
  readonly #listeners = new Map<string, Set<VersionListener>>();
  readonly #maxFollowers: number;
  #followers = 0;

  constructor(maxFollowers: number) {
    this.#maxFollowers = maxFollowers;
  }

  get followers(): number {
    return this.#followers;
  }

  /** Registers a listener for one swarm; undefined when the feed is full. Returns the unsubscribe function. */
  follow(infoHash: string, listener: VersionListener): (() => void) | undefined {
    if (this.#followers >= this.#maxFollowers) return undefined;
    let listeners = this.#listeners.get(infoHash);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(infoHash, listeners);
    }
    listeners.add(listener);
    this.#followers++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.#followers--;
      listeners.delete(listener);
      if (listeners.size === 0) this.#listeners.delete(infoHash);
    };
  }

  publish(infoHash: string, version: number): void {
    const listeners = this.#listeners.get(infoHash);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) listener(version);
  }
}
