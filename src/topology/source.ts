// Where a map comes from: a file (read again when it changes, and when asked: SIGHUP) or an ALTO server's
// URL (fetched every refresh interval with If-None-Match, so an unchanged map costs a 304).
import { watch as watchPath } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { request } from 'undici';
import { TopologyMapUnreachableError } from '../errors/index.ts';

export type MapKind = 'network' | 'cost';

/** RFC 7285 section 10.5 media types, and the error type an ALTO server answers with. */
export const MEDIA_TYPES: Record<MapKind, string> = {
  network: 'application/alto-networkmap+json',
  cost: 'application/alto-costmap+json',
};

export interface MapSource {
  readonly location: string;
  /** The document's text, or null when it has not changed since the last read. */
  read(): Promise<string | null>;
  /** Calls onChange when the document may have changed; returns the function that stops watching. */
  watch(onChange: () => void): () => void;
}

export function mapSource(location: string, kind: MapKind, refreshMs: number): MapSource {
  return /^https?:\/\//i.test(location) ? new HttpMapSource(location, kind, refreshMs) : new FileMapSource(location);
}

class FileMapSource implements MapSource {
  readonly location: string;
  #last: string | null = null;

  constructor(path: string) {
    this.location = path;
  }

  async read(): Promise<string | null> {
    let text: string;
    try {
      text = await readFile(this.location, 'utf8');
    } catch (err) {
      throw new TopologyMapUnreachableError(`${this.location}: ${(err as Error).message}`, {
        subject: this.location,
        cause: err,
      });
    }
    if (text === this.#last) return null;
    this.#last = text;
    return text;
  }

  watch(onChange: () => void): () => void {
    // The directory, not the file: editors and config managers replace a file by renaming a new one over it.
    const name = basename(this.location);
    let timer: NodeJS.Timeout | undefined;
    const watcher = watchPath(dirname(this.location), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(timer);
      // A burst of writes is one change.
      timer = setTimeout(onChange, 50);
    });
    watcher.on('error', () => {});
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  }
}

class HttpMapSource implements MapSource {
  readonly location: string;
  readonly #kind: MapKind;
  readonly #refreshMs: number;
  #etag: string | null = null;

  constructor(url: string, kind: MapKind, refreshMs: number) {
    this.location = url;
    this.#kind = kind;
    this.#refreshMs = refreshMs;
  }

  async read(): Promise<string | null> {
    const headers: Record<string, string> = {
      accept: `${MEDIA_TYPES[this.#kind]}, application/alto-error+json`,
    };
    if (this.#etag !== null) headers['if-none-match'] = this.#etag;
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(this.location, { headers, headersTimeout: 10_000, bodyTimeout: 30_000 });
    } catch (err) {
      throw new TopologyMapUnreachableError(`${this.location}: ${(err as Error).message}`, {
        subject: this.location,
        cause: err,
      });
    }
    if (response.statusCode === 304) {
      await response.body.dump();
      return null;
    }
    const text = await response.body.text();
    if (response.statusCode !== 200) {
      throw new TopologyMapUnreachableError(
        `${this.location}: HTTP ${response.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`,
        { subject: this.location },
      );
    }
    const etag = response.headers.etag;
    this.#etag = typeof etag === 'string' ? etag : null;
    return text;
  }

  watch(onChange: () => void): () => void {
    const timer = setInterval(onChange, this.#refreshMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
