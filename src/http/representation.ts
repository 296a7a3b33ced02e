// What a URL selects: a window of an object's concatenated bytes, with its validators. Worked out once per
// object and file, and kept for as long as the object's metainfo lives (it is immutable).
import type { Metainfo } from '../metainfo/types.ts';
import type { CatalogObject } from '../store/types.ts';
import type { Validators } from './conditional.ts';

export interface Representation extends Validators {
  /** Offset of the representation's first byte in the object's concatenated data. */
  offset: number;
  length: number;
  /** IMF-fixdate of lastModifiedSeconds. */
  lastModified: string;
  /** The file's index in the torrent, or -1 for a piece. */
  fileIndex: number;
}

interface ObjectRepresentations {
  /** Keyed by name and path joined with '/' (components never hold '/'). */
  files: Map<string, Representation>;
  pieces: (Representation | undefined)[];
  lastModifiedSeconds: number;
}

const byMetainfo = new WeakMap<Metainfo, ObjectRepresentations>();

/**
 * The representation of a file of `object` named by URL segments, or undefined (404). No segments: the
 * object's own URL, which names the file of a single-file object, and the one file of a multi-file object
 * holding one (WebTorrent asks a one-file torrent's url-list as it is, against BEP 19); nothing in a
 * multi-file object of several files.
 */
export function fileRepresentation(
  object: CatalogObject,
  metainfo: Metainfo,
  segments: string[],
): Representation | undefined {
  const files = representationsOf(object, metainfo).files;
  if (segments.length === 0) return files.get(metainfo.name);
  return files.get(segments.length === 1 ? segments[0]! : segments.join('/'));
}

/** The representation of piece `pieceIndex`, or undefined if there is no such piece. */
export function pieceRepresentation(
  object: CatalogObject,
  metainfo: Metainfo,
  pieceIndex: number,
): Representation | undefined {
  if (pieceIndex >= metainfo.pieceCount) return undefined;
  const representations = representationsOf(object, metainfo);
  let piece = representations.pieces[pieceIndex];
  if (piece === undefined) {
    const offset = pieceIndex * metainfo.pieceLength;
    const hash = metainfo.pieceHashes.subarray(pieceIndex * 20, pieceIndex * 20 + 20).toString('hex');
    piece = {
      offset,
      length: Math.min(metainfo.pieceLength, metainfo.length - offset),
      // The piece's own SHA-1: a content address, the strongest validator there is.
      etag: `"${hash}"`,
      lastModifiedSeconds: representations.lastModifiedSeconds,
      lastModified: httpDate(representations.lastModifiedSeconds),
      fileIndex: -1,
    };
    representations.pieces[pieceIndex] = piece;
  }
  return piece;
}

function representationsOf(object: CatalogObject, metainfo: Metainfo): ObjectRepresentations {
  let representations = byMetainfo.get(metainfo);
  if (representations === undefined) {
    representations = build(object, metainfo);
    byMetainfo.set(metainfo, representations);
  }
  return representations;
}

function build(object: CatalogObject, metainfo: Metainfo): ObjectRepresentations {
  const lastModifiedSeconds = lastModifiedOf(object, metainfo);
  const lastModified = httpDate(lastModifiedSeconds);
  const files = new Map<string, Representation>();
  metainfo.files.forEach((file, fileIndex) => {
    const key = metainfo.multiFile ? [metainfo.name, ...file.path].join('/') : metainfo.name;
    files.set(key, {
      offset: file.offset,
      length: file.length,
      // Info hash (and file index): identical on every edge that holds the object, never reused.
      etag: metainfo.multiFile ? `"${metainfo.infoHash}-${fileIndex}"` : `"${metainfo.infoHash}"`,
      lastModifiedSeconds,
      lastModified,
      fileIndex,
    });
  });
  // libtorrent treats a multi-file torrent holding one file as single-file and asks for <name> alone.
  const only = metainfo.files[0];
  if (metainfo.multiFile && metainfo.files.length === 1 && only !== undefined && !files.has(metainfo.name)) {
    files.set(metainfo.name, files.get([metainfo.name, ...only.path].join('/'))!);
  }
  return { files, pieces: [], lastModifiedSeconds };
}

/**
 * The torrent's creation date when it has a plausible one (the same on every edge, so caches and
 * If-Range agree across edges), else when the object entered this store. Never in the future.
 */
function lastModifiedOf(object: CatalogObject, metainfo: Metainfo): number {
  const now = Math.floor(Date.now() / 1000);
  const created = metainfo.creationDate;
  if (created !== undefined && Number.isInteger(created) && created > 0 && created <= now) return created;
  return Math.min(now, Math.floor(object.addedAt / 1000));
}

function httpDate(seconds: number): string {
  return new Date(seconds * 1000).toUTCString();
}
