import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fromSystemError, InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import {
  type IngestContext,
  type IngestOptions,
  type IngestResult,
  ingestSource,
  parseManifest,
  readManifest,
} from '../ingest/index.ts';
import { type Metainfo, parseTorrent } from '../metainfo/index.ts';
import type { Store } from '../store/index.ts';
import { absoluteSources } from './operations.ts';

export interface BulkIngestRequest {
  sources: string[];
  /** Manifest file path, or "-" for standard input. */
  manifest?: string;
  /** A .torrent file whose metainfo the sources must match. */
  torrentFile?: string;
  /** Info hash of an object already in the store whose metainfo the sources must match. */
  infoHash?: string;
  options: Omit<IngestOptions, 'metainfo'>;
}

/** Resolves --torrent / --info-hash to metainfo, or undefined for new content. */
export async function knownMetainfo(store: Store, request: BulkIngestRequest): Promise<Metainfo | undefined> {
  if (request.torrentFile !== undefined && request.infoHash !== undefined) {
    throw new InvalidArgumentError('give --torrent or --info-hash, not both');
  }
  if (request.torrentFile !== undefined) {
    let data: Buffer;
    try {
      data = await readFile(request.torrentFile);
    } catch (err) {
      throw fromSystemError(err, request.torrentFile);
    }
    return parseTorrent(data, request.torrentFile);
  }
  if (request.infoHash !== undefined) {
    if (!/^[0-9a-f]{40}$/i.test(request.infoHash)) {
      throw new InvalidArgumentError(`--info-hash "${request.infoHash}" is not 40 hex characters`, {
        subject: request.infoHash,
      });
    }
    const object = store.get(request.infoHash.toLowerCase());
    if (!object) {
      throw new NotFoundError(
        `no object with info hash ${request.infoHash} in the store: give its metainfo with --torrent FILE`,
        { subject: request.infoHash },
      );
    }
    return object.metainfo;
  }
  return undefined;
}

/**
 * Reads the manifest (a file or stdin, in the CLI's process) into sources, and makes local paths absolute,
 * so that the request means the same in an agent's process. Malformed manifest lines become failed results.
 */
export async function prepareIngest(
  request: BulkIngestRequest,
  cwd: string,
): Promise<{ request: BulkIngestRequest; failures: IngestResult[] }> {
  const sources = [...request.sources];
  const failures: IngestResult[] = [];
  if (request.manifest !== undefined) {
    const name = request.manifest === '-' ? 'manifest (stdin)' : request.manifest;
    const { entries, problems } = parseManifest(await readManifest(request.manifest), name);
    for (const problem of problems) failures.push(failedLine(`${name}:${problem.line}`, problem.error.toJSON()));
    sources.push(...entries.map((e) => e.source));
  } else if (sources.length === 0) {
    throw new InvalidArgumentError('nothing to ingest: name sources (paths or URLs) or --manifest FILE');
  }
  const { manifest: _, ...rest } = request;
  return {
    request: {
      ...rest,
      sources: absoluteSources(sources, cwd),
      ...(request.torrentFile ? { torrentFile: resolve(cwd, request.torrentFile) } : {}),
    },
    failures,
  };
}

/**
 * Ingests every source of the request, one after the other, yielding one result per source as soon as it
 * is known. A failed source never stops the others.
 */
export async function* ingestMany(request: BulkIngestRequest, ctx: IngestContext): AsyncGenerator<IngestResult> {
  const metainfo = await knownMetainfo(ctx.store, request);
  for (const source of request.sources) {
    if (ctx.signal?.aborted) return;
    yield await ingestSource(source, metainfo ? { ...request.options, metainfo } : request.options, ctx);
  }
}

/** The result of a source that failed before any ingest (a bad manifest line, no edge to place it on). */
export function failedLine(source: string, error: IngestResult['error']): IngestResult {
  return {
    source,
    status: 'failed',
    infoHash: null,
    name: null,
    length: null,
    pieceLength: null,
    pieces: null,
    piecesHeld: null,
    piecesAdded: 0,
    magnet: null,
    durationMs: 0,
    ...(error ? { error } : {}),
  };
}
