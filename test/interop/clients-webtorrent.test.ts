// WebTorrent (the npm library, a devDependency; test/interop/webtorrent_client.mjs drives it in its own
// process) downloads from the agent: a single-file and a multi-file object by .torrent and by magnet through
// edgepeer's tracker (peer wire only: no url-list), and by .torrent through the agent's web seed alone (no
// tracker, no peer). All on loopback. DHT, local service discovery, UPnP, NAT-PMP and peer exchange are off;
// WebRTC is absent (a stub stands in for webrtc-polyfill); uTP only where a test turns it on.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/index.ts';
import { encodeTorrent, type Metainfo, magnetLink } from '../../src/metainfo/index.ts';
import {
  type AgentAndTracker,
  type Content,
  expectSavedCopy,
  ingestContent,
  startAgentAndTracker,
  testContentBytes,
} from './clients-support.ts';

const DRIVER = join(dirname(fileURLToPath(import.meta.url)), 'webtorrent_client.mjs');

interface WireLine {
  type: string;
  address: string;
  ms: number;
}
interface DriverResult {
  events: Array<{ event: string } & Record<string, unknown>>;
  done?: { ms: number; downloaded: number; webSeedBytes: number; wires: WireLine[]; utp: boolean };
  error?: string;
}

/** Runs one WebTorrent download to the end (or its timeout) and returns what the driver printed. */
function webtorrent(options: {
  source: string;
  save: string;
  utp?: boolean;
  timeoutMs?: number;
}): Promise<DriverResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [DRIVER, JSON.stringify({ ...options, timeoutMs })],
      // The driver gives up by itself at timeoutMs; this only ends a driver that hangs.
      { timeout: timeoutMs + 20_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const events = stdout
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as DriverResult['events'][number]);
        const done = events.find((e) => e.event === 'done') as DriverResult['done'] | undefined;
        const failed = events.find((e) => e.event === 'error');
        const error = failed ? String(failed.message) : err ? `${err.message}\n${stderr}` : undefined;
        resolve({ events, done, error });
      },
    );
  });
}

let dir: string;
let served: AgentAndTracker;
let agent: Agent;
let announceUrl: string;
let single: Content;
let multi: Content;
/** A folder of one file: WebTorrent asks its url-list as is, as for a single-file object. */
let oneInFolder: Content;

let runs = 0;
async function freshSave(): Promise<string> {
  runs += 1;
  const save = join(dir, `save-${runs}`);
  await mkdir(save, { recursive: true });
  return save;
}

async function torrentFile(content: Content, fields: Partial<Metainfo>): Promise<string> {
  runs += 1;
  const path = join(dir, `t-${runs}.torrent`);
  await writeFile(path, encodeTorrent({ ...content.metainfo, ...fields }));
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-webtorrent-'));
  served = await startAgentAndTracker(dir, '127.0.0.1');
  ({ agent, announceUrl } = served);
  single = await ingestContent(agent, dir, 'single.bin', [
    { path: 'single.bin', bytes: testContentBytes(3 * 1024 * 1024 + 123, 1) },
  ]);
  multi = await ingestContent(agent, dir, 'folder', [
    { path: 'a/one.bin', bytes: testContentBytes(700_000, 2) },
    { path: 'two.bin', bytes: testContentBytes(1_300_000, 3) },
  ]);
  oneInFolder = await ingestContent(agent, dir, 'one', [{ path: 'only.bin', bytes: testContentBytes(900_000, 4) }]);
});

afterAll(async () => {
  await served?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('WebTorrent 3 (npm webtorrent)', () => {
  const peerAddress = (): string => `127.0.0.1:${agent.where().peerPort}`;

  it.each([
    ['single-file', () => single],
    ['multi-file', () => multi],
  ])('downloads a %s object by .torrent through edgepeer tracker, over the peer wire', async (_, content) => {
    const before = agent.status().wire;
    const save = await freshSave();
    const source = await torrentFile(content(), { announceList: [[announceUrl]], urlList: [] });
    const result = await webtorrent({ source, save });
    expect(result.error).toBeUndefined();
    expect(result.done?.wires.map((w) => w.address)).toContain(peerAddress());
    expect(result.done?.webSeedBytes).toBe(0);
    const after = agent.status().wire;
    expect(after.uploadedBytes - before.uploadedBytes).toBeGreaterThanOrEqual(content().metainfo.length);
    // WebTorrent (secure: 1, its default) opens with an encrypted handshake offering plaintext too: the
    // agent selects plaintext.
    expect(after.encryptedHandshakes).toBeGreaterThan(before.encryptedHandshakes);
    expect(after.rc4Streams).toBe(before.rc4Streams);
    await expectSavedCopy(save, content());
  });

  it.each([
    ['single-file', () => single],
    ['multi-file', () => multi],
  ])('downloads a %s object by magnet through edgepeer tracker, the metadata from the agent', async (_, content) => {
    const metadataBefore = agent.status().wire.metadataPiecesSent;
    const save = await freshSave();
    const result = await webtorrent({ source: magnetLink(content().metainfo, { trackers: [announceUrl] }), save });
    expect(result.error).toBeUndefined();
    expect(result.done?.wires.map((w) => w.address)).toContain(peerAddress());
    expect(agent.status().wire.metadataPiecesSent).toBeGreaterThan(metadataBefore);
    await expectSavedCopy(save, content());
  });

  it.each([
    ['single-file', () => single],
    ['multi-file', () => multi],
    ['multi-file (one file)', () => oneInFolder],
  ])('downloads a %s object through the web seed alone', async (_, content) => {
    const wireBefore = agent.status().wire.uploadedBytes;
    const save = await freshSave();
    const source = await torrentFile(content(), {
      announceList: [],
      urlList: [`${agent.where().httpBaseUrls[0]}/objects/${content().metainfo.infoHash}/`],
    });
    const result = await webtorrent({ source, save });
    expect(result.error).toBeUndefined();
    expect(result.done?.webSeedBytes).toBeGreaterThanOrEqual(content().metainfo.length);
    expect(agent.status().wire.uploadedBytes).toBe(wireBefore);
    await expectSavedCopy(save, content());
  });
});

describe('WebTorrent 3 with uTP on (its default where utp-native loads)', () => {
  // WebTorrent dials uTP first and goes to TCP only after four uTP attempts 1, 5 and 15 s apart
  // (RECONNECT_WAIT in lib/torrent.js), each given 5 s to connect. The agent's ST_RESET ends each attempt at
  // once: TCP after ~21 s, against ~41 s when nothing answers on UDP. Getting under 2 s would take speaking
  // uTP (docs/wire.md).
  it('has its uTP attempts reset and reaches the agent over TCP', async () => {
    const save = await freshSave();
    const source = await torrentFile(single, { announceList: [[announceUrl]], urlList: [] });
    const resetsBefore = agent.status().wire.utpResets;
    const result = await webtorrent({ source, save, utp: true, timeoutMs: 80_000 });
    expect(result.error).toBeUndefined();
    // utp-native ships prebuilt for linux-x64 (and macOS, Windows) only: elsewhere WebTorrent has no uTP.
    expect(result.done?.utp, 'WebTorrent without uTP: utp-native did not load').toBe(true);
    expect(agent.status().wire.utpResets - resetsBefore).toBeGreaterThanOrEqual(1);
    const tcp = result.done?.wires.find((w) => w.address === `127.0.0.1:${agent.where().peerPort}`);
    expect(tcp?.type).toBe('tcpOutgoing');
    expect(tcp!.ms).toBeLessThan(30_000);
    await expectSavedCopy(save, single);
  }, 120_000);
});
