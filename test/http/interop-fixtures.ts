// Objects served by a real HTTP server for the interop tests (curl, aria2c, libtorrent): content made up
// in memory, its metainfo, the real store (src/store) and piece cache holding its pieces, and .torrent
// files whose only source is the server's web seed URL.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHttpServer, type HttpServer, type HttpServerOptions, objectUrls } from '../../src/http/index.ts';
import { encodeTorrent, type Metainfo } from '../../src/metainfo/index.ts';
import { createPieceCache, openStore, type PieceCache, type Store } from '../../src/store/index.ts';
import { IMPORT_ALERT_WAITER } from '../helpers/libtorrent.ts';
import { metainfoFor, testBytes } from './memory-store.ts';

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
  store: Store;
  cache: PieceCache;
  dataDir: string;
}

async function sha1Matches(data: Uint8Array, expected: Uint8Array): Promise<boolean> {
  return createHash('sha1').update(data).digest().equals(expected);
}

/**
 * Starts a server on 127.0.0.1 over a real store in a fresh folder under `root`, holding `specs` (whole,
 * or only the pieces `held` names) with `source` as their origin.
 */
export async function serveObjects(
  root: string,
  specs: ContentSpec[],
  options: Partial<Pick<HttpServerOptions, 'policy' | 'limits' | 'host'>> & {
    held?: (pieceIndex: number) => boolean;
    source?: string;
    /** The piece cache's budget (default 64 MiB): smaller, so that verified pieces leave memory. */
    cacheBytes?: number;
  } = {},
): Promise<ServedSet> {
  const dataDir = await mkdtemp(join(root, 'store-'));
  const store = await openStore(dataDir, { mode: 'write' });
  const objects: ServedObject[] = [];
  for (const spec of specs) {
    const data = testBytes(
      spec.files.reduce((sum, file) => sum + file.length, 0),
      spec.seed,
    );
    const metainfo = metainfoFor(spec.name, spec.pieceLength, spec.files, data);
    await store.addObject(metainfo, options.source === undefined ? {} : { source: options.source });
    for (let index = 0; index < metainfo.pieceCount; index += 1) {
      if (options.held !== undefined && !options.held(index)) continue;
      const start = index * metainfo.pieceLength;
      await store.writePiece(metainfo.infoHash, index, data.subarray(start, start + metainfo.pieceLength));
    }
    objects.push({ metainfo, data });
  }
  const cache = createPieceCache(store, { maxBytes: options.cacheBytes ?? 64 * 1024 * 1024, verify: sha1Matches });
  const server = createHttpServer({
    store,
    cache,
    host: options.host ?? '127.0.0.1',
    port: 0,
    policy: options.policy ?? 'refuse',
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  const { port } = await server.listen();
  const host = (options.host ?? '127.0.0.1').includes(':') ? `[${options.host}]` : (options.host ?? '127.0.0.1');
  return { server, base: `http://${host}:${port}`, objects, store, cache, dataDir };
}

/** Stops the server and closes the store. */
export async function stopServed(served: ServedSet | undefined): Promise<void> {
  await served?.server.close(100);
  await served?.store.close();
}

/** Flips a byte of an object's data on disk (bit rot) and drops the piece from the cache. */
export async function corruptOnDisk(served: ServedSet, object: ServedObject, offset: number): Promise<void> {
  const { metainfo } = object;
  const file = metainfo.files.find((entry) => offset >= entry.offset && offset < entry.offset + entry.length)!;
  const path = join(served.dataDir, 'objects', metainfo.infoHash, 'data', metainfo.name, ...file.path);
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset - file.offset);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, offset - file.offset);
  } finally {
    await handle.close();
  }
  served.cache.evict(metainfo.infoHash, [Math.floor(offset / metainfo.pieceLength)]);
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

/** A python3-libtorrent leecher (run with /usr/bin/python3 -c): adds the torrent, waits on alerts until it seeds or the deadline passes, prints one JSON line. */
export const WEB_SEED_LEECH = `${IMPORT_ALERT_WAITER}
import json, sys, time
import libtorrent as lt
torrent, save_path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
session = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_incoming_utp': False, 'enable_outgoing_utp': False,
    'alert_mask': int(lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
                      | lt.alert.category_t.peer_notification),
}, 0)  # 0: no default plugins, so no peer exchange (web seeds only)
alerts = AlertWaiter(session)
handle = session.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save_path})
problems = []
deadline = time.monotonic() + seconds
status = handle.status()
while not status.is_seeding and time.monotonic() < deadline:
    for alert in alerts.pop(250):
        if isinstance(alert, (lt.url_seed_alert, lt.hash_failed_alert, lt.torrent_error_alert, lt.file_error_alert)):
            problems.append(type(alert).__name__ + ': ' + alert.message())
    status = handle.status()
print(json.dumps({'seeding': status.is_seeding, 'progress': status.progress, 'problems': problems}))
`;
