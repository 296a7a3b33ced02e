// One read per piece however many callers ask for it at once: the loads in flight of a caching layer (the
// one-thread cache and the serving threads' slab), shared by every caller until they settle. A caller
// whose signal aborts gets the signal's reason; the load goes on (and is cached) for the others.

export class InflightLoads<Key> {
  readonly #loads = new Map<Key, Promise<Buffer>>();

  /** The load of `key` already in flight, as `signal`'s caller sees it, or undefined. */
  join(key: Key, signal: AbortSignal | undefined): Promise<Buffer> | undefined {
    const shared = this.#loads.get(key);
    if (shared === undefined) return undefined;
    return signal === undefined ? shared : abortable(shared, signal);
  }

  /** Starts `load()` for `key`, shared with callers that join until it settles. */
  start(key: Key, load: () => Promise<Buffer>, signal: AbortSignal | undefined): Promise<Buffer> {
    const loading = load().finally(() => {
      if (this.#loads.get(key) === loading) this.#loads.delete(key);
    });
    this.#loads.set(key, loading);
    return signal === undefined ? loading : abortable(loading, signal);
  }

  /** Later callers of `key` start a load of their own (the one in flight read bytes that are stale now). */
  forget(key: Key): void {
    this.#loads.delete(key);
  }

  /** forget() for every key `stale` says is. */
  forgetWhere(stale: (key: Key) => boolean): void {
    for (const key of [...this.#loads.keys()]) if (stale(key)) this.#loads.delete(key);
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
