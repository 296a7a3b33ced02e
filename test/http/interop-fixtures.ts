// Objects served by a real HTTP server for the interop tests (curl, aria2c, libtorrent): content made up
// in memory, its metainfo, a store holding every piece, and .torrent files whose only source is the
// server's web seed URL.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHttpServer, type HttpServer, type HttpServerOptions, objectUrls } from '../../src/http/index.ts';
import { encodeTorrent, type Metainfo } from '../../src/metainfo/index.ts';
import { MemoryPieceCache, MemoryStore, metainfoFor, testBytes } from './memory-store.ts';

export const run = promisify(execFile);

export interface ContentSpec {
  name: string;
  pieceLength: number;
  /** One entry with path [] for a single-file torrent. */
  files: { path: string[]; length: number }[];
  seed: number;
}

export interface ServedObject {
  metainfo: Metainfo;
  data: Buffer;
}

export interface ServedSet {
  server: HttpServer;
  base: string;
  objects: ServedObject[];
  store: MemoryStore;
}

/** Starts a server on 127.0.0.1 holding `specs` whole. */
export async function serveObjects(
  specs: ContentSpec[],
  options: Partial<Pick<HttpServerOptions, 'policy' | 'limits' | 'host'>> = {},
): Promise<ServedSet> {
  const store = new MemoryStore();
  const objects = specs.map((spec) => {
    const data = testBytes(
      spec.files.reduce((sum, file) => sum + file.length, 0),
      spec.seed,
    );
    const metainfo = metainfoFor(spec.name, spec.pieceLength, spec.files, data);
    store.add(metainfo, data);
    return { metainfo, data };
  });
  const server = createHttpServer({
    store,
    cache: new MemoryPieceCache(store),
    host: options.host ?? '127.0.0.1',
    port: 0,
    policy: options.policy ?? 'refuse',
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  const { port } = await server.listen();
  const host = (options.host ?? '127.0.0.1').includes(':') ? `[${options.host}]` : (options.host ?? '127.0.0.1');
  return { server, base: `http://${host}:${port}`, objects, store };
}

/** Writes `<dir>/<name>.torrent` whose url-list is only `webSeed`, and returns its path. */
export async function writeTorrent(dir: string, object: ServedObject, webSeed: string): Promise<string> {
  const path = join(dir, `${object.metainfo.name}.torrent`);
  await writeFile(path, encodeTorrent({ ...object.metainfo, urlList: [webSeed] }));
  return path;
}

export function webSeedOf(base: string, object: ServedObject): string {
  return objectUrls(base, { infoHash: object.metainfo.infoHash, metainfo: object.metainfo }).webSeed;
}

/** Checks the files a client wrote under `downloadDir` byte for byte; returns the names that differ. */
export async function differingFiles(downloadDir: string, object: ServedObject): Promise<string[]> {
  const { metainfo, data } = object;
  const differing: string[] = [];
  for (const file of metainfo.files) {
    const path = join(downloadDir, metainfo.name, ...file.path);
    let got: Buffer;
    try {
      got = await readFile(path);
    } catch {
      differing.push(`${path} (missing)`);
      continue;
    }
    if (!got.equals(data.subarray(file.offset, file.offset + file.length))) differing.push(path);
  }
  return differing;
}

export async function freshDir(root: string, name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Single-file and multi-file content that exercises web seed paths: spaces, UTF-8, nesting, an empty file,
 * pieces that span files. */
export const SINGLE_FILE: ContentSpec = {
  name: 'single file.bin',
  pieceLength: 256 * 1024,
  files: [{ path: [], length: 5 * 1024 * 1024 + 12345 }],
  seed: 101,
};

export const MULTI_FILE: ContentSpec = {
  name: 'multi folder',
  pieceLength: 64 * 1024,
  files: [
    { path: ['a.bin'], length: 100_000 },
    { path: ['empty.txt'], length: 0 },
    { path: ['sub dir', 'b é.bin'], length: 300_001 },
    { path: ['sub dir', 'deeper', 'c.bin'], length: 1_000_000 },
    { path: ['z.bin'], length: 7 },
  ],
  seed: 102,
};
