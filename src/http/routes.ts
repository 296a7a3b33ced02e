// The URL space of the agent's HTTP server:
//   /objects/<infohash>/<name>              single-file object (a BEP 19 web seed appends the name)
//   /objects/<infohash>/<name>/<path...>    one file of a multi-file object
//   /pieces/<infohash>/<index>              one piece (the CDN URI of a content piece, TR 23.844)
// Paths are never used to reach the filesystem: they name a file of the torrent, and its bytes come
// from verified pieces. Traversal-looking segments are still refused with 400, as a clear answer.

export type Route =
  | { kind: 'object'; infoHash: string; segments: string[] }
  | { kind: 'piece'; infoHash: string; pieceIndex: number }
  /** Malformed: 400 with the reason. */
  | { kind: 'bad'; reason: string }
  /** Well-formed but outside the URL space: 404. */
  | { kind: 'unknown' };

const INFO_HASH = /^[0-9a-fA-F]{40}$/;
const PIECE_INDEX = /^(0|[1-9]\d{0,9})$/;
const UNKNOWN: Route = { kind: 'unknown' };

const recentRoutes = new Map<string, Route>();
const RECENT_ROUTES_MAX = 4096;
// The last target and its route: a comparison instead of hashing the target for the Map.
let lastTarget = '';
let lastRoute: Route = UNKNOWN;

/**
 * parseRoute, remembered for recently seen targets: clients ask for the same few URLs over and over (a web
 * seed's file URL with a different Range each time). Routes are plain data and never change.
 */
export function routeOf(target: string): Route {
  if (target === lastTarget) return lastRoute;
  let route = recentRoutes.get(target);
  if (route === undefined) {
    route = parseRoute(target);
    if (recentRoutes.size >= RECENT_ROUTES_MAX) recentRoutes.clear();
    recentRoutes.set(target, route);
  }
  lastTarget = target;
  lastRoute = route;
  return route;
}

/** Parses a request target (origin-form, or absolute-form as proxies send it). */
export function parseRoute(target: string | undefined): Route {
  if (target === undefined || target.length === 0) return bad('empty request target');
  let path = target;
  if (path.charCodeAt(0) !== 47 /* / */) {
    const absolute = /^https?:\/\/[^/?#]*/i.exec(path);
    if (absolute === null) return bad('request target is neither a path nor an http(s) URL');
    path = path.slice(absolute[0].length) || '/';
  }
  const query = path.indexOf('?');
  if (query >= 0) path = path.slice(0, query);
  if (path.indexOf('#') >= 0) return bad('request target holds a fragment');

  const parts = path.split('/');
  // parts[0] is the empty string before the leading slash
  const area = parts[1];
  if (area === 'objects') return objectRoute(parts);
  if (area === 'pieces') return pieceRoute(parts);
  return UNKNOWN;
}

function objectRoute(parts: string[]): Route {
  const infoHash = parts[2];
  if (infoHash === undefined || !INFO_HASH.test(infoHash)) return bad('expected /objects/<40 hex info hash>/<name>');
  const segments: string[] = [];
  // The object's own URL (`/objects/<ih>` or `/objects/<ih>/`, the BEP 19 url-list as advertised): for a
  // single-file object, its file. WebTorrent fetches it as is instead of appending the file name.
  if (parts.length === 3 || (parts.length === 4 && parts[3] === '')) {
    return { kind: 'object', infoHash: infoHash.toLowerCase(), segments };
  }
  for (let i = 3; i < parts.length; i += 1) {
    const raw = parts[i]!;
    // A trailing slash (the web seed base itself, or a directory) names no file.
    if (raw === '' && i === parts.length - 1) return UNKNOWN;
    const segment = decodeSegment(raw);
    if (typeof segment !== 'string') return segment;
    segments.push(segment);
  }
  if (segments.length === 0) return UNKNOWN;
  return { kind: 'object', infoHash: infoHash.toLowerCase(), segments };
}

function pieceRoute(parts: string[]): Route {
  const infoHash = parts[2];
  const index = parts[3];
  if (infoHash === undefined || !INFO_HASH.test(infoHash) || index === undefined || parts.length !== 4) {
    return bad('expected /pieces/<40 hex info hash>/<piece index>');
  }
  if (!PIECE_INDEX.test(index)) return bad(`piece index "${truncate(index)}" is not a decimal number`);
  return { kind: 'piece', infoHash: infoHash.toLowerCase(), pieceIndex: Number(index) };
}

/** A path segment, percent-decoded and checked; a 400 route if it is unusable. */
function decodeSegment(raw: string): string | Route {
  let segment = raw;
  if (raw.indexOf('%') >= 0) {
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return bad(`bad percent-encoding in "${truncate(raw)}"`);
    }
  }
  if (segment === '') return bad('empty path segment');
  if (segment === '.' || segment === '..') return bad('"." and ".." are not allowed in paths');
  if (/[/\\\0]/.test(segment)) return bad('a path segment holds "/", "\\" or NUL');
  return segment;
}

function bad(reason: string): Route {
  return { kind: 'bad', reason };
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
