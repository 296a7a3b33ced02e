// Peer wire for authorised peers only, against python3-libtorrent: a private object (BEP 27) announced with
// passkeys to edgepeer's tracker; a libtorrent whose announce URL carries a subscriber's passkey downloads it
// from an agent with peerAuth: tracker, while a second libtorrent that was handed the agent's address
// without the tracker gets zero piece bytes. Then the same through a controller: the edge follows the
// allow-list as the controller relays it (no tracker URL or token of its own). Each client on its own
// loopback address (127.0.0.2, .3), so that the agent tells them apart; DHT, LSD, PEX, uTP, UPnP and
// NAT-PMP off.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccountingRecord, readRecords } from '../../src/accounting/index.ts';
import { Agent } from '../../src/agent/index.ts';
import { DEFAULT_CONTROLLER_CONFIG } from '../../src/config/index.ts';
import { Controller } from '../../src/controller/index.ts';
import { encodeTorrent, parseTorrent } from '../../src/metainfo/index.ts';
import { AllowList, PasskeyFile } from '../../src/peer-auth/index.ts';
import { createTracker, type Tracker, TrackerPeerAuth } from '../../src/tracker/index.ts';
import { loopbackHttp, testAgentConfig } from '../helpers/agent.ts';

const SCRIPT = join(import.meta.dirname, 'peer_auth_lt.py');
const SIZE = 3 * 1024 * 1024 + 4321;
const AGENT_KEY = 'edge0000000000000000000001';
const ALICE_KEY = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4';
const ADMIN_TOKEN = 'tracker-admin-token-0123456789abcdef';

interface LtResult {
  seeding: boolean;
  pieces: number;
  payload_downloaded: number;
  connected: boolean;
  tracker_replies: number[];
  problems: string[];
}

/** One libtorrent (peer_auth_lt.py): its JSON lines as they come, and its result. */
function startLt(torrent: string, save: string, args: string[]) {
  const child: ChildProcess = spawn('/usr/bin/python3', [SCRIPT, torrent, save, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let onConnected: () => void = () => {};
  const connected = new Promise<void>((resolve) => {
    onConnected = resolve;
  });
  const result = new Promise<LtResult>((resolve, reject) => {
    lines.on('line', (line) => {
      const record = JSON.parse(line) as { connected?: boolean; result?: LtResult };
      if (record.connected) onConnected();
      if (record.result) resolve(record.result);
    });
    child.on('exit', (code) => reject(new Error(`libtorrent exited (${code}) without a result: ${stderr}`)));
  });
  result.catch(() => undefined);
  return { child, connected, result, finish: () => child.stdin?.end() };
}

/** Resolves once `check` holds, asked at each of the agent's status changes we can observe (its timers). */
async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('peer wire for authorised peers only (peerAuth: tracker, python3-libtorrent)', () => {
  let dir: string;
  let tracker: Tracker;
  let base: string;
  let agent: Agent;
  let peerAuth: TrackerPeerAuth;
  let infoHash: string;
  let data: Buffer;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-peer-auth-'));
    data = Buffer.alloc(SIZE);
    for (let i = 0; i + 4 <= SIZE; i += 4) data.writeUInt32LE((i * 2246822519) >>> 0, i);
    await writeFile(join(dir, 'film.bin'), data);
    await writeFile(join(dir, 'passkeys'), `${AGENT_KEY} sip:edge1@cdn.example\n${ALICE_KEY} sip:alice@ims.example\n`);
    await writeFile(join(dir, 'tracker.token'), `${ADMIN_TOKEN}\n`);
    peerAuth = new TrackerPeerAuth({
      passkeys: await PasskeyFile.load(join(dir, 'passkeys')),
      allowList: new AllowList(120_000),
      adminToken: ADMIN_TOKEN,
    });
    tracker = createTracker({ host: '127.0.0.1', peerAuth, intervalS: 60 });
    const { port } = await tracker.listen();
    base = `http://127.0.0.1:${port}`;
    agent = await Agent.start(
      testAgentConfig(dir, {
        announce: true,
        peerAuth: { url: `${base}/peer-auth/allowed`, tokenFile: join(dir, 'tracker.token') },
        accounting: { dir: join(dir, 'accounting'), interimMs: 60_000, rotateBytes: 1 << 26, rotateMs: 3_600_000 },
      }),
      pino({ level: 'silent' }),
    );
    await agent.operations.ingest(
      {
        sources: [join(dir, 'film.bin')],
        options: { pieceLength: 64 * 1024, private: true, trackers: [`${base}/${AGENT_KEY}/announce`] },
      },
      (r) => {
        infoHash = r.infoHash ?? '';
      },
    );
    await agent.announceNow(infoHash);
    await until(() => (agent.status().peerAuth?.updates ?? 0) >= 1, "the agent's first allow-list");
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await agent?.stop();
    await tracker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the subscriber with a passkey whole, and the peer without one not a single piece byte', async () => {
    const metainfo = parseTorrent((await agent.operations.torrent(infoHash)).data);
    expect(metainfo.private).toBe(true);
    // What a subscriber is given: the same info dictionary, its own passkey in the announce URL.
    const aliceTorrent = join(dir, 'alice.torrent');
    await writeFile(aliceTorrent, encodeTorrent({ ...metainfo, announceList: [[`${base}/${ALICE_KEY}/announce`]] }));
    // What an intruder has: the same object, no tracker; it learnt the agent's address some other way.
    const strayTorrent = join(dir, 'stray.torrent');
    await writeFile(strayTorrent, encodeTorrent({ ...metainfo, announceList: [] }));

    const peerPort = agent.where().peerPort;
    const stray = startLt(strayTorrent, join(dir, 'stray'), ['--bind', '127.0.0.3', '--peer', `127.0.0.1:${peerPort}`]);
    children.push(stray.child);
    await stray.connected;
    // It asked for piece bytes and was refused: counted once for this peer.
    await until(() => agent.status().wire.unauthorisedPeers >= 1, 'the stray peer to be refused');

    const alice = startLt(aliceTorrent, join(dir, 'alice'), ['--bind', '127.0.0.2', '--timeout', '60']);
    children.push(alice.child);
    const got = await alice.result;
    expect(got.problems).toEqual([]);
    expect(got.seeding).toBe(true);
    expect((await readFile(join(dir, 'alice', 'film.bin'))).equals(data)).toBe(true);

    // The stray peer was connected all along (the download happened meanwhile) and received nothing.
    stray.finish();
    const strayGot = await stray.result;
    expect(strayGot.connected).toBe(true);
    expect(strayGot.payload_downloaded).toBe(0);
    expect(strayGot.pieces).toBe(0);

    expect(peerAuth.allowList.lookup('127.0.0.2', infoHash)).toBe('sip:alice@ims.example');
    expect(peerAuth.allowList.lookup('127.0.0.3', infoHash)).toBeUndefined();
    const wire = agent.status().wire;
    expect(wire.uploadedBytes).toBe(got.payload_downloaded);

    // The sessions' accounting records: Alice's carry her public identity and her bytes; the stray's none.
    await agent.stop();
    const { records } = await readRecords(join(dir, 'accounting'));
    const sessions = records.filter((r) => r.type === 'wire' || r.type === 'wire-interim');
    const bytesOf = (list: AccountingRecord[]) => list.reduce((sum, r) => sum + (r['sc-entity-bytes'] ?? 0), 0);
    const aliceRecords = sessions.filter((r) => r['c-ip'] === '127.0.0.2');
    const strayRecords = sessions.filter((r) => r['c-ip'] === '127.0.0.3');
    expect(bytesOf(aliceRecords)).toBe(got.payload_downloaded);
    expect(
      aliceRecords
        .filter((r) => (r['sc-entity-bytes'] ?? 0) > 0)
        .every((r) => r.subscriber === 'sip:alice@ims.example'),
    ).toBe(true);
    expect(strayRecords.length).toBeGreaterThan(0);
    expect(bytesOf(strayRecords)).toBe(0);
    expect(strayRecords.every((r) => r.subscriber === undefined)).toBe(true);
  });
});

describe('the allow-list relayed by the controller to an edge with peerAuth: tracker (python3-libtorrent)', () => {
  let dir: string;
  let tracker: Tracker;
  let base: string;
  let controller: Controller;
  let edge: Agent;
  let infoHash: string;
  let data: Buffer;
  const children: ChildProcess[] = [];
  const silent = pino({ level: 'silent' });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-peer-auth-relay-'));
    data = Buffer.alloc(SIZE);
    for (let i = 0; i + 4 <= SIZE; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    await writeFile(join(dir, 'film.bin'), data);
    await writeFile(join(dir, 'passkeys'), `${AGENT_KEY} sip:edge1@cdn.example\n${ALICE_KEY} sip:alice@ims.example\n`);
    await writeFile(join(dir, 'tracker.token'), `${ADMIN_TOKEN}\n`);
    tracker = createTracker({
      host: '127.0.0.1',
      intervalS: 60,
      peerAuth: new TrackerPeerAuth({
        passkeys: await PasskeyFile.load(join(dir, 'passkeys')),
        allowList: new AllowList(120_000),
        adminToken: ADMIN_TOKEN,
      }),
    });
    base = `http://127.0.0.1:${(await tracker.listen()).port}`;
    controller = await Controller.start(
      {
        ...DEFAULT_CONTROLLER_CONFIG,
        dataDir: join(dir, 'controller'),
        peer: { port: 0, host: '127.0.0.1' },
        http: null,
        edges: { host: '127.0.0.1', port: 0, heartbeatMs: 200, replicas: 1 },
        admin: null,
        announce: false,
        shutdownGraceMs: 500,
        peerAuth: { url: `${base}/peer-auth/allowed`, tokenFile: join(dir, 'tracker.token') },
      },
      silent,
    );
    const { token } = await controller.registry.createToken(60_000, 'edge1');
    // The edge knows neither the tracker's allow-list nor its admin token: only its controller.
    edge = await Agent.start(
      testAgentConfig(join(dir, 'edge'), {
        http: loopbackHttp(),
        controller: { urls: [controller.where().edgeUrl], enrolToken: token },
        peerAuth: { from: 'controller' },
      }),
      silent,
    );
    await edge.operations.ingest(
      {
        sources: [join(dir, 'film.bin')],
        options: { pieceLength: 64 * 1024, private: true, trackers: [`${base}/${AGENT_KEY}/announce`] },
      },
      (r) => {
        infoHash = r.infoHash ?? '';
      },
    );
    await until(() => (edge.status().peerAuth?.updates ?? 0) >= 1, "the edge's first allow-list from the controller");
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await edge?.stop();
    await controller?.stop();
    await tracker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the address announced with a passkey, and not one piece byte to one that never announced', async () => {
    const metainfo = parseTorrent((await edge.operations.torrent(infoHash)).data);
    const aliceTorrent = join(dir, 'alice.torrent');
    await writeFile(aliceTorrent, encodeTorrent({ ...metainfo, announceList: [[`${base}/${ALICE_KEY}/announce`]] }));
    const strayTorrent = join(dir, 'stray.torrent');
    await writeFile(strayTorrent, encodeTorrent({ ...metainfo, announceList: [] }));
    const edgePeer = `127.0.0.1:${edge.where().peerPort}`;

    const stray = startLt(strayTorrent, join(dir, 'stray'), ['--bind', '127.0.0.3', '--peer', edgePeer]);
    children.push(stray.child);
    await stray.connected;
    await until(() => edge.status().wire.unauthorisedPeers >= 1, 'the stray peer to be refused');

    // Alice announces with her passkey (the tracker's allow-list names her address; the controller relays
    // it to the edge) and dials the edge, which nobody announced: she learns it as the stray peer did.
    const alice = startLt(aliceTorrent, join(dir, 'alice'), [
      '--bind',
      '127.0.0.2',
      '--peer',
      edgePeer,
      '--timeout',
      '60',
    ]);
    children.push(alice.child);
    const got = await alice.result;
    expect(got.problems).toEqual([]);
    expect(got.tracker_replies.length).toBeGreaterThan(0);
    expect(got.seeding).toBe(true);
    expect((await readFile(join(dir, 'alice', 'film.bin'))).equals(data)).toBe(true);

    stray.finish();
    const strayGot = await stray.result;
    expect(strayGot.connected).toBe(true);
    expect(strayGot.payload_downloaded).toBe(0);
    expect(strayGot.pieces).toBe(0);

    // The edge's list came through the controller, which follows the tracker; the TTL is the tracker's.
    const relayed = edge.status().peerAuth;
    expect(relayed?.url).toBe(new URL('/v1/edge/peer-auth/allowed', controller.where().edgeUrl).href);
    expect(relayed?.entries).toBe(1);
    expect(controller.status().peerAuth).toMatchObject({ url: `${base}/peer-auth/allowed`, entries: 1 });
    expect(edge.status().wire.uploadedBytes).toBe(got.payload_downloaded);
  });
});
