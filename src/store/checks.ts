// Argument checks and their errors, shared by the disk and memory stores so that both answer a bad call
// in the same words (test/store/store-contract.ts holds them to it).
import { resolve } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import type { Metainfo } from '../metainfo/index.ts';
import { contentFilePath, isInfoHash } from './layout.ts';
import type { AddObjectOptions, RemovalReason } from './types.ts';

const REMOVAL_REASONS: readonly RemovalReason[] = ['purge', 'expired', 'corrupt', 'policy'];

/** What the checks need to know of an object. */
interface Named {
  infoHash: string;
  name: string;
  pieceCount: number;
}

export function checkReason(reason: RemovalReason): void {
  if (!REMOVAL_REASONS.includes(reason)) {
    throw new InvalidArgumentError(
      `removal reason must be one of ${REMOVAL_REASONS.join(', ')}, got ${String(reason)}`,
    );
  }
}

/** The expiry time a TTL gives, from now; null without one. */
export function expiryOf(options: AddObjectOptions): number | null {
  if (options.ttlMs === undefined) return null;
  if (!Number.isFinite(options.ttlMs) || options.ttlMs < 0) {
    throw new InvalidArgumentError(`TTL must be a non-negative number of ms, got ${options.ttlMs}`);
  }
  return Date.now() + options.ttlMs;
}

/** What a store relies on; metainfo from parseTorrent/buildMetainfo passes, hand-made objects may not. */
export function checkMetainfo(metainfo: Metainfo): void {
  const problem = !isInfoHash(metainfo.infoHash)
    ? 'its info hash is not 40 lowercase hex characters'
    : !Number.isSafeInteger(metainfo.pieceLength) || metainfo.pieceLength <= 0 || metainfo.pieceLength > 0xffffffff
      ? `its piece length ${metainfo.pieceLength} is not a positive 32-bit integer`
      : metainfo.pieceHashes.length !== metainfo.pieceCount * 20
        ? `it has ${metainfo.pieceCount} pieces but ${metainfo.pieceHashes.length} bytes of piece hashes`
        : metainfo.pieceCount !== Math.ceil(metainfo.length / metainfo.pieceLength)
          ? `its ${metainfo.length} bytes do not make ${metainfo.pieceCount} pieces of ${metainfo.pieceLength}`
          : metainfo.files.length === 0
            ? 'it has no files'
            : undefined;
  if (problem !== undefined) {
    throw new InvalidArgumentError(`metainfo of ${JSON.stringify(metainfo.name)} cannot be stored: ${problem}`, {
      subject: metainfo.infoHash,
    });
  }
  // Paths that would leave the object's folder are refused here, whatever the store keeps them in.
  const anyFolder = resolve('/', 'check');
  for (let fileIndex = 0; fileIndex < metainfo.files.length; fileIndex++)
    contentFilePath(anyFolder, metainfo, fileIndex);
}

export function objectNotFound(infoHash: string): NotFoundError {
  return new NotFoundError(`no object with info hash ${JSON.stringify(infoHash)} in the store`, {
    subject: infoHash,
  });
}

export function checkPieceIndex(object: Named, pieceIndex: number): void {
  if (!Number.isInteger(pieceIndex) || pieceIndex < 0 || pieceIndex >= object.pieceCount) {
    throw new InvalidArgumentError(
      `piece ${pieceIndex} is out of range: ${object.name} has pieces 0 to ${object.pieceCount - 1}`,
      { subject: object.infoHash },
    );
  }
}

export function pieceNotHeld(object: Named, pieceIndex: number): NotFoundError {
  return new NotFoundError(`piece ${pieceIndex} of ${object.name} (${object.infoHash}) is not held`, {
    subject: object.infoHash,
    pieceIndex,
  });
}

export function notASpan(object: Named, pieceIndex: number, from: number, to: number, size: number) {
  return new InvalidArgumentError(
    `bytes [${from}, ${to}) are not a span of piece ${pieceIndex} of ${object.name}, which has ${size} bytes`,
    { subject: object.infoHash, pieceIndex },
  );
}

export function wrongPieceSize(object: Named, pieceIndex: number, size: number, got: number) {
  return new InvalidArgumentError(`piece ${pieceIndex} of ${object.name} is ${size} bytes, got ${got}`, {
    subject: object.infoHash,
    pieceIndex,
  });
}

export function bufferTooSmall(object: Named, buffer: Buffer, bytes: number) {
  return new InvalidArgumentError(`a buffer of ${buffer.length} bytes cannot take ${bytes}`, {
    subject: object.infoHash,
  });
}

/** By info hash (40 hex, any case) or exact name, as Store.find. */
export function findObject<T extends Named>(
  objects: Iterable<T>,
  byInfoHash: (infoHash: string) => T | undefined,
  id: string,
): T {
  if (/^[0-9a-fA-F]{40}$/.test(id)) {
    const object = byInfoHash(id.toLowerCase());
    if (object !== undefined) return object;
  }
  const named = [...objects].filter((object) => object.name === id);
  if (named.length === 1) return named[0]!;
  if (named.length === 0) {
    throw new NotFoundError(`no object in the store has info hash or name ${JSON.stringify(id)}`, { subject: id });
  }
  const candidates = named.map((object) => object.infoHash).sort();
  throw new InvalidArgumentError(
    `the name ${JSON.stringify(id)} is ambiguous: ${named.length} objects have it (${candidates.join(', ')}); give an info hash`,
    { subject: id, candidates },
  );
}
