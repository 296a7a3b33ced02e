// Shared by the tracker interop tests, and meant for the agent's end-to-end tests too: opentracker and
// `edgepeer tracker` as real processes on loopback, python3-libtorrent seeders and leechers that know only
// a tracker URL, the announce client on a real store, and a follower of the swarm statistics stream.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encodeTorrent, type Metainfo } from '../../src/metainfo/index.ts';
import type { Store } from '../../src/store/index.ts';
import {
  type AnnounceClient,
  type AnnounceClientOptions,
  type AnnounceEventInfo,
  createAnnounceClient,
  type SwarmStats,
} from '../../src/tracker/index.ts';
import { waitForItem } from '../helpers/log.ts';

const LT_SCRIPT = fileURLToPath(new URL('./tracker_lt.py', import.meta.url));
const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

/** A port free on 127.0.0.1 for both TCP and UDP at the time of asking (trackers serve both on one port). */
export async function freeTcpUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const socket = createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    socket.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (udpFree) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

/** Resolves once something accepts TCP connections on the port (bounded by timeoutMs). */
async function accepting(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const socket = connect(port, '127.0.0.1');
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    socket.destroy();
    if (connected) return;
    if (Date.now() > deadline) throw new Error(`nothing accepts connections on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface RunningTracker {
  announceUrl: string;
  udpAnnounceUrl: string;
  /** Stops the process; resolves to its exit code (null if killed by a signal). */
  stop(): Promise<number | null>;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit') as Promise<[number | null]>;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  const [code] = await exited;
  clearTimeout(timer);
  return code;
}

/**
 * opentracker from Debian on a loopback port. It is built whitelist-only and IPv4-only: every info hash the
 * test uses must be listed here.
 */
export async function startOpentracker(infoHashes: string[]): Promise<RunningTracker> {
  const dir = await mkdtemp(join(tmpdir(), 'edgepeer-opentracker-'));
  // Started as root, opentracker reads its whitelist after dropping to "nobody": it must be world-readable.
  await chmod(dir, 0o755);
  const whitelist = join(dir, 'whitelist');
  await writeFile(whitelist, infoHashes.map((hash) => `${hash}\n`).join(''), { mode: 0o644 });
  const port = await freeTcpUdpPort();
  const config = join(dir, 'opentracker.conf');
  await writeFile(config, `listen.tcp_udp 127.0.0.1:${port}\naccess.whitelist ${whitelist}\n`);
  const child = spawn('opentracker', ['-f', config], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const announceUrl = `http://127.0.0.1:${port}/announce`;
  try {
    await Promise.race([
      whitelistLoaded(port, announceUrl, infoHashes[0]!),
      once(child, 'exit').then(() => {
        throw new Error(`opentracker exited: ${stderr}`);
      }),
    ]);
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw err;
  }
  return {
    announceUrl,
    udpAnnounceUrl: `udp://127.0.0.1:${port}/announce`,
    stop: async () => {
      const code = await stopChild(child);
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * opentracker accepts connections before its whitelist is loaded (a thread reads it) and refuses every hash
 * until then: ready means an announce of a listed hash is answered without a failure reason.
 */
async function whitelistLoaded(port: number, announceUrl: string, infoHash: string): Promise<void> {
  await accepting(port, 10_000);
  // A stopped announce is answered even for unlisted hashes, so ask with a started one, then take it back.
  const query = `info_hash=${infoHash.replace(/../g, '%$&')}&peer_id=-EP0001-readiness000&port=1&left=0`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const body = Buffer.from(await (await fetch(`${announceUrl}?${query}`)).arrayBuffer()).toString('latin1');
    if (!body.includes('failure reason')) {
      await fetch(`${announceUrl}?${query}&event=stopped`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`opentracker never accepted ${infoHash}: ${body}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface RunningEdgepeerTracker extends RunningTracker {
  statsUrl: string;
  /** kill -9: no shutdown at all. */
  kill(): Promise<void>;
  /** Whether the process still runs. */
  running(): boolean;
  /** What it wrote to stderr so far (its logs). */
  stderr(): string;
}

/** `edgepeer tracker --port 0 --host 127.0.0.1 --json` (the built CLI: `npm run build` first). */
export async function startTrackerCommand(extraArgs: string[] = []): Promise<RunningEdgepeerTracker> {
  const child = spawn(
    process.execPath,
    [RUN, 'tracker', '--port', '0', '--host', '127.0.0.1', '--json', ...extraArgs],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => {
      throw new Error(`edgepeer tracker exited: ${stderr}`);
    }),
  ])) as [string];
  const listening = JSON.parse(first) as { announceUrl: string; udpAnnounceUrl: string; statsUrl: string };
  return {
    ...listening,
    stop: () => stopChild(child),
    kill: async () => {
      await stopChild(child, 'SIGKILL');
    },
    running: () => child.exitCode === null && child.signalCode === null,
    stderr: () => stderr,
  };
}

/** A .torrent naming no tracker and no web seed: a client holding it finds sources only as the test allows. */
export async function writeBareTorrent(dir: string, metainfo: Metainfo): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${metainfo.infoHash}.torrent`);
  await writeFile(path, encodeTorrent({ ...metainfo, announceList: [], urlList: [] }));
  return path;
}

/** Writes an object's files under `dir` as a BitTorrent client keeps them (dir/name[/path]). */
export async function writeContent(dir: string, metainfo: Metainfo, data: Buffer): Promise<void> {
  for (const file of metainfo.files) {
    const path = join(dir, metainfo.name, ...file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data.subarray(file.offset, file.offset + file.length));
  }
}

export interface LtSeeder {
  port: number;
  stop(): Promise<void>;
}

/** A libtorrent seeder of `torrent` with its data in saveDir; it announces to no tracker itself. */
export async function startLtSeeder(torrent: string, saveDir: string): Promise<LtSeeder> {
  const child = spawn('/usr/bin/python3', [LT_SCRIPT, 'seed', torrent, saveDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => {
      throw new Error(`libtorrent seeder exited: ${stderr}`);
    }),
  ])) as [string];
  const { ready } = JSON.parse(line) as { ready: number };
  return {
    port: ready,
    stop: async () => {
      child.stdin?.end();
      await stopChild(child);
    },
  };
}

export interface LeechResult {
  seeding: boolean;
  progress: number;
  /** BitTorrent peers (not web seeds) it connected to, as ip:port. */
  peers: string[];
  webSeeds: string[];
  problems: string[];
  /** Peers listed in each tracker answer (for failure messages). */
  tracker_replies?: number[];
  /** The first peer disconnections and errors libtorrent reported (for failure messages). */
  disconnects?: string[];
  /** Piece payload bytes it received (libtorrent's total_payload_download). */
  payloadDownloaded: number;
}

export interface LtLeecher {
  /** What the leecher saw once it seeds or gives up. */
  result: Promise<LeechResult>;
  /** Ends the session (libtorrent announces stopped); resolves when the process exited. */
  stop(): Promise<void>;
}

/**
 * Starts a libtorrent leecher. With `stay`, it keeps seeding and stays in its swarm after finishing until
 * stop(); without, it leaves as soon as it is done.
 */
export function startLtLeecher(
  torrent: string,
  saveDir: string,
  options: {
    tracker?: string;
    webSeedsFrom?: string;
    timeoutS?: number;
    stay?: boolean;
    downloadLimit?: number;
    uploadLimit?: number;
    /** A file for the leecher's trace (JSON lines: tracker replies, connections, pieces, per-peer samples). */
    trace?: string;
  },
): LtLeecher {
  const args = [LT_SCRIPT, 'leech', torrent, saveDir, '--timeout', String(options.timeoutS ?? 60)];
  if (options.tracker !== undefined) args.push('--tracker', options.tracker);
  if (options.webSeedsFrom !== undefined) args.push('--web-seeds-from', options.webSeedsFrom);
  if (options.stay) args.push('--stay', '1');
  if (options.downloadLimit !== undefined) args.push('--download-limit', String(options.downloadLimit));
  if (options.uploadLimit !== undefined) args.push('--upload-limit', String(options.uploadLimit));
  if (options.trace !== undefined) args.push('--trace', options.trace);
  const child = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const result = new Promise<LeechResult>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const record = JSON.parse(line) as {
        result?: LeechResult & { web_seeds: string[]; payload_downloaded: number };
      };
      if (record.result !== undefined) {
        resolve({
          ...record.result,
          webSeeds: record.result.web_seeds,
          payloadDownloaded: record.result.payload_downloaded,
        });
      }
    });
    void exited.then(([code]) => reject(new Error(`libtorrent leecher exited (${code}) without a result: ${stderr}`)));
  });
  result.catch(() => undefined);
  if (!options.stay) child.stdin?.end();
  return {
    result,
    stop: async () => {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a libtorrent leecher to the end (seeding or timeout) and returns what it saw. */
export async function ltLeech(
  torrent: string,
  saveDir: string,
  options: { tracker?: string; webSeedsFrom?: string; timeoutS?: number },
): Promise<LeechResult> {
  const leecher = startLtLeecher(torrent, saveDir, options);
  try {
    return await leecher.result;
  } finally {
    await leecher.stop();
  }
}

/** The announce client on a real store with quick settings for tests; `announced` waits for announce events. */
export function announceFromStore(
  store: Store,
  options: Omit<AnnounceClientOptions, 'store' | 'peerId'> & { peerId?: Uint8Array },
): { client: AnnounceClient; announced(test: (info: AnnounceEventInfo) => boolean): Promise<AnnounceEventInfo> } {
  const client = createAnnounceClient({
    peerId: Buffer.from(`-EP0001-${Math.random().toString(36).slice(2, 14).padEnd(12, '0')}`),
    changeDelayMs: 100,
    batchLingerMs: 100,
    batchWindowMs: 0,
    minSpacingS: 0,
    requestTimeoutMs: 5000,
    ...options,
    store,
  });
  const announced = (test: (info: AnnounceEventInfo) => boolean): Promise<AnnounceEventInfo> =>
    new Promise((resolve) => {
      const listener = (info: AnnounceEventInfo): void => {
        if (!test(info)) return;
        client.off('announce', listener);
        resolve(info);
      };
      client.on('announce', listener);
    });
  return { client, announced };
}

/** Follows /stats/<info hash>/events (Server-Sent Events) and keeps every snapshot received. */
export function followStats(
  statsUrl: string,
  infoHash: string,
): {
  snapshots: SwarmStats[];
  until(test: (stats: SwarmStats) => boolean, timeoutMs: number): Promise<SwarmStats>;
  close(): void;
} {
  const controller = new AbortController();
  const snapshots: SwarmStats[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    const response = await fetch(`${statsUrl}/${infoHash}/events`, { signal: controller.signal });
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const data = buffered
          .slice(0, end)
          .split('\n')
          .find((line) => line.startsWith('data: '));
        buffered = buffered.slice(end + 2);
        if (data === undefined) continue;
        snapshots.push(JSON.parse(data.slice(6)) as SwarmStats);
        for (const wake of [...waiters]) wake();
      }
    }
  })().catch(() => undefined);
  return {
    snapshots,
    until: (test, timeoutMs) =>
      waitForItem(
        snapshots,
        waiters,
        test,
        timeoutMs,
        () => new Error(`statistics never matched; last: ${JSON.stringify(snapshots.at(-1))}`),
      ),
    close: () => controller.abort(),
  };
}
