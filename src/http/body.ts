// Sending a response's body: one range or several (multipart/byteranges), piece by piece, read ahead of
// the one being written, with back-pressure. The first piece is in hand before the headers go out; a
// failure after that cuts the connection: a client must never take missing or unverified bytes for the
// content.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/index.ts';
import type { Metainfo } from '../metainfo/index.ts';
import { QOS_CHUNK_BYTES } from '../qos/index.ts';
import type { CatalogObject } from '../store/types.ts';
import { CACHE_IMMUTABLE, CONTENT_TYPE, entityFields, lengthFields, NO_FIELDS } from './fields.ts';
import { ClosedError, type Http1Response } from './http1.ts';
import type { PieceReader } from './piece-reader.ts';
import type { ByteRange } from './range.ts';
import type { Representation } from './representation.ts';
import type { BodyFlow, HttpServerStats, ResponseSource } from './types.ts';

export interface BodyContext {
  reader: PieceReader;
  /** Pieces read ahead of the one being sent. */
  readAheadPieces: number;
  stats: HttpServerStats;
  logger: Logger;
  countStatus(status: number): void;
  countSent(object: CatalogObject, bytes: number): void;
  /** Told where each piece of a response comes from (accounting); absent: nobody asks. */
  noteSource?(res: Http1Response, source: ResponseSource): void;
}

/** A 200 or 206 with the bytes of `ranges` of `representation` (none: an empty 200). */
export async function sendBody(
  context: BodyContext,
  res: Http1Response,
  object: CatalogObject,
  metainfo: Metainfo,
  representation: Representation,
  ranges: ByteRange[],
  partial: boolean,
  flow: BodyFlow | null = null,
): Promise<void> {
  if (ranges.length === 0) {
    context.countStatus(200);
    res.writeHead(200, ['Content-Length', '0'], entityFields(representation));
    res.end();
    return;
  }
  const only = ranges.length === 1 ? ranges[0]! : undefined;
  if (only !== undefined) {
    const start = representation.offset + only.first;
    const end = representation.offset + only.last + 1;
    const head = {
      fields: NO_FIELDS,
      rendered: lengthFields(representation, only, partial) + entityFields(representation),
    };
    const parts = [{ prefix: null, start, end }];
    await streamParts(context, res, object, metainfo, partial ? 206 : 200, head, parts, null, flow);
    return;
  }
  const boundary = randomBytes(12).toString('hex');
  const parts = ranges.map((range, index) => ({
    prefix: Buffer.from(
      `${index === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${CONTENT_TYPE}\r\n` +
        `Content-Range: bytes ${range.first}-${range.last}/${representation.length}\r\n\r\n`,
      'latin1',
    ),
    start: representation.offset + range.first,
    end: representation.offset + range.last + 1,
  }));
  const trailer = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  let length = trailer.length;
  for (const part of parts) length += part.prefix.length + part.end - part.start;
  const fields = [
    'Accept-Ranges',
    'bytes',
    'Cache-Control',
    CACHE_IMMUTABLE,
    'Content-Length',
    String(length),
    'Content-Type',
    `multipart/byteranges; boundary=${boundary}`,
    'ETag',
    representation.etag,
    'Last-Modified',
    representation.lastModified,
  ];
  await streamParts(context, res, object, metainfo, 206, { fields, rendered: '' }, parts, trailer, flow);
}

/**
 * Streams byte spans of the object's data (torrent offsets [start, end)), each after an optional
 * literal prefix, then a trailer. Pieces are read `readAheadPieces` ahead of the one being written;
 * writes wait for 'drain'.
 */
async function streamParts(
  context: BodyContext,
  res: Http1Response,
  object: CatalogObject,
  metainfo: Metainfo,
  status: number,
  head: { fields: string[]; rendered: string },
  parts: { prefix: Buffer | null; start: number; end: number }[],
  trailer: Buffer | null,
  flow: BodyFlow | null,
): Promise<void> {
  const { reader, stats } = context;
  const pieceLength = object.pieceLength;
  const steps: { pieceIndex: number; from: number; to: number; prefix: Buffer | null }[] = [];
  for (const part of parts) {
    let prefix = part.prefix;
    for (let offset = part.start; offset < part.end; ) {
      const pieceIndex = Math.floor(offset / pieceLength);
      const pieceEnd = Math.min(part.end, (pieceIndex + 1) * pieceLength);
      steps.push({
        pieceIndex,
        from: offset - pieceIndex * pieceLength,
        to: pieceEnd - pieceIndex * pieceLength,
        prefix,
      });
      prefix = null;
      offset = pieceEnd;
    }
  }
  const pending: (Promise<Buffer> | undefined)[] = [];
  const readAhead = Math.max(1, context.readAheadPieces + 1);
  const request = (i: number) => {
    const step = steps[i];
    if (step === undefined || pending[i] !== undefined) return;
    context.noteSource?.(res, reader.sourceOf(object, step.pieceIndex));
    const promise =
      i === 0 ? reader.readFirst(object, metainfo, step.pieceIndex) : reader.read(object, metainfo, step.pieceIndex);
    promise.catch(() => {}); // observed when its turn comes
    pending[i] = promise;
  };
  for (let i = 0; i < readAhead; i += 1) request(i);
  const first = await pending[0]!;

  context.countStatus(status);
  res.writeHead(status, head.fields, head.rendered);
  try {
    for (let i = 0; i < steps.length; i += 1) {
      request(i + readAhead);
      const step = steps[i]!;
      const piece = i === 0 ? first : await pending[i]!;
      pending[i] = undefined;
      if (res.destroyed) break;
      if (step.prefix !== null) res.write(step.prefix);
      // Limits not binding: the span goes whole, as without them; else in slices as tokens come.
      const ok =
        flow === null || (step.to - step.from <= QOS_WHOLE_MAX && flow.take(step.to - step.from))
          ? res.write(piece.subarray(step.from, step.to))
          : await writeLimited(res, flow, piece, step.from, step.to);
      context.countSent(object, step.to - step.from);
      if (!ok) await res.drained();
    }
    if (res.destroyed) {
      stats.aborted += 1;
      res.destroy(); // for the access log: the line with what was sent
      return;
    }
    if (trailer !== null) res.end(trailer);
    else res.end();
  } catch (err) {
    stats.aborted += 1;
    if (err instanceof ClosedError) {
      res.destroy(); // the client went away: logged, as nginx does, with the bytes it got
      return;
    }
    context.logger.warn(
      {
        infoHash: object.infoHash,
        error: err instanceof Error ? err.message : String(err),
      },
      'response cut short: a piece could not be read',
    );
    // Flush the verified bytes already written, then close: the body is shorter than Content-Length,
    // which tells the client the response is incomplete. The connection is not reused.
    res.cutShort();
  }
}

/** Spans up to this go whole when the limits let them (a 16 MiB piece would overdraw a low limit at once). */
const QOS_WHOLE_MAX = 1024 * 1024;

/**
 * Writes piece[from, to) in chunks, each when the egress limits let it go (src/qos); the same bytes, later.
 * The flow already waits for the whole span (its take failed): the first grant covers it, or a quantum.
 */
async function writeLimited(
  res: Http1Response,
  flow: BodyFlow,
  piece: Buffer,
  from: number,
  to: number,
): Promise<boolean> {
  let ok = true;
  for (let at = from; at < to; ) {
    const end = Math.min(to, at + QOS_CHUNK_BYTES);
    const wait = flow.whenSendable(end - at);
    if (wait !== undefined) await wait;
    if (res.destroyed) return true;
    ok = res.write(piece.subarray(at, end));
    at = end;
    if (!ok && at < to) await res.drained();
  }
  return ok;
}
