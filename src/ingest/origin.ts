import { basename } from 'node:path';
import { Agent, type Dispatcher, interceptors, request, errors as undiciErrors } from 'undici';
import { isEdgepeerError, OriginError } from '../errors/index.ts';
import type { Metainfo } from '../metainfo/index.ts';

export interface OriginOptions {
  /** Time allowed for response headers, and between two body chunks. */
  timeoutMs: number;
  /** Parallel connections per origin host. */
  connections: number;
  /** Default 'edgepeer (CDN ingest)': origins can tell ingest from pull-through in their logs. */
  userAgent?: string;
}

export interface OriginProbe {
  /** The URL after redirects. */
  url: string;
  /** Total length, if the origin told it. */
  length: number | null;
  acceptsRanges: boolean;
  /** A file name for the object: Content-Disposition, else the URL's last path segment. */
  name: string;
}

const USER_AGENT = 'edgepeer (CDN ingest)';

/** HTTP(S) origin client: probes, ranged and whole GETs, with timeouts and redirects, errors named by URL. */
export class OriginClient {
  private readonly dispatcher: Dispatcher;
  /** Headers and body timeout of this view's requests, where it differs from the dispatcher's. */
  private readonly requestTimeoutMs: number | undefined;
  private readonly userAgent: string;

  /** Own connections per OriginOptions, or (withTimeout) another client's with a timeout of its own. */
  constructor(options: OriginOptions | { shared: Dispatcher; requestTimeoutMs: number; userAgent: string }) {
    this.userAgent = options.userAgent ?? USER_AGENT;
    if ('shared' in options) {
      this.dispatcher = options.shared;
      this.requestTimeoutMs = options.requestTimeoutMs;
      return;
    }
    this.dispatcher = new Agent({
      connections: options.connections,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: options.timeoutMs,
    }).compose(interceptors.redirect({ maxRedirections: 5 }));
    this.requestTimeoutMs = undefined;
  }

  /**
   * The same connections with another timeout for headers and between body chunks: one ingest's
   * `--timeout`, on the agent's shared client. Close the client, not the view.
   */
  withTimeout(timeoutMs: number): OriginClient {
    return new OriginClient({ shared: this.dispatcher, requestTimeoutMs: timeoutMs, userAgent: this.userAgent });
  }

  /** One GET of the first byte tells length, Range support and name in a single round trip. */
  async probe(url: string, signal?: AbortSignal): Promise<OriginProbe> {
    const response = await this.get(url, { range: 'bytes=0-0' }, signal);
    const finalUrl = url;
    try {
      if (response.statusCode === 206) {
        const total = /\/(\d+)\s*$/.exec(header(response, 'content-range') ?? '')?.[1];
        return {
          url: finalUrl,
          length: total === undefined ? null : Number(total),
          acceptsRanges: total !== undefined,
          name: objectName(response, finalUrl),
        };
      }
      if (response.statusCode === 416) {
        // Range not satisfiable for bytes=0-0 means an empty object.
        return { url: finalUrl, length: 0, acceptsRanges: true, name: objectName(response, finalUrl) };
      }
      expectStatus(response, 200, url);
      const length = header(response, 'content-length');
      return {
        url: finalUrl,
        length: length === undefined ? null : Number(length),
        acceptsRanges: false,
        name: objectName(response, finalUrl),
      };
    } finally {
      discard(response);
    }
  }

  /** GET of bytes [start, end] inclusive. OriginError EDGEPEER_ORIGIN_NO_RANGE if the origin ignores Range. */
  async getRange(url: string, start: number, end: number, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    const response = await this.get(url, { range: `bytes=${start}-${end}` }, signal);
    if (response.statusCode === 200) {
      discard(response);
      throw new OriginError(
        'EDGEPEER_ORIGIN_NO_RANGE',
        `${url}: origin ignored the Range header (answered 200, not 206)`,
        {
          subject: url,
        },
      );
    }
    expectStatus(response, 206, url);
    const contentRange = header(response, 'content-range') ?? '';
    const match = /^bytes (\d+)-(\d+)\//.exec(contentRange);
    if (!match || Number(match[1]) !== start || Number(match[2]) !== end) {
      discard(response);
      throw new OriginError(
        'EDGEPEER_ORIGIN_BAD_RANGE',
        `${url}: asked for bytes ${start}-${end}, origin sent Content-Range "${contentRange}"`,
        { subject: url },
      );
    }
    return response;
  }

  /** GET of the whole object. */
  async getAll(url: string, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    const response = await this.get(url, {}, signal);
    expectStatus(response, 200, url);
    return response;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async get(url: string, headers: Record<string, string>, signal?: AbortSignal) {
    try {
      return await request(url, {
        method: 'GET',
        headers: { 'user-agent': this.userAgent, 'accept-encoding': 'identity', ...headers },
        dispatcher: this.dispatcher,
        signal,
        ...(this.requestTimeoutMs === undefined
          ? {}
          : { headersTimeout: this.requestTimeoutMs, bodyTimeout: this.requestTimeoutMs }),
      });
    } catch (err) {
      throw originFailure(err, url);
    }
  }
}

/** Drops a response body we do not want, quietly (undici emits an abort error on destroy). */
function discard(response: Dispatcher.ResponseData): void {
  response.body.dump({ limit: 64 * 1024 }).catch(() => {});
}

function header(response: Dispatcher.ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function expectStatus(response: Dispatcher.ResponseData, expected: number, url: string): void {
  if (response.statusCode === expected) return;
  discard(response);
  throw new OriginError('EDGEPEER_ORIGIN_STATUS', `${url}: origin answered HTTP ${response.statusCode}`, {
    subject: url,
    status: response.statusCode,
  });
}

function objectName(response: Dispatcher.ResponseData, url: string): string {
  const disposition = header(response, 'content-disposition') ?? '';
  const fromHeader =
    /filename\*=UTF-8''([^;]+)/i.exec(disposition)?.[1] ?? /filename="?([^";]+)"?/i.exec(disposition)?.[1];
  const fromUrl = new URL(url).pathname.split('/').filter(Boolean).pop();
  const raw = fromHeader ?? fromUrl ?? new URL(url).hostname;
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // keep the raw segment
  }
  return safeName(decoded) || 'index';
}

/** A torrent name must be a single safe path component. */
export function safeName(name: string): string {
  const cleaned = basename(name.replace(/[\\/\0]/g, '_')).trim();
  return cleaned === '.' || cleaned === '..' ? '' : cleaned;
}

/** Maps undici and socket failures to OriginError with a stable code, naming the URL; edgepeer's own errors pass. */
export function originFailure(err: unknown, url: string): Error {
  if (isEdgepeerError(err)) return err as Error;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const code = (err as { code?: string }).code ?? '';
  const reason = err instanceof Error ? err.message : String(err);
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new OriginError('EDGEPEER_ORIGIN_TIMEOUT', `${url}: origin timed out (${reason})`, {
      subject: url,
      cause: err,
    });
  }
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_SOCKET') {
    return new OriginError('EDGEPEER_ORIGIN_TRUNCATED', `${url}: origin closed the connection early (${reason})`, {
      subject: url,
      cause: err,
    });
  }
  return new OriginError('EDGEPEER_ORIGIN_UNREACHABLE', `${url}: ${reason}`, { subject: url, cause: err });
}

/**
 * The URL of file `fileIndex` of an object whose origin is `source`, as BEP 19 reads a web seed: a
 * single-file object's source is the file itself (or the folder holding <name>, when it ends in '/'); a
 * multi-file object's source is the folder holding <name>/<path...>. Ingest, pull-through and redirects
 * all follow it. Null when `source` is not an http(s) URL or there is no such file.
 */
export function originFileUrl(source: string | null, metainfo: Metainfo, fileIndex: number): string | null {
  if (source === null || !/^https?:\/\//i.test(source)) return null;
  const file = metainfo.files[fileIndex];
  if (file === undefined) return null;
  if (!metainfo.multiFile) return source.endsWith('/') ? source + encodeURIComponent(metainfo.name) : source;
  const base = source.endsWith('/') ? source : `${source}/`;
  return base + [metainfo.name, ...file.path].map(encodeURIComponent).join('/');
}
