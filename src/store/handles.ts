// Open file handles of objects' data files, shared by reads and writes and kept open across calls (an open
// per piece would cost more than the read). A handle with pending writes is referenced by its commit batch
// until fdatasync has run on it, so the fd that wrote the bytes is the fd that syncs them and sees any
// writeback error. Least recently used idle handles are closed beyond `maxOpen`.
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

export interface PooledHandle {
  readonly key: string;
  readonly path: string;
  readonly handle: FileHandle;
  refs: number;
  /** Closed as soon as nobody references it (its object is gone). */
  doomed: boolean;
}

export class HandlePool {
  readonly #flags: number;
  readonly #maxOpen: number;
  /** Insertion order = least recently used first. */
  readonly #open = new Map<string, PooledHandle>();
  readonly #opening = new Map<string, Promise<PooledHandle>>();

  constructor(options: { writable: boolean; maxOpen: number }) {
    // O_NOFOLLOW: a symlink planted in an object's folder must not lead reads or writes elsewhere.
    this.#flags = (options.writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW;
    this.#maxOpen = options.maxOpen;
  }

  /**
   * A referenced handle on `path`. `key` names it (object incarnation + file, never reused for another
   * file) so that all handles of an object can be dropped by prefix.
   */
  async acquire(key: string, path: string): Promise<PooledHandle> {
    const existing = this.acquireOpen(key);
    if (existing !== undefined) return existing;
    let opening = this.#opening.get(key);
    if (opening === undefined) {
      opening = this.#openHandle(key, path);
      this.#opening.set(key, opening);
      opening.finally(() => this.#opening.delete(key)).catch(() => {});
    }
    const pooled = await opening;
    pooled.refs++;
    return pooled;
  }

  /**
   * The open handle named `key`, referenced, if it is open and not doomed; else undefined, opening
   * nothing (synchronous readers fall back to acquire, which opens it).
   */
  acquireOpen(key: string): PooledHandle | undefined {
    const existing = this.#open.get(key);
    if (existing === undefined || existing.doomed) return undefined;
    existing.refs++;
    this.#open.delete(key);
    this.#open.set(key, existing);
    return existing;
  }

  release(pooled: PooledHandle): void {
    pooled.refs--;
    if (pooled.refs === 0 && pooled.doomed) void this.#close(pooled);
    else this.#trim();
  }

  /** Closes the handles whose key starts with `prefix` (at once if idle, else when released). */
  drop(prefix: string): void {
    for (const pooled of [...this.#open.values()]) {
      if (!pooled.key.startsWith(prefix)) continue;
      pooled.doomed = true;
      this.#open.delete(pooled.key);
      if (pooled.refs === 0) void this.#close(pooled);
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(all.map((pooled) => this.#close(pooled)));
  }

  get size(): number {
    return this.#open.size;
  }

  async #openHandle(key: string, path: string): Promise<PooledHandle> {
    const handle = await open(path, this.#flags);
    const pooled: PooledHandle = { key, path, handle, refs: 0, doomed: false };
    this.#open.set(key, pooled);
    return pooled;
  }

  #trim(): void {
    if (this.#open.size <= this.#maxOpen) return;
    for (const pooled of this.#open.values()) {
      if (this.#open.size <= this.#maxOpen) break;
      if (pooled.refs > 0) continue;
      this.#open.delete(pooled.key);
      void this.#close(pooled);
    }
  }

  async #close(pooled: PooledHandle): Promise<void> {
    await pooled.handle.close().catch(() => {});
  }
}
