// Shared by the peer wire interop tests (test/interop/wire-*.test.ts): objects in a real store (pieces
// hashed here with node:crypto and written through the store), the wire server over it, a minimal
// HTTP tracker for clients that cannot be told a peer, and helpers to run clients and compare files.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMetainfo, encodeTorrent, type Metainfo } from '../../src/metainfo/index.ts';
import { createPieceCache, openStore, type PieceCache, type StagingStore, type Store } from '../../src/store/index.ts';
import { createPeerWireServer, type PeerWireLimits, type PeerWireServer } from '../../src/wire/index.ts';

export const LT_CLIENT = join(import.meta.dirname, 'lt_client.py');

export interface ContentSpec {
  name: string;
  pieceLength: number;
  /** One entry with path [] for a single-file torrent. */
  files: { path: string[]; length: number }[];
}

/** 5 MiB and a bit in 256 KiB pieces: the last piece is shorter. */
export const SINGLE_FILE: ContentSpec = {
  name: 'single.bin',
  pieceLength: 256 * 1024,
  files: [{ path: [], length: 5 * 1024 * 1024 + 12_345 }],
};

/** Several files, pieces spanning file boundaries, an empty file, a shorter last piece. */
export const MULTI_FILE: ContentSpec = {
  name: 'multi',
  pieceLength: 128 * 1024,
  files: [
    { path: ['a.bin'], length: 2 * 1024 * 1024 + 1000 },
    { path: ['empty.txt'], length: 0 },
    { path: ['sub', 'b.bin'], length: 1536 * 1024 - 77 },
    { path: ['sub', 'c.bin'], length: 700_001 },
  ],
};

export interface ContentObject {
  metainfo: Metainfo;
  /** Bytes of each file, in metainfo order. */
  files: Buffer[];
}

export function makeContent(spec: ContentSpec): ContentObject {
  const files = spec.files.map((file) => randomBytes(file.length));
  const all = Buffer.concat(files);
  const hashes: Buffer[] = [];
  for (let at = 0; at < all.length; at += spec.pieceLength) {
    hashes.push(
      createHash('sha1')
        .update(all.subarray(at, at + spec.pieceLength))
        .digest(),
    );
  }
  const metainfo = buildMetainfo({
    name: spec.name,
    pieceLength: spec.pieceLength,
    multiFile: spec.files.length !== 1 || spec.files[0]!.path.length > 0,
    files: spec.files,
    pieceHashes: Buffer.concat(hashes),
  });
  return { metainfo, files };
}

export function pieceData(object: ContentObject, index: number): Buffer {
  const all = Buffer.concat(object.files);
  const { pieceLength } = object.metainfo;
  return all.subarray(index * pieceLength, (index + 1) * pieceLength);
}

export interface ServedObjects {
  dir: string;
  store: Store & StagingStore;
  cache: PieceCache;
  server: PeerWireServer;
  port: number;
  close(): Promise<void>;
}

/**
 * A store in a fresh temporary folder holding `objects` (`held`: which pieces of each, default all),
 * a piece cache verifying with node:crypto and the wire server on a free port (dual-stack '::').
 */
export async function serveObjects(
  objects: { object: ContentObject; held?: number[] }[],
  limits: Partial<PeerWireLimits> = {},
  /** The piece cache's budget: smaller, so that verified pieces leave memory. */
  cacheBytes = 64 * 1024 * 1024,
): Promise<ServedObjects> {
  const dir = await mkdtemp(join(tmpdir(), 'edgepeer-wire-'));
  const store = await openStore(join(dir, 'store'), { mode: 'write' });
  for (const { object, held } of objects) {
    await store.addObject(object.metainfo);
    const pieces = held ?? [...Array(object.metainfo.pieceCount).keys()];
    await Promise.all(pieces.map((i) => store.writePiece(object.metainfo.infoHash, i, pieceData(object, i))));
  }
  const cache = createPieceCache(store, {
    maxBytes: cacheBytes,
    verify: async (data, expected) => createHash('sha1').update(data).digest().equals(expected),
  });
  const server = createPeerWireServer({ store, cache, port: 0, limits });
  const { port } = await server.listen();
  return {
    dir,
    store,
    cache,
    server,
    port,
    async close() {
      await server.close(0);
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Path of file `fileIndex` of an object inside the store (layout in docs/store.md). */
export function storedFilePath(served: ServedObjects, metainfo: Metainfo, fileIndex: number): string {
  const components = metainfo.multiFile ? [metainfo.name, ...metainfo.files[fileIndex]!.path] : [metainfo.name];
  return join(served.dir, 'store', 'objects', metainfo.infoHash, 'data', ...components);
}

/** Flips one byte of piece `index` on disk (single-file objects). */
export async function corruptOnDisk(served: ServedObjects, metainfo: Metainfo, index: number): Promise<void> {
  const handle = await open(storedFilePath(served, metainfo, 0), 'r+');
  try {
    const at = index * metainfo.pieceLength + 100;
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0]! ^= 0xff;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

export async function writeTorrentFile(dir: string, metainfo: Metainfo): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${metainfo.infoHash}.torrent`);
  await writeFile(path, encodeTorrent(metainfo));
  return path;
}

/** Files of `object` under downloadDir that are missing or differ. */
export async function differingFiles(downloadDir: string, object: ContentObject): Promise<string[]> {
  const { metainfo } = object;
  const differing: string[] = [];
  for (const [i, file] of metainfo.files.entries()) {
    const path = metainfo.multiFile ? join(downloadDir, metainfo.name, ...file.path) : join(downloadDir, metainfo.name);
    const bytes = await readFile(path).catch(() => null);
    if (bytes === null || !bytes.equals(object.files[i]!)) differing.push(path);
  }
  return differing;
}

/** An HTTP tracker that answers every announce with one IPv4 peer (compact), for aria2c. */
export async function miniTracker(
  peerPort: number,
): Promise<{ url: string; announces: number; close(): Promise<void> }> {
  const peer = Buffer.from([127, 0, 0, 1, peerPort >> 8, peerPort & 0xff]);
  const body = Buffer.concat([Buffer.from('d8:intervali60e5:peers6:'), peer, Buffer.from('e')]);
  const state = { announces: 0 };
  const server = createHttpServer((_req, res) => {
    state.announces++;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/announce`,
    get announces() {
      return state.announces;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP port that was free a moment ago (for clients that must be given one). */
export async function freePort(): Promise<number> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RunResult {
  code: number | null;
  /** The signal that ended the program (SIGSEGV: a crash of its own), if one did. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (or `timeoutMs`), never throwing for a non-zero exit. */
export function runProgram(file: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, signal: err?.signal ?? null, stdout, stderr });
    });
  });
}

export interface LibtorrentResult {
  done: boolean;
  seconds: number;
  has_metadata: boolean;
  num_pieces: number;
  have: number[];
  /** The pieces the peer advertised, as libtorrent first saw them. */
  peer_pieces: number[] | null;
  /** Pieces the peer withdrew (lt_donthave), from libtorrent's peer log. */
  donthave: number[];
  problems: string[];
  disconnects: string[];
}

/** Runs test/wire/lt_client.py and parses its JSON line. */
export async function libtorrentLeech(
  args: string[],
  timeoutMs = 90_000,
): Promise<LibtorrentResult & { stderr: string }> {
  const result = await runProgram('/usr/bin/python3', [LT_CLIENT, ...args], timeoutMs);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) {
    const ended = result.signal === null ? `exit ${result.code}` : `killed by ${result.signal}`;
    throw new Error(`lt_client.py failed (${ended}): ${result.stderr.slice(-2000)}`);
  }
  return { ...(JSON.parse(line) as LibtorrentResult), stderr: result.stderr };
}

export async function freshDir(parent: string, name: string): Promise<string> {
  const dir = join(parent, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

/** aria2c flags for tests: nothing leaves this machine (no DHT, LPD, PEX; IPv4 loopback), no seeding after. */
export const ARIA2_COMMON = [
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=false',
  '--file-allocation=none',
  '--console-log-level=warn',
  '--summary-interval=0',
  '--seed-time=0',
  '--bt-save-metadata=false',
  '--auto-save-interval=0',
  '--bt-stop-timeout=60',
  '--interface=127.0.0.1',
  '--disable-ipv6=true',
];

export interface RunningAria2 {
  child: ChildProcess;
  /** What it printed so far (stdout and stderr), for failure messages. */
  output: () => string;
  /** Its exit code once it exits. */
  exited: Promise<[number | null]>;
}

/** aria2c in the background with ARIA2_COMMON and `args`, for downloads something happens during. */
export function spawnAria2(args: string[]): RunningAria2 {
  const child = spawn('aria2c', [...ARIA2_COMMON, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return { child, output: () => output, exited: once(child, 'exit') as Promise<[number | null]> };
}
