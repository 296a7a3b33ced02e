// Objects for fast HTTP tests: src/store's memory store, filled with given bytes, read through the real
// piece cache (which verifies every piece it hands out and drops a corrupt one).
import { createHash } from 'node:crypto';
import { buildMetainfo, type Metainfo } from '../../src/metainfo/index.ts';
import { createPieceCache, MemoryStore, type PieceCache, type VerifyPolicy } from '../../src/store/index.ts';

export { MemoryStore };

/** SHA-1 on the calling thread, as the hash pool would. */
export async function sha1Matches(data: Uint8Array, expected: Uint8Array): Promise<boolean> {
  return createHash('sha1').update(data).digest().equals(expected);
}

/** The real piece cache over `store`, 64 MiB unless told. */
export function pieceCacheOf(store: MemoryStore, options: { maxBytes?: number; verifyPolicy?: VerifyPolicy } = {}) {
  return createPieceCache(store, {
    maxBytes: options.maxBytes ?? 64 * 1024 * 1024,
    verify: sha1Matches,
    ...(options.verifyPolicy ? { verifyPolicy: options.verifyPolicy } : {}),
  }) satisfies PieceCache;
}

/**
 * Adds `metainfo`'s object whose content is `data`, holding the pieces in `held` (default: all). With
 * `corruptAt`, the piece holding that byte offset is held with the byte flipped: bytes on a store that no
 * longer match their hash, as bit rot leaves them.
 */
export async function holdObject(
  store: MemoryStore,
  metainfo: Metainfo,
  data: Buffer,
  options: { held?: number[]; source?: string; corruptAt?: number } = {},
) {
  const object = await store.addObject(metainfo, options.source === undefined ? {} : { source: options.source });
  const corruptPiece = options.corruptAt === undefined ? -1 : Math.floor(options.corruptAt / metainfo.pieceLength);
  for (const index of options.held ?? [...Array(metainfo.pieceCount).keys()]) {
    const start = index * metainfo.pieceLength;
    const piece = Buffer.from(data.subarray(start, Math.min(metainfo.length, start + metainfo.pieceLength)));
    if (index === corruptPiece) piece[options.corruptAt! - start]! ^= 0xff;
    await store.writePiece(metainfo.infoHash, index, piece);
  }
  return object;
}

/** Piece indexes written to `store` from now on (pull-through's stores), in order. */
export function watchWrites(store: MemoryStore): number[] {
  const written: number[] = [];
  store.on('pieces-added', (_infoHash, indexes) => written.push(...indexes));
  return written;
}

/** Deterministic pseudo-random bytes (so failures reproduce). */
export function testBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Metainfo for `files` (one entry with path [] for a single-file torrent) holding `data` concatenated. */
export function metainfoFor(
  name: string,
  pieceLength: number,
  files: { path: string[]; length: number }[],
  data: Buffer,
  extra: { creationDate?: number } = {},
): Metainfo {
  const hashes: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += pieceLength) {
    hashes.push(
      createHash('sha1')
        .update(data.subarray(offset, offset + pieceLength))
        .digest(),
    );
  }
  const multiFile = !(files.length === 1 && files[0]!.path.length === 0);
  return buildMetainfo({ name, pieceLength, multiFile, files, pieceHashes: Buffer.concat(hashes), ...extra });
}
