// The URLs under which this agent serves an object, for `edgepeer show` and for announces.
import type { StoredObject } from '../store/types.ts';

export interface ObjectUrls {
  /**
   * The BEP 19 web seed URL (ends in '/'): clients append the name for a single-file torrent, and
   * name/path for each file of a multi-file one (libtorrent and aria2c both do).
   */
  webSeed: string;
  /** Each file's URL, in the torrent's order (a single-file torrent has one). */
  files: string[];
  /** The URL of piece N is this with `{index}` replaced by N (0-based). */
  pieceUrlTemplate: string;
}

/** The object and piece URLs of `object` under `baseUrl` (e.g. `http://edge.example:8080`). */
export function objectUrls(baseUrl: string, object: Pick<StoredObject, 'infoHash' | 'metainfo'>): ObjectUrls {
  const base = baseUrl.replace(/\/+$/, '');
  const infoHash = object.infoHash.toLowerCase();
  const webSeed = `${base}/objects/${infoHash}/`;
  const { metainfo } = object;
  const files = metainfo.files.map(
    (file) => webSeed + [metainfo.name, ...(metainfo.multiFile ? file.path : [])].map(encodeURIComponent).join('/'),
  );
  return { webSeed, files, pieceUrlTemplate: `${base}/pieces/${infoHash}/{index}` };
}

/** The URL of one piece. */
export function pieceUrl(baseUrl: string, infoHash: string, pieceIndex: number): string {
  return `${baseUrl.replace(/\/+$/, '')}/pieces/${infoHash.toLowerCase()}/${pieceIndex}`;
}

/** A web origin as CORS names one: http(s)://host[:port], nothing after it. */
export function isHttpOrigin(value: string): boolean {
  return /^https?:\/\/[^/\s?#]+$/.test(value);
}
