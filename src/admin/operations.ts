import { resolve } from 'node:path';
import { InvalidArgumentError } from '../errors/index.ts';
import type { IngestContext, IngestResult } from '../ingest/index.ts';
import { encodeTorrent } from '../metainfo/index.ts';
import type { StagingStore, Store, StoredObject } from '../store/index.ts';
import { type AgentLinks, details, type ObjectDetails, type ObjectSummary, summarize } from './describe.ts';
import { type BulkIngestRequest, ingestMany } from './ingest-many.ts';
import { type PurgeRequest, type PurgeResult, purge } from './purge.ts';

/** A .torrent file of an object. */
export interface TorrentFile {
  infoHash: string;
  name: string;
  data: Buffer;
}

/** What an admin asks of a store: the same whether the CLI works on it directly or through the agent. */
export interface Operations {
  /** 'local': this process holds the store; 'agent': a running agent does, reached over its admin API. */
  readonly via: 'local' | 'agent';
  ingest(
    request: BulkIngestRequest,
    onResult: (result: IngestResult) => void,
    onProgress?: ProgressListener,
  ): Promise<void>;
  purge(request: PurgeRequest): Promise<PurgeResult[]>;
  list(): Promise<ObjectSummary[]>;
  show(id: string): Promise<ObjectDetails>;
  torrent(id: string): Promise<TorrentFile>;
  close(): Promise<void>;
}

export type ProgressListener = (progress: { source: string; bytesDone: number; bytesTotal: number | null }) => void;

/** Links that only a running agent knows: its web seed and piece URLs, its trackers. */
export type LinksOf = (object: StoredObject) => AgentLinks;

/** Operations on a store this process holds (the CLI without an agent, or the agent serving its admin API). */
export class StoreOperations implements Operations {
  readonly via = 'local';
  private readonly store: Store & StagingStore;
  private readonly context: (signal?: AbortSignal) => IngestContext;
  private readonly links: LinksOf;
  private readonly onClose: () => Promise<void>;

  constructor(options: {
    store: Store & StagingStore;
    ingestContext: (signal?: AbortSignal) => IngestContext;
    links?: LinksOf;
    close?: () => Promise<void>;
  }) {
    this.store = options.store;
    this.context = options.ingestContext;
    this.links = options.links ?? (() => ({}));
    this.onClose = options.close ?? (async () => {});
  }

  async ingest(
    request: BulkIngestRequest,
    onResult: (result: IngestResult) => void,
    onProgress?: ProgressListener,
    signal?: AbortSignal,
  ): Promise<void> {
    const options = onProgress ? { ...request.options, onProgress } : request.options;
    for await (const result of ingestMany({ ...request, options }, this.context(signal))) onResult(result);
  }

  purge(request: PurgeRequest): Promise<PurgeResult[]> {
    return purge(this.store, request);
  }

  async list(): Promise<ObjectSummary[]> {
    return this.store
      .list()
      .map(summarize)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async show(id: string): Promise<ObjectDetails> {
    const object = this.store.find(id);
    return details(object, this.links(object));
  }

  async torrent(id: string): Promise<TorrentFile> {
    const object = this.store.find(id);
    return { infoHash: object.infoHash, name: object.name, data: encodeTorrent(object.metainfo) };
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** Local paths in a request sent to an agent must not depend on the CLI's working directory. */
export function absoluteSources(sources: string[], cwd: string): string[] {
  return sources.map((source) => {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) || source.startsWith('/')) return source;
    if (source === '') throw new InvalidArgumentError('an empty source');
    return resolve(cwd, source);
  });
}
