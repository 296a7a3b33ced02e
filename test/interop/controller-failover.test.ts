import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultInstanceId } from '../../src/ims/index.ts';
import { encodeTorrent, parseTorrent } from '../../src/metainfo/index.ts';
import { bindingCount, boundContact, type Kamailio, startKamailio } from '../fixtures/kamailio/kamailio.ts';
import { type RedisServer, startRedis } from '../fixtures/redis.ts';
import { edgepeer } from '../helpers/cli.ts';
import { type RunningDaemon, startDaemon, stopDaemon } from '../helpers/daemon.ts';
import { type NginxOrigin, startNginx } from '../helpers/nginx.ts';
import { freePort, spawnAria2 } from '../wire/interop-support.ts';
import { type RunningEdgepeerTracker, startTrackerCommand } from './tracker-support.ts';

const PIECE = 256 * 1024;
const CONTENT = randomBytes(40 * PIECE + 999);
const SHA1 = createHash('sha1').update(CONTENT).digest('hex');
const IMPU = 'peer91';

let dir: string;
let redis: RedisServer;
let tracker: RunningEdgepeerTracker;
let kamailio: Kamailio;
let origin: NginxOrigin;
let originRoot: string;
const controllers: RunningDaemon[] = [];
const edges: RunningDaemon[] = [];
const controllerDir = (index: number) => join(dir, `controller${index}`);

function startController(index: number): Promise<RunningDaemon> {
  return startDaemon([
    'controller',
    '--data-dir',
    controllerDir(index),
    '--state',
    redis.url,
    ...['--peer-port', '0', '--peer-host', '127.0.0.1', '--http-port', '0', '--http-host', '127.0.0.1'],
    ...['--edge-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--heartbeat', '300'],
    ...['--cache-size', '1MiB', '--tracker', tracker.announceUrl],
    ...['--ims-registrar', `sip:127.0.0.1:${kamailio.port}`, '--ims-transport', 'udp'],
    ...['--ims-impi', `${IMPU}@ims.example.test`, '--ims-impu', `sip:${IMPU}@ims.example.test`],
    ...['--ims-password-file', join(dir, 'ims-password'), '--log-level', 'warn', '--json'],
  ]);
}

/** An edge that reports to both controllers (the next when one fails). */
async function startEdge(index: number, token: string): Promise<RunningDaemon> {
  const configFile = join(dir, `edge${index}.yaml`);
  const urls = controllers.map((controller) => controller.listening.edgeUrl as string);
  await writeFile(
    configFile,
    [
      `dataDir: ${join(dir, `edge${index}`)}`,
      'logLevel: warn',
      'peer: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      'admin: { listen: "127.0.0.1:0" }',
      'scrub: { rate: 0 }',
      'controller:',
      `  url: [${urls.join(', ')}]`,
      `  enrolToken: ${token}`,
      '',
    ].join('\n'),
  );
  return startDaemon(['agent', '--config', configFile, '--json']);
}

async function adminOf(index: number, path: string): Promise<Record<string, unknown>> {
  const token = (await readFile(join(controllerDir(index), 'admin.token'), 'utf8')).trim();
  const response = await request(`${controllers[index]!.listening.adminUrl}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return (await response.body.json()) as Record<string, unknown>;
}

/** The index of the controller holding the lease, once exactly one of the running ones does. */
async function leaderIndex(running: number[]): Promise<number> {
  let leader = -1;
  await vi.waitFor(
    async () => {
      const leading = [];
      for (const index of running) if ((await adminOf(index, '/v1/status')).leader === true) leading.push(index);
      expect(leading).toHaveLength(1);
      leader = leading[0]!;
    },
    { timeout: 15_000, interval: 200 },
  );
  return leader;
}

interface SwarmPeer {
  port: number;
  held: number | null;
}

async function swarmPeers(infoHash: string): Promise<SwarmPeer[]> {
  const response = await request(`${tracker.statsUrl}/${infoHash}`);
  return ((await response.body.json()) as { networkPeers: SwarmPeer[] }).networkPeers;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-controller-failover-'));
  // Its own temp dir: nginx's workers cannot enter the test's (mode 0700).
  originRoot = await mkdtemp(join(tmpdir(), 'edgepeer-failover-origin-'));
  await writeFile(join(originRoot, 'show.bin'), CONTENT, { mode: 0o644 });
  [origin, redis, tracker, kamailio] = await Promise.all([
    startNginx(originRoot),
    startRedis(),
    startTrackerCommand(['--interval', '60', '--min-interval', '1']),
    startKamailio(),
  ]);
  await writeFile(join(dir, 'ims-password'), 'peer-secret\n', { mode: 0o600 });
  controllers.push(await startController(0), await startController(1));
  for (let index = 0; index < 2; index += 1) {
    const created = await edgepeer(['controller', 'token', 'create', '--data-dir', controllerDir(0), '--json']);
    expect(created.code, created.stderr).toBe(0);
    edges.push(await startEdge(index, created.lines[0]?.token as string));
  }
}, 90_000);

afterAll(async () => {
  await Promise.all([...edges, ...controllers].map((running) => stopDaemon(running)));
  await tracker?.stop();
  await kamailio?.dispose();
  await redis?.dispose();
  await origin?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (originRoot) await rm(originRoot, { recursive: true, force: true });
});

describe('two controllers on one Redis, the leader killed mid-download', () => {
  it('completes the download through the new leader, with one IMS binding throughout', async () => {
    const first = await leaderIndex([0, 1]);
    const other = 1 - first;
    await vi.waitFor(async () => expect(await bindingCount(kamailio.port, IMPU)).toBe(1), {
      timeout: 10_000,
      interval: 200,
    });
    const firstContact = await boundContact(kamailio.port, IMPU);
    // One UA instance for the fleet, whatever host a controller runs on: not the host-derived default.
    const instanceOf = async (index: number) =>
      ((await adminOf(index, '/v1/status')) as { ims: { instanceId: string } | null }).ims?.instanceId;
    const fleetInstance = await instanceOf(first);
    expect(fleetInstance).toMatch(/^urn:uuid:/);
    expect(fleetInstance).not.toBe(defaultInstanceId(`sip:${IMPU}@ims.example.test`));

    const ingested = await edgepeer([
      'ingest',
      ...['--controller', controllers[first]!.listening.adminUrl],
      ...['--controller-token', join(controllerDir(first), 'admin.token')],
      `${origin.url}/show.bin`,
      ...['--piece-length', '256KiB', '--json'],
    ]);
    expect(ingested.code, ingested.stdout + ingested.stderr).toBe(0);
    const infoHash = (ingested.lines[0] as { infoHash: string }).infoHash;
    await vi.waitFor(
      async () =>
        expect(await swarmPeers(infoHash)).toEqual([
          expect.objectContaining({ port: controllers[first]!.listening.peerPort, held: 41 }),
        ]),
      { timeout: 20_000, interval: 200 },
    );
    const response = await request(`${controllers[first]!.listening.adminUrl}/v1/objects/${infoHash}/torrent`, {
      headers: {
        authorization: `Bearer ${(await readFile(join(controllerDir(first), 'admin.token'), 'utf8')).trim()}`,
      },
    });
    const metainfo = parseTorrent(Buffer.from(await response.body.arrayBuffer()));
    const torrentFile = join(dir, 'show.torrent');
    await writeFile(torrentFile, encodeTorrent({ ...metainfo, announceList: [], urlList: [] }));

    // The registrar's bindings for the CDN, sampled all along the failover: never two at once.
    const bindings: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        bindings.push(await bindingCount(kamailio.port, IMPU));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const save = join(dir, 'aria2');
    const aria2 = spawnAria2([
      '--max-tries=5',
      `--dir=${save}`,
      `--listen-port=${await freePort()}`,
      `--bt-tracker=${tracker.announceUrl}`,
      // Re-announce every second (it would wait the tracker's interval): it finds the new leader soon.
      '--bt-tracker-interval=1',
      '--max-download-limit=1M',
      torrentFile,
    ]);
    try {
      // Mid-download: the leader has sent some of the object, not all of it.
      await vi.waitFor(
        async () => {
          const status = (await adminOf(first, '/v1/status')) as { wire: { uploadedBytes: number } };
          expect(status.wire.uploadedBytes).toBeGreaterThan(2 * PIECE);
        },
        { timeout: 30_000, interval: 100 },
      );
      await stopDaemon(controllers[first], 'SIGKILL');

      expect(await leaderIndex([other])).toBe(other);
      // The CDN's entry goes on at the new leader's address (the dead one's, keyed by its address and
      // port, stays until the tracker expires it: nothing else may remove it).
      await vi.waitFor(
        async () =>
          expect(await swarmPeers(infoHash)).toContainEqual(
            expect.objectContaining({ port: controllers[other]!.listening.peerPort, held: 41 }),
          ),
        { timeout: 20_000, interval: 200 },
      );
      const [code] = await aria2.exited;
      expect(code, aria2.output()).toBe(0);
    } finally {
      aria2.child.kill('SIGKILL');
      sampling = false;
      await sampler;
    }
    const downloaded = await readFile(join(save, 'show.bin'));
    expect(createHash('sha1').update(downloaded).digest('hex')).toBe(SHA1);
    // The new leader's REGISTER took the place of the dead leader's binding.
    expect(Math.max(...bindings)).toBe(1);
    const lastContact = await boundContact(kamailio.port, IMPU);
    expect(lastContact).toMatch(/^sip:/);
    expect(lastContact).not.toBe(firstContact);
    expect(await bindingCount(kamailio.port, IMPU)).toBe(1);
    expect(await instanceOf(other)).toBe(fleetInstance);
    const edgesListed = await edgepeer(['edges', '--data-dir', controllerDir(other), '--json']);
    expect(edgesListed.lines.map((edge) => edge.health)).toEqual(['up', 'up']);
  }, 150_000);
});
