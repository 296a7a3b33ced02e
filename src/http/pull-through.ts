// Pull-through: a piece this agent lacks is fetched from the object's origin with range requests (the
// ingest's origin client and URL rule), verified against its hash, stored, and only then served (the
// agent's 'pull-through' policy). Nothing unverified ever leaves this module.
import { createHash } from 'node:crypto';
import { HashMismatchError, OriginError } from '../errors/index.ts';
import { OriginClient, originFailure, originFileUrl } from '../ingest/index.ts';
import { type Logger, silentLogger, WarningThrottle } from '../log/index.ts';
import { byteRangeSpans, type Metainfo } from '../metainfo/index.ts';
import type { CatalogObject } from '../store/types.ts';
import type { PieceFetcher } from './missing-pieces.ts';
import type { OriginLimits, PieceVerifier, PieceWriter } from './types.ts';

export interface PullThroughOptions extends OriginLimits {
  verify: PieceVerifier;
  writePiece: PieceWriter;
  logger?: Logger;
}

export class PullThrough implements PieceFetcher {
  private readonly origin: OriginClient;
  private readonly inflight = new Set<Promise<Buffer>>();
  private readonly abort = new AbortController();
  private readonly options: PullThroughOptions;
  /** Each client request for a missing piece can fail once more while the origin is down. */
  private readonly failures: WarningThrottle;

  constructor(options: PullThroughOptions) {
    this.options = options;
    this.failures = new WarningThrottle(options.logger ?? silentLogger);
    this.origin = new OriginClient({
      timeoutMs: options.timeoutMs,
      connections: options.connections,
      userAgent: 'edgepeer (CDN pull-through)',
    });
  }

  cannotFetch(object: CatalogObject, metainfo: Metainfo): string | null {
    return originFileUrl(object.source, metainfo, 0) === null ? 'the object has no http(s) origin' : null;
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
    await this.origin.close();
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
    for (const span of byteRangeSpans(metainfo, start, length)) {
      const url = originFileUrl(object.source, metainfo, span.fileIndex);
      if (url === null)
        throw new OriginError('EDGEPEER_ORIGIN_UNREACHABLE', `${metainfo.infoHash} has no http(s) origin`);
      await this.fetchRange(url, span.fileOffset, span.length, data, written);
      written += span.length;
    }
    return data;
  }

  /** GETs bytes [offset, offset + length) of `url` into `target` at `at`. */
  private async fetchRange(url: string, offset: number, length: number, target: Buffer, at: number): Promise<void> {
    const { body } = await this.origin.getRange(url, offset, offset + length - 1, this.abort.signal);
    try {
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

/** The default verifier: SHA-1 on the calling thread (about 1.9 GB/s with SHA-NI). */
export function sha1Verifier(data: Uint8Array, expectedSha1: Uint8Array): boolean {
  return createHash('sha1').update(data).digest().equals(expectedSha1);
}
