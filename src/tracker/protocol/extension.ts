// Names of the bitmap extension (docs/tracker.md): query parameters of an announce, keys of the tracker's
// answer, and the CDN URIs derived from a network peer's HTTP base URL. Shared by client and tracker.

export const EXTENSION_VERSION = 1;

/** Query parameters added to a standard announce. Plain trackers ignore them. */
export const ExtensionParam = {
  /** Extension version the peer speaks ("1"); marks the announcer as a network peer. */
  version: 'ep',
  /** Number of pieces of the object (the bitmap's length in bits). */
  pieces: 'ep_pieces',
  /** Total length of the object in bytes (lets the tracker turn a plain peer's `left` into progress). */
  size: 'ep_size',
  /** The bitmap, in the form of protocol/bitmap.ts. */
  bitmap: 'ep_bm',
  /** The peer's HTTP base URL; repeatable (up to MAX_CDN_URLS). */
  url: 'ep_url',
} as const;

export const MAX_CDN_URLS = 4;
export const MAX_CDN_URL_LENGTH = 512;

/** The announce response key holding what the tracker offers (only to announces that carry `ep`). */
export const EXTENSION_RESPONSE_KEY = 'ep';

/** What a tracker advertises in its `ep` dictionary. */
export interface ExtensionOffer {
  version: number;
  /** Path (relative to the announce URL) of the multi-object announce, if offered. */
  batchPath?: string;
  /** Most entries one batch may carry. */
  maxBatch?: number;
  /** Largest bitmap, in pieces, the tracker keeps. */
  maxPieces?: number;
  /** Path of the swarm statistics (JSON). */
  statsPath?: string;
}

/** The BEP 19 web seed URL for an object at a network peer (libtorrent and aria2 append name[/path]). */
export function objectUrl(baseUrl: string, infoHash: string): string {
  return `${trimSlashes(baseUrl)}/objects/${infoHash}/`;
}

/** The URL pattern of single pieces at a network peer; `{index}` stands for the piece index. */
export function pieceUrlPattern(baseUrl: string, infoHash: string): string {
  return `${trimSlashes(baseUrl)}/pieces/${infoHash}/{index}`;
}

function trimSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}

/** A usable CDN base URL (http or https, no query or fragment, bounded), or undefined. */
export function checkCdnUrl(text: string): string | undefined {
  if (text.length === 0 || text.length > MAX_CDN_URL_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') return undefined;
  return trimSlashes(url.href);
}
