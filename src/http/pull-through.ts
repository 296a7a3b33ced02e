// Pull-through: a piece this agent lacks is fetched from the object's origin with range requests,
// verified against its hash, stored, and only then served (the agent's 'pull-through' policy). Nothing
// unverified ever leaves this module.
import { createHash } from 'node:crypto';
import { Agent, type Dispatcher, request } from 'undici';
import { HashMismatchError, OriginError } from '../errors/index.ts';
import { originFailure } from '../ingest/index.ts';
import { type Logger, silentLogger, WarningThrottle } from '../log/index.ts';
import type { Metainfo } from '../metainfo/types.ts';
import type { CatalogObject } from '../store/types.ts';
import type { PieceFetcher } from './missing-pieces.ts';
import type { OriginLimits, PieceVerifier, PieceWriter } from './types.ts';

const USER_AGENT = 'edgepeer (CDN pull-through)';

export interface PullThroughOptions extends OriginLimits {
  verify: PieceVerifier;
  writePiece: PieceWriter;
  logger?: Logger;
}

export class PullThrough implements PieceFetcher {
  private readonly dispatcher: Agent;
  private readonly inflight = new Set<Promise<Buffer>>();
  private readonly abort = new AbortController();
  private readonly options: PullThroughOptions;
  /** Each client request for a missing piece can fail once more while the origin is down. */
  private readonly failures: WarningThrottle;

  constructor(options: PullThroughOptions) {
    this.options = options;
    this.failures = new WarningThrottle(options.logger ?? silentLogger);
    this.dispatcher = new Agent({
      connections: options.connections,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: options.timeoutMs,
    });
  }

  cannotFetch(object: CatalogObject, metainfo: Metainfo): string | null {
    return originFileUrl(object, metainfo, 0) === null ? 'the object has no http(s) origin' : null;
  }

  /** The verified bytes of a piece, fetched from the origin and stored. */
  fetchPiece(object: CatalogObject, metainfo: Metainfo, pieceIndex: number): Promise<Buffer> {
    const pending = this.pull(object, metainfo, pieceIndex).finally(() => this.inflight.delete(pending));
    this.inflight.add(pending);
    return pending;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.inflight]);
    await this.dispatcher.close();
  }

  private async pull(object: CatalogObject, metainfo: Metainfo, pieceIndex: number): Promise<Buffer> {
    try {
      const data = await this.download(object, metainfo, pieceIndex);
      const expected = metainfo.pieceHashes.subarray(pieceIndex * 20, pieceIndex * 20 + 20);
      if (!(await this.options.verify(data, expected))) {
        throw new HashMismatchError(`piece ${pieceIndex} of ${metainfo.infoHash} from the origin failed its SHA-1`, {
          subject: object.source ?? metainfo.infoHash,
          pieceIndex,
        });
      }
      try {
        await this.options.writePiece(metainfo.infoHash, pieceIndex, data);
      } catch (err) {
        // The bytes are verified, so they may still be served; the next request will pull again.
        (this.options.logger ?? silentLogger).warn(
          {
            infoHash: metainfo.infoHash,
            pieceIndex,
            error: err instanceof Error ? err.message : String(err),
          },
          'pull-through: storing a verified piece failed',
        );
      }
      return data;
    } catch (err) {
      this.failures.warn(
        'pull-through failed',
        {
          infoHash: metainfo.infoHash,
          pieceIndex,
          error: err instanceof Error ? err.message : String(err),
        },
        'pull-through failed',
      );
      throw err;
    }
  }

  /** The piece's bytes, one range request per file it spans. */
  private async download(object: CatalogObject, metainfo: Metainfo, pieceIndex: number): Promise<Buffer> {
    const start = pieceIndex * metainfo.pieceLength;
    const length = Math.min(metainfo.pieceLength, metainfo.length - start);
    const data = Buffer.allocUnsafe(length);
    let written = 0;
    for (const span of fileSpans(metainfo, start, length)) {
      const url = originFileUrl(object, metainfo, span.fileIndex);
      if (url === null)
        throw new OriginError('EDGEPEER_ORIGIN_UNREACHABLE', `${metainfo.infoHash} has no http(s) origin`);
      await this.fetchRange(url, span.fileOffset, span.length, data, written);
      written += span.length;
    }
    return data;
  }

  /** GETs bytes [offset, offset + length) of `url` into `target` at `at`. */
  private async fetchRange(url: string, offset: number, length: number, target: Buffer, at: number): Promise<void> {
    const last = offset + length - 1;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method: 'GET',
        headers: { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', range: `bytes=${offset}-${last}` },
        dispatcher: this.dispatcher,
        signal: this.abort.signal,
      });
    } catch (err) {
      throw originFailure(err, url);
    }
    const { body, statusCode, headers } = response;
    try {
      const contentRange = typeof headers['content-range'] === 'string' ? headers['content-range'] : '';
      const whole = statusCode === 200 && offset === 0 && Number(headers['content-length']) === length;
      if (statusCode === 200 && !whole) {
        throw new OriginError('EDGEPEER_ORIGIN_NO_RANGE', `${url}: origin ignored the Range header`, { subject: url });
      }
      if (statusCode !== 200 && statusCode !== 206) {
        throw new OriginError('EDGEPEER_ORIGIN_STATUS', `${url}: origin answered HTTP ${statusCode}`, {
          subject: url,
          status: statusCode,
        });
      }
      if (statusCode === 206 && !contentRange.startsWith(`bytes ${offset}-${last}/`)) {
        throw new OriginError(
          'EDGEPEER_ORIGIN_BAD_RANGE',
          `${url}: asked for bytes ${offset}-${last}, origin sent "${contentRange}"`,
          { subject: url },
        );
      }
      let received = 0;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (received + chunk.length > length) {
          throw new OriginError('EDGEPEER_ORIGIN_BAD_RANGE', `${url}: origin sent more than ${length} bytes`, {
            subject: url,
          });
        }
        chunk.copy(target, at + received);
        received += chunk.length;
      }
      if (received !== length) {
        throw new OriginError('EDGEPEER_ORIGIN_TRUNCATED', `${url}: origin sent ${received} of ${length} bytes`, {
          subject: url,
        });
      }
    } catch (err) {
      body.on('error', () => {}); // destroying an unread undici body emits an AbortError
      body.destroy();
      throw originFailure(err, url);
    }
  }
}

/** The origin URL of a file of `object`, or null when its source is not an http(s) URL. */
export function originFileUrl(
  object: Pick<CatalogObject, 'source'>,
  metainfo: Metainfo,
  fileIndex: number,
): string | null {
  const source = object.source;
  if (source === null || !/^https?:\/\//i.test(source)) return null;
  const file = metainfo.files[fileIndex];
  if (file === undefined) return null;
  // Like a BEP 19 web seed: a single-file source is the file itself unless it ends in '/'; a
  // multi-file source is the folder that holds <name>/<path...>.
  if (!metainfo.multiFile) return source.endsWith('/') ? source + encodeURIComponent(metainfo.name) : source;
  const base = source.endsWith('/') ? source : `${source}/`;
  return base + [metainfo.name, ...file.path].map(encodeURIComponent).join('/');
}

/** Where bytes [start, start + length) of the concatenated data lie, file by file (skipping empty files). */
export function fileSpans(
  metainfo: Metainfo,
  start: number,
  length: number,
): { fileIndex: number; fileOffset: number; length: number }[] {
  const spans: { fileIndex: number; fileOffset: number; length: number }[] = [];
  const end = start + length;
  metainfo.files.forEach((file, fileIndex) => {
    const from = Math.max(start, file.offset);
    const to = Math.min(end, file.offset + file.length);
    if (to > from) spans.push({ fileIndex, fileOffset: from - file.offset, length: to - from });
  });
  return spans;
}

/** The default verifier: SHA-1 on the calling thread (about 1.9 GB/s with SHA-NI). */
export function sha1Verifier(data: Uint8Array, expectedSha1: Uint8Array): boolean {
  return createHash('sha1').update(data).digest().equals(expectedSha1);
}
