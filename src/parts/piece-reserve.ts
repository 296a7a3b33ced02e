// Pieces storage control set aside (storageControl.setAside, docs/policy.md): a piece purged for being
// plentiful leaves the store (peers, HTTP clients and trackers no longer see it), but its verified bytes
// stay in a file of their own, so that putting it back when the swarm needs it again costs no origin
// bytes. Bytes are checked against the object's piece hash both when set aside and when put back: a file
// damaged in between is discarded, never served. What is set aside lives only as long as the process (the
// folder is emptied at start, as the function's other memory is forgotten on restart).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metainfo } from '../metainfo/index.ts';

export interface PieceReserve {
  /** Pieces of the object set aside here. */
  held(infoHash: string): ReadonlySet<number>;
  /** Copies held, verified pieces aside (call before purging them); resolves with those set aside. */
  setAside(infoHash: string, pieces: number[]): Promise<number[]>;
  /** Puts pieces back into the store (verified); resolves with those put back. The rest are discarded. */
  restore(infoHash: string, pieces: number[]): Promise<number[]>;
  drop(infoHash: string, pieces: number[]): Promise<void>;
  /** Empties the folder (at start). */
  clear(): Promise<void>;
}

export interface PieceStore {
  metainfoOf(infoHash: string): Metainfo | undefined;
  readPiece(infoHash: string, pieceIndex: number): Promise<Buffer>;
  writePiece(infoHash: string, pieceIndex: number, data: Uint8Array): Promise<void>;
}

export class DiskPieceReserve implements PieceReserve {
  readonly #dir: string;
  readonly #store: PieceStore;
  readonly #held = new Map<string, Set<number>>();

  constructor(dir: string, store: PieceStore) {
    this.#dir = dir;
    this.#store = store;
  }

  held(infoHash: string): ReadonlySet<number> {
    return this.#held.get(infoHash) ?? new Set();
  }

  async clear(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
    this.#held.clear();
  }

  async setAside(infoHash: string, pieces: number[]): Promise<number[]> {
    const metainfo = this.#store.metainfoOf(infoHash);
    if (metainfo === undefined) return [];
    await mkdir(join(this.#dir, infoHash), { recursive: true });
    const done: number[] = [];
    for (const piece of pieces) {
      const bytes = await this.#store.readPiece(infoHash, piece);
      if (!matches(metainfo, piece, bytes)) continue;
      await writeFile(this.#file(infoHash, piece), bytes);
      this.#mark(infoHash, piece, true);
      done.push(piece);
    }
    return done;
  }

  async restore(infoHash: string, pieces: number[]): Promise<number[]> {
    const metainfo = this.#store.metainfoOf(infoHash);
    const done: number[] = [];
    for (const piece of pieces) {
      if (!this.held(infoHash).has(piece)) continue;
      const bytes = await readFile(this.#file(infoHash, piece)).catch(() => null);
      if (metainfo !== undefined && bytes !== null && matches(metainfo, piece, bytes)) {
        await this.#store.writePiece(infoHash, piece, bytes);
        done.push(piece);
      }
      await this.drop(infoHash, [piece]);
    }
    return done;
  }

  async drop(infoHash: string, pieces: number[]): Promise<void> {
    for (const piece of pieces) {
      this.#mark(infoHash, piece, false);
      await rm(this.#file(infoHash, piece), { force: true });
    }
  }

  #file(infoHash: string, piece: number): string {
    return join(this.#dir, infoHash, String(piece));
  }

  #mark(infoHash: string, piece: number, held: boolean): void {
    const set = this.#held.get(infoHash) ?? new Set<number>();
    if (held) set.add(piece);
    else set.delete(piece);
    if (set.size === 0) this.#held.delete(infoHash);
    else this.#held.set(infoHash, set);
  }
}

function matches(metainfo: Metainfo, piece: number, bytes: Buffer): boolean {
  const expected = metainfo.pieceHashes.subarray(piece * 20, piece * 20 + 20);
  return expected.length === 20 && createHash('sha1').update(bytes).digest().equals(expected);
}
