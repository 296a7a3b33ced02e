// The fields of the HTTP server's answers, rendered once where they can be: entity fields per
// representation, Content-Length lines per length, CORS fields per server.
import { InvalidArgumentError } from '../errors/index.ts';
import { renderFields } from './http1.ts';
import type { ByteRange } from './range.ts';
import type { Representation } from './representation.ts';
import { isHttpOrigin } from './urls.ts';

// Content addressed by info hash never changes: caches may keep it for a year without revalidating.
export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
export const CONTENT_TYPE = 'application/octet-stream';
export const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';

/**
 * CORS (Fetch standard): the fields every response carries, letting scripts read the range fields too, and
 * what a preflight adds. Range itself needs no preflight when it is one simple range; If-* fields do.
 */
export function corsFields(origin: string | undefined): { everyResponse: string[]; preflight: string } {
  if (origin === undefined) return { everyResponse: [], preflight: '' };
  if (origin !== '*' && !isHttpOrigin(origin)) {
    throw new InvalidArgumentError(
      `corsOrigin must be '*' or an origin such as https://player.example.net, got ${origin}`,
      {
        subject: 'corsOrigin',
      },
    );
  }
  return {
    everyResponse: [
      'Access-Control-Allow-Origin',
      origin,
      'Access-Control-Expose-Headers',
      'Accept-Ranges, Content-Range, ETag, Last-Modified',
    ],
    preflight: renderFields([
      'Access-Control-Allow-Methods',
      ALLOWED_METHODS,
      'Access-Control-Allow-Headers',
      'Range, If-Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since',
      'Access-Control-Max-Age',
      '86400',
    ]),
  };
}

const renderedEntityFields = new WeakMap<Representation, string>();

/** The fields of a 200/206 carrying (part of) `representation` besides its length: rendered once. */
export function entityFields(representation: Representation): string {
  let rendered = renderedEntityFields.get(representation);
  if (rendered === undefined) {
    rendered = renderFields([
      'Accept-Ranges',
      'bytes',
      'Cache-Control',
      CACHE_IMMUTABLE,
      'Content-Type',
      CONTENT_TYPE,
      'ETag',
      representation.etag,
      'Last-Modified',
      representation.lastModified,
    ]);
    renderedEntityFields.set(representation, rendered);
  }
  return rendered;
}

export const NO_FIELDS: string[] = [];

// Clients ask for the same few lengths (a block, a piece): their Content-Length lines are kept.
const contentLengthLines = new Map<number, string>();
function contentLengthLine(length: number): string {
  let line = contentLengthLines.get(length);
  if (line === undefined) {
    line = `Content-Length: ${length}\r\n`;
    if (contentLengthLines.size >= 256) contentLengthLines.clear();
    contentLengthLines.set(length, line);
  }
  return line;
}

/** Content-Length of one range of `representation` (whole, or partial with its Content-Range), rendered: numbers only. */
export function lengthFields(representation: Representation, range: ByteRange, partial: boolean): string {
  const length = contentLengthLine(range.last - range.first + 1);
  if (!partial) return length;
  return `${length}Content-Range: bytes ${range.first}-${range.last}/${representation.length}\r\n`;
}
