// Network Storage Control in the controller with real processes (TR 23.844 6.2.2, docs/controller.md,
// "Storage control"): `edgepeer controller --storage-control`, two edge agents, `edgepeer tracker`, nginx as
// the origin (its access log shows the ranges fetched) and python3-libtorrent leechers that know only the
// tracker. An operator put the first pieces of an object on one edge. When leechers come, the controller
// places the pieces the swarm lacks on that edge (it holds the object), the edge fetches them from nginx,
// the leechers get them through the controller; once the leechers seed, the controller purges the plentiful
// pieces from the edge. The tracker sees the CDN as one peer throughout. Then a swarm the fleet does not
// know: the tracker (--invite-below 1) invites the CDN, the controller joins it from its catalogue and
// places the pieces on an edge (TR 23.844 6.2.3 step 2). Every wait is on an event or a poll of real
// state, with a deadline.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildMetainfo, encodeTorrent } from '../../src/metainfo/index.ts';
import type { PolicyExplanation } from '../../src/policy/index.ts';
import { edgepeer } from '../helpers/cli.ts';
import { type RunningDaemon, startDaemon as start, stopDaemon as stop } from '../helpers/daemon.ts';
import { type NginxOrigin, startNginx } from '../helpers/nginx.ts';
import {
  followStats,
  type LtLeecher,
  type RunningEdgepeerTracker,
  startLtLeecher,
  startTrackerCommand,
  writeBareTorrent,
} from './tracker-support.ts';

const PIECE = 32 * 1024;
const PIECES = 12;
const CONTENT = randomBytes(PIECES * PIECE);
const HOLD_MS = 3000;

let dir: string;
let originRoot: string;
let origin: NginxOrigin;
let tracker: RunningEdgepeerTracker;
let controller: RunningDaemon;
const edges: RunningDaemon[] = [];
const leechers: LtLeecher[] = [];
const controllerDir = () => join(dir, 'controller');
const edgeDir = (index: number) => join(dir, `edge${index}`);

function metainfoOf(name: string, content: Buffer) {
  const hashes: Buffer[] = [];
  for (let offset = 0; offset < content.length; offset += PIECE) {
    hashes.push(
      createHash('sha1')
        .update(content.subarray(offset, offset + PIECE))
        .digest(),
    );
  }
  return buildMetainfo({
    name,
    pieceLength: PIECE,
    multiFile: false,
    files: [{ path: [], length: content.length }],
    pieceHashes: Buffer.concat(hashes),
  });
}
const metainfo = metainfoOf('film.bin', CONTENT);
/** The object of a swarm the fleet does not know until the tracker invites the CDN. */
const INVITED = randomBytes(6 * PIECE);
const invited = metainfoOf('invited.bin', INVITED);

interface LogLine {
  msg: string;
  infoHash?: string;
  edgeId?: string;
  pieces?: number[];
  [field: string]: unknown;
}

/** The controller's JSON log lines so far. */
function controllerLog(): LogLine[] {
  return controller
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

async function logged(matches: (line: LogLine) => boolean, what: string, timeout = 60_000): Promise<LogLine> {
  return vi.waitFor(
    () => {
      const found = controllerLog().find(matches);
      if (found === undefined) throw new Error(`the controller never logged ${what}`);
      return found;
    },
    { timeout, interval: 100 },
  );
}

async function startEdge(index: number, token: string): Promise<RunningDaemon> {
  const configFile = join(dir, `edge${index}.yaml`);
  await writeFile(
    configFile,
    [
      `dataDir: ${edgeDir(index)}`,
      'logLevel: warn',
      'peer: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      'admin: { listen: "127.0.0.1:0" }',
      'scrub: { rate: 0 }',
      'controller:',
      `  url: ${controller.listening.edgeUrl}`,
      `  enrolToken: ${token}`,
      '',
    ].join('\n'),
  );
  return start(['agent', '--config', configFile, '--json']);
}

async function explain(infoHash = metainfo.infoHash): Promise<PolicyExplanation> {
  const result = await edgepeer(['policy', 'explain', infoHash, '--data-dir', controllerDir(), '--json']);
  expect(result.code, result.stderr).toBe(0);
  return result.lines[0] as unknown as PolicyExplanation;
}

/** The edges, with the pieces each holds, from `edgepeer edges`. */
async function edgeRows(): Promise<Array<{ id: string; pieces: number }>> {
  const listed = await edgepeer(['edges', '--data-dir', controllerDir(), '--json']);
  expect(listed.code, listed.stderr).toBe(0);
  return listed.lines as Array<{ id: string; pieces: number }>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-sc-controller-'));
  // Its own temp dir: nginx's workers cannot enter the test's (mode 0700).
  originRoot = await mkdtemp(join(tmpdir(), 'edgepeer-sc-origin-'));
  await writeFile(join(originRoot, 'film.bin'), CONTENT, { mode: 0o644 });
  await writeFile(join(originRoot, 'invited.bin'), INVITED, { mode: 0o644 });
  origin = await startNginx(originRoot, { accessLog: true });
  tracker = await startTrackerCommand(['--interval', '60', '--min-interval', '1', '--invite-below', '1']);
  // The catalogue holds the invited object's .torrent; its url-list names the origin's folder.
  await mkdir(join(dir, 'catalogue'));
  await writeFile(
    join(dir, 'catalogue', `${invited.infoHash}.torrent`),
    encodeTorrent({ ...invited, urlList: [`${origin.url}/`] }),
  );
  controller = await start([
    'controller',
    '--data-dir',
    controllerDir(),
    '--peer-port',
    '0',
    '--peer-host',
    '127.0.0.1',
    '--http-port',
    '0',
    '--http-host',
    '127.0.0.1',
    '--edge-listen',
    '127.0.0.1:0',
    '--admin-listen',
    '127.0.0.1:0',
    '--heartbeat',
    '300',
    '--tracker',
    tracker.announceUrl,
    '--storage-control',
    '--storage-control-low-copies',
    '1',
    '--storage-control-high-copies',
    '2',
    '--storage-control-hold',
    String(HOLD_MS),
    '--storage-control-interval',
    '500',
    '--storage-control-stale',
    '30000',
    '--storage-control-catalogue',
    join(dir, 'catalogue'),
    '--log-level',
    'info',
    '--json',
  ]);
  for (let index = 0; index < 2; index += 1) {
    const created = await edgepeer(['controller', 'token', 'create', '--data-dir', controllerDir(), '--json']);
    expect(created.code, created.stderr).toBe(0);
    edges.push(await startEdge(index, created.lines[0]?.token as string));
  }
  await vi.waitFor(async () => expect(await edgeRows()).toHaveLength(2), { timeout: 15_000, interval: 200 });
  // The operator puts the first 4 pieces on edge 0; the .torrent's url-list names the origin.
  const torrent = join(dir, 'film.torrent');
  await writeFile(torrent, encodeTorrent({ ...metainfo, urlList: [`${origin.url}/`] }));
  const ingest = await edgepeer([
    'ingest',
    `${origin.url}/film.bin`,
    '--torrent',
    torrent,
    '--pieces',
    '0-3',
    '--data-dir',
    edgeDir(0),
    '--json',
  ]);
  expect(ingest.code, ingest.stdout + ingest.stderr).toBe(0);
}, 90_000);

afterAll(async () => {
  for (const leecher of leechers) await leecher.stop();
  await Promise.all(edges.map((edge) => stop(edge)));
  await stop(controller);
  await tracker?.stop();
  await origin?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (originRoot) await rm(originRoot, { recursive: true, force: true });
});

describe('storage control in the controller, over two edges', () => {
  it('places the pieces the swarm lacks on the edge holding the object, from the origin, and they are served', async () => {
    const { infoHash } = metainfo;
    const follower = followStats(tracker.statsUrl, infoHash);
    try {
      // The CDN is one peer at the tracker: the controller, holding the union (edge 0's 4 pieces).
      await follower.until((s) => s.networkPeers.length === 1 && s.networkPeers[0]!.held === 4, 30_000);
      const holder = (await edgeRows()).find((edge) => edge.pieces > 0)?.id;
      expect(holder).toBeDefined();
      const idle = await explain();
      expect(idle.stats).toBe('ok');
      expect(idle.pieces[6]).toMatchObject({ held: false, action: 'skip', reason: 'no-demand' });
      const before = (await origin.requests()).length;

      // Two leechers on slow links (64 KiB/s: the 4 pieces held take 2 s) are still downloading when the
      // placed pieces land.
      const bare = await writeBareTorrent(join(dir, 'torrents'), metainfo);
      for (const name of ['l1', 'l2']) {
        leechers.push(
          startLtLeecher(bare, join(dir, name), { tracker: tracker.announceUrl, stay: true, downloadLimit: 64 * 1024 }),
        );
      }
      const placed = await logged(
        (l) => l.msg === 'storage control: placing pieces on an edge' && l.infoHash === infoHash,
        'a placement',
      );
      // On the edge holding the object already (the two have the same room and load).
      expect(placed.edgeId).toBe(holder);
      expect(placed.pieces).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
      await logged((l) => l.msg === 'storage control: ingest done' && l.infoHash === infoHash, 'ingest done');
      // Only the missing pieces came from nginx, by range, fetched by the edge.
      const ranges = (await origin.requests()).slice(before);
      expect(ranges.length).toBeGreaterThan(0);
      for (const line of ranges) {
        expect(line).toMatch(/^GET \/film\.bin bytes=\d+-\d+ 206$/);
        expect(Number(/bytes=(\d+)-/.exec(line)?.[1])).toBeGreaterThanOrEqual(4 * PIECE);
      }
      // The tracker hears the union grow, still from one peer.
      await follower.until((s) => s.networkPeers.length === 1 && s.networkPeers[0]!.held === PIECES, 15_000);

      for (const leecher of leechers) {
        const result = await leecher.result;
        expect(result).toMatchObject({ seeding: true, problems: [] });
        expect(result.peers).toContain(`127.0.0.1:${controller.listening.peerPort}`);
      }
      for (const name of ['l1', 'l2']) expect((await readFile(join(dir, name, 'film.bin'))).equals(CONTENT)).toBe(true);
      const explained = await explain();
      expect(explained.lastOperation).toMatchObject({ action: 'ingest', pieces: [4, 5, 6, 7, 8, 9, 10, 11], ok: true });
      // The controller keeps what it placed, and when, for TTLs across its restarts.
      const record = JSON.parse(await readFile(join(controllerDir(), 'storage-control', 'ingested.json'), 'utf8'));
      expect(Object.keys(record.swarms[explained.infoHash].ingestedAt)).toEqual([
        '4',
        '5',
        '6',
        '7',
        '8',
        '9',
        '10',
        '11',
      ]);
      const metrics = await (await fetch(`${controller.listening.adminUrl}/metrics`)).text();
      expect(
        metrics
          .split('\n')
          .filter((l) => l.includes('storage_control'))
          .join('\n'),
      ).toContain('edgepeer_storage_control_pieces_total{action="ingest",reason="rare"} 8');
    } finally {
      follower.close();
    }
  });

  it('purges the pieces from the edge once the two leechers seed them for the hold time', async () => {
    const { infoHash } = metainfo;
    const follower = followStats(tracker.statsUrl, infoHash);
    try {
      const purged = await logged(
        (l) => l.msg === 'storage control: purge (plentiful)' && l.infoHash === infoHash,
        'the purge',
      );
      expect(purged.pieces).toEqual([...Array(PIECES).keys()]);
      // The edge dropped them; the controller's announce tells the tracker the CDN holds none of them now.
      await follower.until((s) => s.networkPeers.every((peer) => peer.held === 0), 15_000);
      expect((await edgeRows()).every((edge) => edge.pieces === 0)).toBe(true);
      expect((await explain()).lastOperation).toMatchObject({ action: 'purge', ok: true });
    } finally {
      follower.close();
    }
  });

  it('joins a swarm the tracker invites it to, from its catalogue, and places the pieces on an edge', async () => {
    const { infoHash } = invited;
    const follower = followStats(tracker.statsUrl, infoHash);
    try {
      const before = (await origin.requests()).length;
      const bare = await writeBareTorrent(join(dir, 'torrents'), invited);
      // A leecher alone in a swarm no edge serves: its rarest piece has no copy, so the tracker invites.
      const first = startLtLeecher(bare, join(dir, 'i1'), { tracker: tracker.announceUrl, timeoutS: 120, stay: true });
      leechers.push(first);
      const joined = await logged(
        (l) => l.msg === 'storage control: joined a swarm the tracker invited it to' && l.infoHash === infoHash,
        'that it joined the invited swarm',
      );
      expect(joined.origin).toBe(`${origin.url}/invited.bin`);
      const placed = await logged(
        (l) => l.msg === 'storage control: placing pieces on an edge' && l.infoHash === infoHash,
        'a placement of the invited object',
      );
      expect(placed.pieces).toEqual([0, 1, 2, 3, 4, 5]);
      await logged((l) => l.msg === 'storage control: ingest done' && l.infoHash === infoHash, 'ingest done');
      // The edge fetched the pieces from the origin by range; the CDN (one peer) holds them at the tracker.
      const ranges = (await origin.requests()).slice(before).filter((line) => line.includes('/invited.bin'));
      expect(ranges.length).toBeGreaterThan(0);
      await follower.until((s) => s.networkPeers.length === 1 && s.networkPeers[0]!.held === 6, 15_000);
      expect((await edgeRows()).find((edge) => edge.id === placed.edgeId)?.pieces).toBeGreaterThanOrEqual(6);

      // A second leecher gets the CDN in its peer list (the first hears of it only at its next announce, in
      // 5 min); the first completes through the second.
      const second = startLtLeecher(bare, join(dir, 'i2'), { tracker: tracker.announceUrl, timeoutS: 120, stay: true });
      leechers.push(second);
      const result = await second.result;
      expect(result).toMatchObject({ seeding: true, problems: [] });
      expect(result.peers).toContain(`127.0.0.1:${controller.listening.peerPort}`);
      expect((await first.result).seeding).toBe(true);
      for (const name of ['i1', 'i2']) {
        expect((await readFile(join(dir, name, 'invited.bin'))).equals(INVITED)).toBe(true);
      }
      // Explained as any controlled object (its last operation is the ingest, or the purge once both seed).
      expect((await explain(infoHash)).stats).toBe('ok');
      const metrics = await (await fetch(`${controller.listening.adminUrl}/metrics`)).text();
      expect(metrics).toContain('edgepeer_storage_control_joins_total{result="ok"} 1');
    } finally {
      follower.close();
    }
  }, 180_000);
});
