import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeTorrent, type Metainfo, parseTorrent } from '../../src/metainfo/index.ts';
import { boundContact, type Kamailio, startKamailio } from '../fixtures/kamailio/kamailio.ts';
import { edgepeer } from '../helpers/cli.ts';
import { type RunningDaemon, startDaemon as start, stopDaemon as stop } from '../helpers/daemon.ts';
import { type NginxOrigin, startNginx } from '../helpers/nginx.ts';
import { ARIA2_COMMON, freePort, runProgram, spawnAria2 } from '../wire/interop-support.ts';
import { ltLeech, type RunningEdgepeerTracker, startTrackerCommand } from './tracker-support.ts';

const PIECE = 256 * 1024;
const CONTENT = randomBytes(48 * PIECE + 4321);
const SHA1 = createHash('sha1').update(CONTENT).digest('hex');
const PASSWORD = 'peer-secret';

let dir: string;
let tracker: RunningEdgepeerTracker;
let kamailio: Kamailio;
let origin: NginxOrigin;
let originRoot: string;
let controller: RunningDaemon;
const controllerDir = () => join(dir, 'controller');
const edges: RunningDaemon[] = [];

/** An edge agent from a config file: IMS and a tracker configured too, to show an edge uses neither. */
async function startEdge(index: number, token: string | null): Promise<RunningDaemon> {
  const configFile = join(dir, `edge${index}.yaml`);
  await writeFile(
    configFile,
    [
      `dataDir: ${join(dir, `edge${index}`)}`,
      'logLevel: warn',
      `trackers: [${tracker.announceUrl}]`,
      'peer: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      'admin: { listen: "127.0.0.1:0" }',
      'scrub: { rate: 0 }',
      'controller:',
      `  url: ${controller.listening.edgeUrl}`,
      ...(token === null ? [] : [`  enrolToken: ${token}`]),
      'ims:',
      `  registrar: sip:127.0.0.1:${kamailio.port}`,
      `  impi: peer${index}@ims.example.test`,
      `  impu: sip:peer${index}@ims.example.test`,
      `  passwordFile: ${join(dir, 'ims-password')}`,
      '  transport: udp',
      '',
    ].join('\n'),
  );
  return start(['agent', '--config', configFile, '--json']);
}

/** The controller's admin API, with its token. */
async function admin(path: string): Promise<unknown> {
  const token = (await readFile(join(controllerDir(), 'admin.token'), 'utf8')).trim();
  const response = await request(`${controller.listening.adminUrl}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return response.body.json();
}

interface EdgeLine {
  id: string;
  health: string;
  httpBaseUrl: string | null;
  pieces: number;
}

async function edgeList(): Promise<EdgeLine[]> {
  const listed = await edgepeer(['edges', '--data-dir', controllerDir(), '--json']);
  expect(listed.code, listed.stderr).toBe(0);
  return listed.lines as unknown as EdgeLine[];
}

/** The tracker's statistics of an object. */
interface SwarmView {
  networkPeers: Array<{ held: number | null; objectUrls: string[] }>;
  seeds: number;
}

async function swarm(infoHash: string): Promise<SwarmView> {
  const response = await request(`${tracker.statsUrl}/${infoHash}`);
  return (await response.body.json()) as SwarmView;
}

async function sha1Of(path: string): Promise<string> {
  return createHash('sha1')
    .update(await readFile(path))
    .digest('hex');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-controller-cdn-'));
  // Its own temp dir: nginx's workers cannot enter the test's (mode 0700).
  originRoot = await mkdtemp(join(tmpdir(), 'edgepeer-controller-origin-'));
  await writeFile(join(originRoot, 'film.bin'), CONTENT, { mode: 0o644 });
  origin = await startNginx(originRoot);
  tracker = await startTrackerCommand(['--interval', '60']);
  kamailio = await startKamailio();
  await writeFile(join(dir, 'ims-password'), `${PASSWORD}\n`, { mode: 0o600 });
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
    // A small cache: every download goes on fetching pieces from the edges.
    '--cache-size',
    '1MiB',
    '--tracker',
    tracker.announceUrl,
    '--ims-registrar',
    `sip:127.0.0.1:${kamailio.port}`,
    '--ims-impi',
    'peer90@ims.example.test',
    '--ims-impu',
    'sip:peer90@ims.example.test',
    '--ims-password-file',
    join(dir, 'ims-password'),
    '--ims-transport',
    'udp',
    '--log-level',
    'warn',
    '--json',
  ]);
  for (let index = 0; index < 3; index += 1) {
    const created = await edgepeer(['controller', 'token', 'create', '--data-dir', controllerDir(), '--json']);
    expect(created.code, created.stderr).toBe(0);
    edges.push(await startEdge(index, created.lines[0]?.token as string));
  }
  await vi.waitFor(async () => expect((await edgeList()).map((edge) => edge.health)).toEqual(['up', 'up', 'up']), {
    timeout: 15_000,
    interval: 200,
  });
}, 90_000);

afterAll(async () => {
  await Promise.all(edges.map((edge) => stop(edge)));
  await stop(controller);
  await tracker?.stop();
  await kamailio?.dispose();
  await origin?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (originRoot) await rm(originRoot, { recursive: true, force: true });
});

describe('a controller and three edges as one CDN', () => {
  let infoHash: string;
  let metainfo: Metainfo;
  let torrentFile: string;

  it('registers the CDN in IMS once: the controller, never an edge', async () => {
    await vi.waitFor(async () => expect(await boundContact(kamailio.port, 'peer90')).toMatch(/^sip:/), {
      timeout: 10_000,
      interval: 200,
    });
    for (let index = 0; index < 3; index += 1)
      expect(await boundContact(kamailio.port, `peer${index}`)).toBeUndefined();
  });

  it('places an ingest through the controller on 2 of the 3 edges, each fetching from the origin', async () => {
    const ingested = await edgepeer([
      'ingest',
      '--controller',
      controller.listening.adminUrl,
      '--controller-token',
      join(controllerDir(), 'admin.token'),
      `${origin.url}/film.bin`,
      '--piece-length',
      '256KiB',
      '--json',
    ]);
    expect(ingested.code, ingested.stdout + ingested.stderr).toBe(0);
    const results = ingested.lines as Array<{ status: string; edge: string; infoHash: string }>;
    expect(results.map((result) => result.status)).toEqual(['ingested', 'ingested']);
    expect(new Set(results.map((result) => result.edge)).size).toBe(2);
    infoHash = results[0]!.infoHash;
    const holders = (await edgeList()).filter((edge) => results.some((result) => result.edge === edge.id));
    expect(holders).toHaveLength(2);
    const response = await request(`${controller.listening.adminUrl}/v1/objects/${infoHash}/torrent`, {
      headers: { authorization: `Bearer ${(await readFile(join(controllerDir(), 'admin.token'), 'utf8')).trim()}` },
    });
    metainfo = parseTorrent(Buffer.from(await response.body.arrayBuffer()));
    expect(metainfo.pieceCount).toBe(49);
    // Sources come only from the tracker or the test: a bare torrent.
    torrentFile = join(dir, 'film.torrent');
    await writeFile(torrentFile, encodeTorrent({ ...metainfo, announceList: [], urlList: [] }));
  });

  it('announces the object once for the CDN, with the union bitmap', async () => {
    await vi.waitFor(
      async () => expect((await swarm(infoHash)).networkPeers).toEqual([expect.objectContaining({ held: 49 })]),
      { timeout: 15_000, interval: 200 },
    );
  });

  it('shows itself in edgepeer status and its metrics', async () => {
    const status = await edgepeer(['status', '--data-dir', controllerDir(), '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.lines[0]).toMatchObject({
      role: 'controller',
      objects: 1,
      edges: { enrolled: 3, up: 3, serving: 3 },
    });
    const text = await edgepeer(['status', '--data-dir', controllerDir()]);
    expect(text.stdout).toMatch(/^edges +3 enrolled, 3 up, 3 serving/m);
    // Trackers and the registration as text, times in ISO 8601, not JSON with epoch milliseconds.
    expect(text.stdout).toMatch(/^tracker +http:\/\/127\.0\.0\.1:\d+\/announce: ok, last \d{4}-\d\d-\d\dT[\d:]+Z;/m);
    expect(text.stdout).toMatch(
      /^ims +sip:peer90@ims\.example\.test via sip:127\.0\.0\.1:\d+ \(udp\): registered until \d{4}-/m,
    );
    expect(text.stdout).not.toContain('{');
    const metrics = await (await request(`${controller.listening.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/^edgepeer_controller_edges\{health="up"\} 3$/m);
    expect(metrics).toMatch(/^edgepeer_controller_enrolments_total\{outcome="enrolled"\} 3$/m);
    expect(metrics).toMatch(/^edgepeer_ims_registered\{impu="sip:peer90@ims.example.test"\} 1$/m);
  });

  it('libtorrent downloads through the controller peer wire, found through the tracker', async () => {
    const save = join(dir, 'lt-wire');
    const result = await ltLeech(torrentFile, save, { tracker: tracker.announceUrl, timeoutS: 60 });
    expect(result.seeding, JSON.stringify(result)).toBe(true);
    expect(result.peers).toEqual([`127.0.0.1:${controller.listening.peerPort}`]);
    expect(await sha1Of(join(save, 'film.bin'))).toBe(SHA1);
  });

  it('libtorrent downloads with the controller URL as its only web seed (redirected to edges)', async () => {
    const save = join(dir, 'lt-webseed');
    // The tracker hands out the CDN's web seed while the union it last heard holds the whole object: after
    // the peer wire download above, an edge set aside for a failed fetch may have made one announce partial
    // until the next (the announce client's min spacing, 30 s).
    await vi.waitFor(
      async () =>
        expect((await swarm(infoHash)).networkPeers).toEqual([
          expect.objectContaining({ held: 49, objectUrls: [expect.stringContaining(`/objects/${infoHash}/`)] }),
        ]),
      { timeout: 60_000, interval: 500 },
    );
    const result = await ltLeech(torrentFile, save, { webSeedsFrom: tracker.announceUrl, timeoutS: 60 });
    expect(result.seeding, JSON.stringify(result)).toBe(true);
    expect(result.webSeeds).toEqual([`${controller.listening.httpBaseUrls[0]}/objects/${infoHash}/`]);
    expect(await sha1Of(join(save, 'film.bin'))).toBe(SHA1);
    const status = (await admin('/v1/status')) as { http: { redirected: number; responses: Record<string, number> } };
    expect(status.http.redirected).toBeGreaterThan(0);
    expect(status.http.responses['2xx']).toBe(0);
  }, 200_000);

  it('aria2c downloads with the controller URL as its only web seed', async () => {
    const save = join(dir, 'aria2-webseed');
    const seeded = join(dir, 'film-webseed.torrent');
    await writeFile(
      seeded,
      encodeTorrent({
        ...metainfo,
        announceList: [],
        urlList: [`${controller.listening.httpBaseUrls[0]}/objects/${infoHash}/`],
      }),
    );
    const result = await runProgram(
      'aria2c',
      [...ARIA2_COMMON, '--max-tries=3', `--dir=${save}`, `--listen-port=${await freePort()}`, seeded],
      90_000,
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await sha1Of(join(save, 'film.bin'))).toBe(SHA1);
  });

  it('aria2c downloads through the peer wire while a holding edge is killed: it completes and verifies', async () => {
    const save = join(dir, 'aria2-wire');
    const aria2 = spawnAria2([
      '--max-tries=3',
      `--dir=${save}`,
      `--listen-port=${await freePort()}`,
      `--bt-tracker=${tracker.announceUrl}`,
      '--max-download-limit=2M',
      torrentFile,
    ]);
    // Mid-download: some pieces have come through the controller.
    const fetchedBefore = ((await admin('/v1/status')) as { fetches: { fetched: number } }).fetches.fetched;
    await vi.waitFor(
      async () =>
        expect(((await admin('/v1/status')) as { fetches: { fetched: number } }).fetches.fetched).toBeGreaterThan(
          fetchedBefore + 4,
        ),
      { timeout: 30_000, interval: 100 },
    );
    const holders = (await edgeList()).filter((edge) => edge.pieces === 49);
    const victim = edges.find((edge) => edge.listening.httpBaseUrls[0] === holders[0]!.httpBaseUrl)!;
    victim.child.kill('SIGKILL');
    const [code] = await aria2.exited;
    expect(code, aria2.output()).toBe(0);
    expect(await sha1Of(join(save, 'film.bin'))).toBe(SHA1);
    // The dead edge is down and its pieces left the union; the other holder still has them all.
    await vi.waitFor(
      async () => {
        const listed = await edgeList();
        const dead = listed.find((edge) => edge.id === holders[0]!.id)!;
        expect(dead).toMatchObject({ health: 'down', pieces: 0 });
      },
      { timeout: 10_000, interval: 100 },
    );
    expect((await swarm(infoHash)).networkPeers).toEqual([expect.objectContaining({ held: 49 })]);
    // It rejoins with its store as it was: no token needed, nothing hashed again.
    const index = edges.indexOf(victim);
    edges[index] = await startEdge(index, null);
    await vi.waitFor(
      async () =>
        expect((await edgeList()).find((edge) => edge.id === holders[0]!.id)).toMatchObject({
          health: 'up',
          pieces: 49,
        }),
      { timeout: 15_000, interval: 200 },
    );
    const metrics = await (await request(`${edges[index]!.listening.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/^edgepeer_hashed_bytes_total 0$/m);
  });

  it('purges through the controller: every edge drops the object, the tracker hears it', async () => {
    const purged = await edgepeer([
      'purge',
      infoHash,
      '--controller',
      controller.listening.adminUrl,
      '--controller-token',
      join(controllerDir(), 'admin.token'),
      '--json',
    ]);
    expect(purged.code, purged.stderr).toBe(0);
    // Both holders purge. One may have missed heartbeats on a loaded machine (300 ms here): it is down for
    // the controller then, its purge queued and done when it is back.
    const statuses = purged.lines.map((line) => line.status);
    expect(statuses.filter((status) => status === 'purged').length, JSON.stringify(purged.lines)).toBeGreaterThan(0);
    expect(
      statuses.every((status) => status === 'purged' || status === 'queued'),
      JSON.stringify(purged.lines),
    ).toBe(true);
    await vi.waitFor(
      async () => {
        for (let index = 0; index < 3; index += 1) {
          const listed = await edgepeer(['ls', '--data-dir', join(dir, `edge${index}`), '--json']);
          expect(listed.lines, `edge${index}`).toEqual([]);
        }
      },
      { timeout: 15_000, interval: 500 },
    );
    await vi.waitFor(async () => expect((await swarm(infoHash)).networkPeers).toEqual([]), {
      timeout: 10_000,
      interval: 200,
    });
  });
});
