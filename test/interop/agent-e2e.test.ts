// Issue 7's end-to-end run: the agent as a real process; ingest through the CLI while it runs; a
// python3-libtorrent leecher that knows only the tracker finds the agent and downloads; curl fetches a range;
// purge while a client is connected, and it is told; SIGTERM, and the tracker hears `stopped` and the agent
// exits 0. Then kill -9 during an ingest, restart, and the store is consistent with nothing verified lost.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentAddresses } from '../../src/agent/index.ts';
import { parseTorrent, pieceHash } from '../../src/metainfo/index.ts';
import { openStore } from '../../src/store/index.ts';
import { edgepeer } from '../helpers/cli.ts';
import { connectPeer, waitFor } from '../wire/helpers.ts';
import { type RunningEdgepeerTracker, startLtLeecher, startTrackerCommand } from './tracker-support.ts';

const run = promisify(execFile);
const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

let dir: string;
let dataDir: string;
let tracker: RunningEdgepeerTracker;
/** HTTPS certificate (SAN 127.0.0.1) and key, the IMS tests' fixtures. */
const TLS_CERT = fileURLToPath(new URL('../ims/fixtures/tls-cert.pem', import.meta.url));
const TLS_KEY = fileURLToPath(new URL('../ims/fixtures/tls-key.pem', import.meta.url));

interface RunningAgent {
  child: ChildProcess;
  where: AgentAddresses;
  lines: string[];
}

/** The agent as an operator runs it: from a config file (docs/configuration.md). */
async function startAgent(): Promise<RunningAgent> {
  const configFile = join(dir, 'edgepeer.yaml');
  await writeFile(
    configFile,
    [
      '# edgepeer agent for the end-to-end test: everything on loopback, ports picked by the kernel',
      `dataDir: ${dataDir}`,
      'logLevel: warn',
      `trackers: [${tracker.announceUrl}]`,
      'peer:',
      '  port: 0',
      '  host: 127.0.0.1',
      'http:',
      '  port: 0',
      '  host: 127.0.0.1',
      `  accessLog: ${join(dir, 'access.log')}`,
      'https:',
      '  port: 0',
      `  certFile: ${TLS_CERT}`,
      `  keyFile: ${TLS_KEY}`,
      'admin:',
      '  listen: 127.0.0.1:0',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [RUN, 'agent', '--config', configFile, '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  reader.on('line', (line) => lines.push(line));
  const [first] = (await Promise.race([
    once(reader, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`agent exited with ${code} before listening`);
    }),
  ])) as [string];
  const listening = JSON.parse(first) as AgentAddresses & { event?: string };
  if (listening.event !== 'listening') throw new Error(`agent did not start: ${first}`);
  return { child, where: listening, lines };
}

interface SwarmStats {
  version: number;
  seeds: number;
  leechers: number;
  /** Peers that announced with the bitmap extension: edgepeer agents. */
  networkPeers: { held: number | null; uploaded: number; downloaded: number }[];
}

/**
 * Swarm statistics of one object from edgepeer's tracker, once `accept` holds (long poll on its version).
 * The bound leaves room for announces lost on a loaded machine: one request timeout (15 s) and the first
 * backoff (15 s) twice over, plus the 10 s batch grid.
 */
async function swarmWhen(
  infoHash: string,
  accept: (stats: SwarmStats) => boolean,
  withinMs = 100_000,
): Promise<SwarmStats> {
  const deadline = Date.now() + withinMs;
  let version = -1;
  let stats: SwarmStats | undefined;
  while (Date.now() < deadline) {
    const url = `${tracker.statsUrl}/${infoHash}${version >= 0 ? `?since=${version}&wait=10` : ''}`;
    const response = await request(url);
    stats = (await response.body.json()) as SwarmStats;
    if (accept(stats)) return stats;
    version = stats.version;
  }
  throw new Error(`the tracker's swarm never became as awaited within ${withinMs} ms: ${JSON.stringify(stats)}`);
}

/** The file's text once `accept` holds (checked every 50 ms, for up to 10 s: the access log is written in batches). */
async function fileWhen(path: string, accept: (text: string) => boolean): Promise<string> {
  for (let tries = 0; tries < 200; tries += 1) {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text !== null && accept(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${path} never showed what was awaited`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-e2e-'));
  dataDir = join(dir, 'store');
  tracker = await startTrackerCommand(['--interval', '60']);
});

afterAll(async () => {
  await tracker?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('edgepeer agent, end to end', () => {
  let agent: RunningAgent;
  let infoHash: string;
  const content = randomBytes(5 * 1024 * 1024 + 4321);

  it('takes an ingest through the CLI while it runs', async () => {
    agent = await startAgent();
    const file = join(dir, 'movie.bin');
    await writeFile(file, content);
    const result = await edgepeer(['ingest', file, '--piece-length', '256KiB', '--data-dir', dataDir, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines[0]).toMatchObject({ status: 'ingested', pieces: 21, piecesHeld: 21 });
    infoHash = String(result.lines[0]?.infoHash);
    const status = await edgepeer(['status', '--data-dir', dataDir, '--json']);
    expect(status.lines[0], JSON.stringify(status.lines[0])).toMatchObject({ objects: 1, objectsComplete: 1 });
  });

  it('is found through the tracker by a libtorrent leecher that downloads from it', async () => {
    await swarmWhen(infoHash, (s) => s.networkPeers.length === 1 && s.seeds === 1);
    const torrent = join(dir, 'movie.torrent');
    expect((await edgepeer(['torrent', infoHash, '-o', torrent, '--data-dir', dataDir])).code).toBe(0);
    expect(parseTorrent(await readFile(torrent)).announceList).toEqual([]);
    const save = join(dir, 'leech');
    await mkdir(save);
    const leecher = startLtLeecher(torrent, save, { tracker: tracker.announceUrl, timeoutS: 60 });
    const result = await leecher.result;
    await leecher.stop();
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(result.peers).toContain(`127.0.0.1:${agent.where.peerPort}`);
    expect((await readFile(join(save, 'movie.bin'))).equals(content)).toBe(true);
  });

  it('serves a range to curl, logs it, and goes on in a new log after logrotate and SIGHUP', async () => {
    const url = `${agent.where.httpBaseUrls[0]}/objects/${infoHash}/movie.bin`;
    const { stdout } = await run('curl', ['-sS', '-r', '1000000-1000099', url], { encoding: 'buffer' });
    expect(Buffer.compare(stdout, content.subarray(1_000_000, 1_000_100))).toBe(0);
    const logFile = join(dir, 'access.log');
    const line = new RegExp(`"GET /objects/${infoHash}/movie\\.bin HTTP/1\\.1" 206 100 "-" "curl/`);
    await fileWhen(logFile, (text) => line.test(text));
    await rename(logFile, `${logFile}.1`);
    agent.child.kill('SIGHUP');
    // The agent logs the reload; after it, new lines go to a new file at the same path.
    await fileWhen(logFile, () => true);
    await run('curl', ['-sS', '-o', '/dev/null', '-r', '0-9', url]);
    await fileWhen(logFile, (text) => text.includes('" 206 10 "-" "curl/'));
    // The same over HTTPS, with the certificate the config names (its CA given to curl).
    const secure = `https://127.0.0.1:${agent.where.httpsPort}/objects/${infoHash}/movie.bin`;
    const overTls = await run('curl', ['-sS', '--cacert', TLS_CERT, '-r', '2000000-2000049', secure], {
      encoding: 'buffer',
    });
    expect(Buffer.compare(overTls.stdout, content.subarray(2_000_000, 2_000_050))).toBe(0);
    // What the agent served of it so far: the leecher's download and curl's three ranges.
    const shown = await edgepeer(['show', infoHash, '--data-dir', dataDir, '--json']);
    const transfer = shown.lines[0]?.transfer as { uploaded: number; downloaded: number };
    // At least once each (a block resent after a dropped connection counts again), never twice over.
    expect(transfer.uploaded).toBeGreaterThanOrEqual(content.length + 160);
    expect(transfer.uploaded).toBeLessThan(content.length * 1.1);
    expect(transfer.downloaded).toBe(0);
  });

  it('tells a connected client of purged pieces, and closes it when the object goes', async () => {
    const peer = await connectPeer(agent.where.peerPort, infoHash, { extensions: ['lt_donthave'] });
    await waitFor(peer.wire, 'have-all');
    const told = waitFor<[string, Uint8Array]>(peer.wire, 'extended', (name) => name === 'lt_donthave', 20_000);
    const purged = await edgepeer(['purge', infoHash, '--pieces', '3', '--data-dir', dataDir, '--json']);
    expect(purged.lines[0]).toMatchObject({ status: 'pieces-purged', piecesRemoved: 1 });
    const [, payload] = await told;
    expect(Buffer.from(payload).readUInt32BE(0)).toBe(3);
    // The announce of the new bitmap reports what the agent sent: the leecher's download and curl's range.
    const swarm = await swarmWhen(infoHash, (s) => s.networkPeers[0]?.held === 20);
    expect(swarm.networkPeers[0]!.uploaded).toBeGreaterThanOrEqual(content.length + 100);
    expect(swarm.networkPeers[0]!.downloaded).toBe(0);
    const closed = once(peer.socket, 'close');
    expect((await edgepeer(['purge', infoHash, '--data-dir', dataDir])).code).toBe(0);
    await closed;
    // ... and the tracker hears `stopped` for it.
    await swarmWhen(infoHash, (s) => s.networkPeers.length === 0);
  }, 240_000);

  it('on SIGTERM announces stopped and exits 0', async () => {
    const again = await edgepeer([
      'ingest',
      join(dir, 'movie.bin'),
      '--piece-length',
      '256KiB',
      '--data-dir',
      dataDir,
      '--json',
    ]);
    expect(again.lines[0]).toMatchObject({ status: 'ingested' });
    await swarmWhen(infoHash, (s) => s.networkPeers.length === 1);
    const exited = once(agent.child, 'exit');
    agent.child.kill('SIGTERM');
    const [code] = (await exited) as [number];
    expect(code).toBe(0);
    expect(agent.lines.map((l) => JSON.parse(l).event)).toEqual(['listening', 'stopped']);
    await swarmWhen(infoHash, (s) => s.networkPeers.length === 0);
    expect(existsSync(join(dataDir, 'agent.json'))).toBe(false);
  }, 240_000);

  it('after kill -9 during an ingest, restarts with a consistent store and nothing verified lost', async () => {
    agent = await startAgent();
    const big = join(dir, 'big.bin');
    await writeFile(big, randomBytes(64 * 1024 * 1024));
    await run('mktorrent', ['-l', '16', '-o', join(dir, 'big.torrent'), big]);
    const index = join(dataDir, 'index');
    const journalChanged = new Promise<void>((resolve) => {
      const watcher = watch(index, () => {
        watcher.close();
        resolve();
      });
    });
    // The CLI hands the ingest to the agent, which writes pieces into the store: kill the agent meanwhile.
    const ingest = edgepeer(['ingest', big, '--torrent', join(dir, 'big.torrent'), '--data-dir', dataDir, '--json']);
    await journalChanged;
    agent.child.kill('SIGKILL');
    await once(agent.child, 'exit');
    const interrupted = await ingest;
    expect(interrupted.code).not.toBe(0);

    const reader = await openStore(dataDir, { mode: 'read' });
    const bigObject = reader.list().find((o) => o.name === 'big.bin');
    const heldAfterCrash: number[] = [];
    for (let i = 0; bigObject && i < bigObject.bitfield.length; i++) {
      if (!bigObject.bitfield.get(i)) continue;
      heldAfterCrash.push(i);
      const data = await reader.readPiece(bigObject.infoHash, i);
      expect(createHash('sha1').update(data).digest().equals(pieceHash(bigObject.metainfo, i))).toBe(true);
    }
    await reader.close();

    agent = await startAgent();
    const ls = await edgepeer(['ls', '--data-dir', dataDir, '--json']);
    const after = ls.lines.find((l) => l.name === 'big.bin');
    expect(Number(after?.piecesHeld ?? 0)).toBe(heldAfterCrash.length);
    const resumed = await edgepeer([
      'ingest',
      big,
      '--torrent',
      join(dir, 'big.torrent'),
      '--data-dir',
      dataDir,
      '--json',
    ]);
    expect(resumed.lines[0]).toMatchObject({ status: 'ingested', pieces: 1024, piecesHeld: 1024 });
    expect(resumed.lines[0]?.piecesAdded).toBe(1024 - heldAfterCrash.length);
    agent.child.kill('SIGTERM');
    expect((await once(agent.child, 'exit'))[0]).toBe(0);
  });
});
