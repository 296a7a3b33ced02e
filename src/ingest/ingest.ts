import { open } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type EdgepeerError,
  fromLocalError,
  fromSystemError,
  HashMismatchError,
  InvalidArgumentError,
  isEdgepeerError,
  OriginError,
} from '../errors/index.ts';
import {
  buildMetainfo,
  byteRangeSpans,
  checkPieceIndexes,
  defaultPieceLength,
  listContentFiles,
  type Metainfo,
  magnetLink,
  pieceHash,
  pieceSize,
  pieceSpans,
} from '../metainfo/index.ts';
import type { StoredObject } from '../store/index.ts';
import { sourceProblem } from './manifest.ts';
import { originFailure, originFileUrl, safeName } from './origin.ts';
import { cutPieces, endlessPieceSizes, forEachLimited, pieceRuns, pieceSizes } from './pieces.ts';
import type { IngestContext, IngestOptions, IngestResult, IngestStatus } from './types.ts';

/** Parallel range requests per object from an origin that supports Range. */
const ORIGIN_PARALLELISM = 4;
/** Largest single range request, in bytes (libtorrent asks web seeds for up to 16 MiB too). */
const MAX_RANGE_BYTES = 16 * 1024 * 1024;
/** Piece length when an origin does not tell the length of what it sends. */
const UNKNOWN_LENGTH_PIECE_LENGTH = 1024 * 1024;
/** Attempts per range request on transient origin failures. */
const RANGE_ATTEMPTS = 3;

interface Outcome {
  object: StoredObject;
  status: IngestStatus;
  piecesAdded: number;
  error?: EdgepeerError;
}

/**
 * Ingests one source (local path, file:// or http(s) URL) into the store. Never throws for a failed source:
 * the result names the source and says what went wrong; whatever was verified and committed stays.
 */
export async function ingestSource(source: string, options: IngestOptions, ctx: IngestContext): Promise<IngestResult> {
  const known = options.metainfo;
  const isNew = known !== undefined && ctx.store.get(known.infoHash) === undefined;
  const result = await ingestResult(source, options, ctx);
  // A known object this ingest added and failed to fill holds nothing: it does not stay behind, empty.
  if (isNew && result.status === 'failed' && (ctx.store.get(known.infoHash)?.piecesHeld ?? 0) === 0) {
    await ctx.store.removeObject(known.infoHash, 'purge').catch(() => {});
  }
  return result;
}

/**
 * What failed, named: a file system error on a path outside the source (the store's staging, objects, index)
 * is a local failure of the data dir, not an unreadable source.
 */
function ingestFailure(err: unknown, source: string): EdgepeerError {
  if (isEdgepeerError(err)) return err;
  const path = (err as NodeJS.ErrnoException | undefined)?.path;
  if (path !== undefined) {
    const sourcePath = /^https?:\/\//i.test(source)
      ? null
      : resolve(/^file:\/\//i.test(source) ? fileURLToPath(source) : source);
    const inSource = sourcePath !== null && (path === sourcePath || path.startsWith(sourcePath + sep));
    if (!inSource) return fromLocalError(err, path);
  }
  return fromSystemError(err, source);
}

async function ingestResult(source: string, options: IngestOptions, ctx: IngestContext): Promise<IngestResult> {
  const started = performance.now();
  try {
    const outcome = await ingestOrThrow(source, options, ctx);
    return describe(source, outcome, started);
  } catch (err) {
    const error = ingestFailure(err, source);
    return {
      source,
      status: 'failed',
      infoHash: options.metainfo?.infoHash ?? null,
      name: options.metainfo?.name ?? null,
      length: options.metainfo?.length ?? null,
      pieceLength: options.metainfo?.pieceLength ?? null,
      pieces: options.metainfo?.pieceCount ?? null,
      piecesHeld: options.metainfo ? (ctx.store.get(options.metainfo.infoHash)?.piecesHeld ?? 0) : null,
      piecesAdded: 0,
      magnet: null,
      durationMs: Math.round(performance.now() - started),
      error: error.toJSON(),
    };
  }
}

function describe(source: string, outcome: Outcome, started: number): IngestResult {
  const { metainfo } = outcome.object;
  const result: IngestResult = {
    source,
    status: outcome.status,
    infoHash: metainfo.infoHash,
    name: metainfo.name,
    length: metainfo.length,
    pieceLength: metainfo.pieceLength,
    pieces: metainfo.pieceCount,
    piecesHeld: outcome.object.piecesHeld,
    piecesAdded: outcome.piecesAdded,
    magnet: magnetLink(metainfo),
    durationMs: Math.round(performance.now() - started),
  };
  if (outcome.error) result.error = outcome.error.toJSON();
  return result;
}

async function ingestOrThrow(source: string, options: IngestOptions, given: IngestContext): Promise<Outcome> {
  const problem = sourceProblem(source);
  if (problem) throw new InvalidArgumentError(problem, { subject: source });
  const ctx = withOriginTimeout(given, options.originTimeoutMs, source);
  const isUrl = /^https?:\/\//i.test(source);
  const location = /^file:\/\//i.test(source) ? fileURLToPath(source) : source;
  if (options.metainfo) {
    const expiresBefore = ctx.store.get(options.metainfo.infoHash)?.expiresAt;
    const object = await ctx.store.addObject(options.metainfo, addOptions(options, source));
    const wanted = wantedPieces(options, options.metainfo);
    const outcome = await (isUrl
      ? fillFromOrigin(location, object, wanted, options, ctx)
      : fillFromLocal(location, object, wanted, options, ctx));
    return outcome.status === 'unchanged'
      ? { ...outcome, status: sameOrUpdated(expiresBefore, outcome.object) }
      : outcome;
  }
  if (!isUrl && options.name !== undefined) {
    // Said, not ignored: a local object's name is its file or folder name (BEP 3's name is the path's).
    throw new InvalidArgumentError(
      `${source}: --name names content fetched from a URL; a local file or folder keeps its own name (rename it first)`,
      { subject: source },
    );
  }
  return isUrl ? ingestNewFromOrigin(location, source, options, ctx) : ingestNewLocal(location, source, options, ctx);
}

/** Longest origin timeout an ingest may ask for: a day. */
const MAX_ORIGIN_TIMEOUT_MS = 86_400_000;

function withOriginTimeout(ctx: IngestContext, timeoutMs: number | undefined, source: string): IngestContext {
  if (timeoutMs === undefined) return ctx;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_ORIGIN_TIMEOUT_MS) {
    throw new InvalidArgumentError(
      `origin timeout must be a whole number of milliseconds from 1 to ${MAX_ORIGIN_TIMEOUT_MS}, got ${String(timeoutMs)}`,
      { subject: source },
    );
  }
  return { ...ctx, origin: ctx.origin.withTimeout(timeoutMs) };
}

/** An object held whole before: 'unchanged', or 'updated' when this ingest gave it another expiry (--ttl). */
function sameOrUpdated(expiresBefore: number | null | undefined, object: StoredObject): IngestStatus {
  return expiresBefore === undefined || object.expiresAt === expiresBefore ? 'unchanged' : 'updated';
}

function addOptions(options: IngestOptions, source: string): { ttlMs?: number; source: string } {
  return options.ttlMs === undefined ? { source } : { ttlMs: options.ttlMs, source };
}

function wantedPieces(options: IngestOptions, metainfo: Metainfo): number[] {
  if (options.pieces !== undefined) return checkPieceIndexes(options.pieces, metainfo.pieceCount, metainfo.name);
  return Array.from({ length: metainfo.pieceCount }, (_, i) => i);
}

// New objects from local files: hash and stage in one pass, then adopt.

async function ingestNewLocal(
  path: string,
  source: string,
  options: IngestOptions,
  ctx: IngestContext,
): Promise<Outcome> {
  const content = await listContentFiles(path);
  const length = content.files.reduce((sum, f) => sum + f.length, 0);
  if (length === 0)
    throw new InvalidArgumentError(`${source}: nothing to ingest, the content is empty`, { subject: source });
  const pieceLength = options.pieceLength ?? defaultPieceLength(length);
  const files = content.files.map((f) => ({ path: f.absolutePath, length: f.length }));
  const progress = (bytesDone: number) => options.onProgress?.({ source, bytesDone, bytesTotal: length });

  if (options.pieces !== undefined) {
    // Only some pieces wanted: hash everything for the metainfo, then copy just those pieces.
    const pieceHashes = await ctx.hashPool.hashFiles(files, pieceLength, { onProgress: progress, signal: ctx.signal });
    const metainfo = metainfoOf({ ...content, pieceLength, pieceHashes }, options);
    const object = await ctx.store.addObject(metainfo, addOptions(options, source));
    return fillFromLocal(path, object, wantedPieces(options, metainfo), { ...options, onProgress: undefined }, ctx);
  }

  const staging = await ctx.store.createStaging();
  try {
    const copyTo = content.files.map((f) => join(staging, content.name, ...f.path));
    const pieceHashes = await ctx.hashPool.hashFiles(files, pieceLength, {
      copyTo,
      onProgress: progress,
      signal: ctx.signal,
    });
    return await adoptAsObject(staging, { ...content, pieceLength, pieceHashes }, options, source, ctx);
  } catch (err) {
    await ctx.store.discardStaging(staging).catch(() => {});
    throw err;
  }
}

type ContentHashed = Omit<Parameters<typeof buildMetainfo>[0], 'createdBy'>;

/** The metainfo edgepeer writes for hashed content, with the tracker and privacy `options` ask for. */
function metainfoOf(content: ContentHashed, options: IngestOptions) {
  return buildMetainfo({ ...content, createdBy: 'edgepeer', ...identity(options) });
}

/** Makes the staging folder's files, hashed as `content` says, an object of the store (new, or an update of one held). */
async function adoptAsObject(
  staging: string,
  content: ContentHashed,
  options: IngestOptions,
  source: string,
  ctx: IngestContext,
): Promise<Outcome> {
  const metainfo = metainfoOf(content, options);
  const before = ctx.store.get(metainfo.infoHash);
  const { piecesHeld: heldBefore = 0, expiresAt: expiresBefore } = before ?? {};
  const object = await ctx.store.adoptStaging(staging, metainfo, addOptions(options, source));
  const piecesAdded = object.piecesHeld - heldBefore;
  return { object, status: before?.complete ? sameOrUpdated(expiresBefore, object) : 'ingested', piecesAdded };
}

// New objects from an origin: stream into staging while hashing, in parallel ranges when allowed.

async function ingestNewFromOrigin(
  url: string,
  source: string,
  options: IngestOptions,
  ctx: IngestContext,
): Promise<Outcome> {
  const probe = await ctx.origin.probe(url, ctx.signal);
  const name = options.name ? safeName(options.name) : probe.name;
  if (!name) throw new InvalidArgumentError(`--name "${options.name}" is not a usable file name`, { subject: source });
  if (probe.length === 0)
    throw new InvalidArgumentError(`${source}: nothing to ingest, the origin sent 0 bytes`, { subject: source });
  const pieceLength =
    options.pieceLength ?? (probe.length ? defaultPieceLength(probe.length) : UNKNOWN_LENGTH_PIECE_LENGTH);

  const staging = await ctx.store.createStaging();
  try {
    const digests: Buffer[] = [];
    let bytesDone = 0;
    const file = await open(join(staging, name), 'w');
    let length: number;
    try {
      const sink = async (index: number, piece: Buffer) => {
        await file.write(piece, 0, piece.length, index * pieceLength);
        digests[index] = await ctx.hashPool.sha1(piece);
        bytesDone += piece.length;
        options.onProgress?.({ source, bytesDone, bytesTotal: probe.length });
      };
      length =
        probe.length !== null && probe.acceptsRanges
          ? await downloadInRanges(url, probe.length, pieceLength, sink, ctx)
          : await downloadWhole(url, probe.length, pieceLength, sink, ctx);
      await file.sync();
    } finally {
      await file.close();
    }
    if (length === 0)
      throw new InvalidArgumentError(`${source}: nothing to ingest, the origin sent 0 bytes`, { subject: source });
    const content = { name, multiFile: false, files: [{ path: [], length }] };
    return await adoptAsObject(
      staging,
      { ...content, pieceLength, pieceHashes: Buffer.concat(digests) },
      options,
      source,
      ctx,
    );
  } catch (err) {
    await ctx.store.discardStaging(staging).catch(() => {});
    throw err;
  }
}

type PieceSink = (index: number, piece: Buffer) => Promise<void>;

/** Fetches [0, length) in up to ORIGIN_PARALLELISM piece-aligned ranges; returns the length. */
async function downloadInRanges(url: string, length: number, pieceLength: number, sink: PieceSink, ctx: IngestContext) {
  const pieceCount = Math.ceil(length / pieceLength);
  const all = Array.from({ length: pieceCount }, (_, i) => i);
  const perRun = Math.max(
    1,
    Math.min(Math.ceil(pieceCount / ORIGIN_PARALLELISM), Math.floor(MAX_RANGE_BYTES / pieceLength)),
  );
  const runs = pieceRuns(all, perRun);
  try {
    await forEachLimited(runs, ORIGIN_PARALLELISM, (run) =>
      fetchRunWithRetry(
        run,
        (first, last) => {
          const start = first * pieceLength;
          const end = Math.min(length, (last + 1) * pieceLength) - 1;
          return rangeBody(url, start, end, ctx);
        },
        length,
        pieceLength,
        sink,
        url,
      ),
    );
  } catch (err) {
    // An origin that says it takes ranges and then ignores them: start over with one plain GET.
    if (err instanceof OriginError && err.code === 'EDGEPEER_ORIGIN_NO_RANGE') {
      return downloadWhole(url, length, pieceLength, sink, ctx);
    }
    throw err;
  }
  return length;
}

async function downloadWhole(
  url: string,
  length: number | null,
  pieceLength: number,
  sink: PieceSink,
  ctx: IngestContext,
) {
  const response = await ctx.origin.getAll(url, ctx.signal);
  const sizes =
    length === null
      ? endlessPieceSizes(pieceLength)
      : pieceSizes(length, pieceLength, 0, Math.ceil(length / pieceLength) - 1);
  let index = 0;
  let total = 0;
  for await (const piece of cutPieces(bodyChunks(response.body, url), sizes, url, { lengthKnown: length !== null })) {
    await sink(index++, piece);
    total += piece.length;
  }
  return total;
}

async function* rangeBody(url: string, start: number, end: number, ctx: IngestContext): AsyncGenerator<Uint8Array> {
  const response = await ctx.origin.getRange(url, start, end, ctx.signal);
  yield* bodyChunks(response.body, url);
}

/** A response body whose failures (timeouts, resets) come out as OriginError naming the URL. */
async function* bodyChunks(body: AsyncIterable<Uint8Array>, url: string): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (err) {
    throw originFailure(err, url);
  }
}

/**
 * Streams pieces first..last into `sink`, retrying transient origin failures from the first piece not yet
 * delivered (timeouts, resets, truncation, 5xx).
 */
async function fetchRunWithRetry(
  run: { first: number; last: number },
  body: (first: number, last: number) => AsyncIterable<Uint8Array>,
  length: number,
  pieceLength: number,
  sink: PieceSink,
  subject: string,
): Promise<void> {
  let next = run.first;
  for (let attempt = 1; ; attempt++) {
    try {
      const sizes = pieceSizes(length, pieceLength, next, run.last);
      for await (const piece of cutPieces(body(next, run.last), sizes, subject)) {
        await sink(next, piece);
        next++;
      }
      return;
    } catch (err) {
      if (attempt >= RANGE_ATTEMPTS || !isTransient(err)) throw err;
    }
  }
}

function isTransient(err: unknown): boolean {
  if (!(err instanceof OriginError)) return false;
  if (err.code === 'EDGEPEER_ORIGIN_STATUS') return Number(err.details.status) >= 500;
  return err.code === 'EDGEPEER_ORIGIN_TIMEOUT' || err.code === 'EDGEPEER_ORIGIN_TRUNCATED';
}

// Known metainfo: fetch or read the wanted pieces the store lacks, keep those whose hash matches.

async function fillFromLocal(
  path: string,
  object: StoredObject,
  wanted: number[],
  options: IngestOptions,
  ctx: IngestContext,
): Promise<Outcome> {
  const { metainfo } = object;
  const localPaths = metainfo.files.map((f) => (metainfo.multiFile ? join(path, ...f.path) : path));
  // The opening, not the handle: tasks run in parallel, and two that both found no handle would each open
  // one, and the first would never be closed (seen as file descriptors closed by the garbage collector).
  const handles = new Map<number, ReturnType<typeof open>>();
  const missing = wanted.filter((i) => !object.bitfield.get(i));
  const tally = newTally(metainfo, missing, options, path);
  try {
    await forEachLimited(missing, ctx.hashPool.threads * 2, async (index) => {
      const piece = Buffer.allocUnsafeSlow(pieceSize(metainfo, index));
      let at = 0;
      for (const span of pieceSpans(metainfo, index)) {
        let opening = handles.get(span.fileIndex);
        if (opening === undefined) {
          opening = open(localPaths[span.fileIndex] as string, 'r');
          handles.set(span.fileIndex, opening);
        }
        const handle = await opening.catch((err) => {
          throw fromSystemError(err, localPaths[span.fileIndex] as string);
        });
        const { bytesRead } = await handle.read(piece, at, span.length, span.fileOffset);
        // A short file leaves the rest of the piece unread: it cannot match, count it as a mismatch.
        if (bytesRead < span.length) piece.fill(0, at + bytesRead, at + span.length);
        at += span.length;
      }
      await tally.deliver(index, piece, ctx);
    });
  } finally {
    await Promise.all([...handles.values()].map((opening) => opening.then((h) => h.close()).catch(() => {})));
  }
  return tally.outcome(ctx);
}

async function fillFromOrigin(
  url: string,
  object: StoredObject,
  wanted: number[],
  options: IngestOptions,
  ctx: IngestContext,
): Promise<Outcome> {
  const { metainfo } = object;
  const missing = wanted.filter((i) => !object.bitfield.get(i));
  const tally = newTally(metainfo, missing, options, url);
  const perRun = Math.max(1, Math.floor(MAX_RANGE_BYTES / metainfo.pieceLength));
  // As a web seed: a multi-file object's files are <url>/<name>/<path...> (BEP 19), as pull-through reads them.
  const fileUrls = metainfo.files.map((_file, fileIndex) => originFileUrl(url, metainfo, fileIndex) as string);
  // Bytes first..last of the torrent, from each file they fall in, in order.
  const body = async function* (first: number, last: number): AsyncGenerator<Uint8Array> {
    const start = first * metainfo.pieceLength;
    const end = Math.min(metainfo.length, (last + 1) * metainfo.pieceLength);
    for (const span of byteRangeSpans(metainfo, start, end - start)) {
      yield* rangeBody(fileUrls[span.fileIndex] as string, span.fileOffset, span.fileOffset + span.length - 1, ctx);
    }
  };
  await forEachLimited(pieceRuns(missing, perRun), ORIGIN_PARALLELISM, (run) =>
    fetchRunWithRetry(
      run,
      body,
      metainfo.length,
      metainfo.pieceLength,
      (index, piece) => tally.deliver(index, piece, ctx),
      url,
    ),
  );
  return tally.outcome(ctx);
}

/** Verifies delivered pieces against the metainfo, writes the good ones, counts the bad ones. */
function newTally(metainfo: Metainfo, missing: number[], options: IngestOptions, source: string) {
  const { infoHash } = metainfo;
  const mismatched: number[] = [];
  let added = 0;
  let bytesDone = 0;
  const bytesTotal = missing.reduce((sum, i) => sum + pieceSize(metainfo, i), 0);
  return {
    async deliver(index: number, piece: Buffer, ctx: IngestContext): Promise<void> {
      if (await ctx.hashPool.verify(piece, pieceHash(metainfo, index))) {
        await ctx.store.writePiece(infoHash, index, piece);
        added++;
      } else {
        mismatched.push(index);
      }
      bytesDone += piece.length;
      options.onProgress?.({ source, bytesDone, bytesTotal });
    },
    outcome(ctx: IngestContext): Outcome {
      const object = ctx.store.get(infoHash) as StoredObject;
      if (mismatched.length > 0) {
        mismatched.sort((a, b) => a - b);
        const listed = mismatched.slice(0, 10).join(', ') + (mismatched.length > 10 ? ', ...' : '');
        const error = new HashMismatchError(
          `${source}: ${mismatched.length} piece(s) did not match their hash and were not kept (${listed})`,
          { subject: source, pieces: mismatched },
        );
        return { object, status: 'partial', piecesAdded: added, error };
      }
      return { object, status: missing.length === 0 ? 'unchanged' : 'ingested', piecesAdded: added };
    },
  };
}

/** What of a new object's metainfo the options set besides its content: BEP 27's private flag and its trackers. */
function identity(options: IngestOptions): { private?: boolean; announceList?: string[][] } {
  return {
    ...(options.private === true ? { private: true } : {}),
    ...(options.trackers !== undefined && options.trackers.length > 0
      ? { announceList: options.trackers.map((url) => [url]) }
      : {}),
  };
}
