// qBittorrent 4.5 (Debian's qbittorrent-nox, on libtorrent-rasterbar 2.0), at its default settings for
// encryption ("prefer") and protocol (TCP and uTP, uTP tried first), downloads from the agent through
// edgepeer's tracker: a single-file and a multi-file object by .torrent and by magnet (metadata from the
// agent, BEP 9). It reaches the agent within 2 s of its announce: its uTP attempt is answered with ST_RESET
// and it dials TCP on its next tick (~1.0 s; ~4.0 s when nothing answers on UDP).
// qBittorrent runs in a network namespace this test creates (netns.ts: no route off this machine); DHT,
// LSD, PeX and port forwarding (UPnP, NAT-PMP) are off in its configuration file before it starts, and the
// test reads them back from its Web API before adding anything.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/index.ts';
import { encodeTorrent, magnetLink } from '../../src/metainfo/index.ts';
import {
  type AgentAndTracker,
  type Content,
  expectSavedCopy,
  ingestContent,
  startAgentAndTracker,
  testContentBytes,
} from './clients-support.ts';
import { createTestNamespace, type TestNamespace } from './netns.ts';

const WEB_UI_PORT = 8080;

let dir: string;
let ns: TestNamespace;
let served: AgentAndTracker;
let agent: Agent;
let announceUrl: string;
let qbittorrent: ChildProcess | undefined;
let downloads: string;

function api(path: string): string {
  return `http://${ns.nsAddress}:${WEB_UI_PORT}/api/v2/${path}`;
}

async function apiGet<T>(path: string): Promise<T> {
  const response = await fetch(api(path));
  if (!response.ok) throw new Error(`qBittorrent ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Waits for the Web API to answer: the daemon is up. */
async function webApiReady(): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(api('app/version'));
      if (response.ok) return;
    } catch (err) {
      if (Date.now() > until) throw err;
    }
    if (Date.now() > until) throw new Error('qBittorrent Web API did not come up');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function add(source: { torrent: Buffer } | { magnet: string }): Promise<void> {
  const form = new FormData();
  if ('torrent' in source) form.append('torrents', new Blob([source.torrent]), 'object.torrent');
  else form.append('urls', source.magnet);
  form.append('savepath', downloads);
  const response = await fetch(api('torrents/add'), { method: 'POST', body: form });
  const text = await response.text();
  if (!response.ok || text.trim() !== 'Ok.') throw new Error(`qBittorrent torrents/add: ${response.status} ${text}`);
}

interface TorrentInfo {
  hash: string;
  progress: number;
  state: string;
}

/** Polls the daemon (it has no event stream) until the torrent is complete; its last state otherwise. */
async function completed(infoHash: string, timeoutMs: number): Promise<TorrentInfo | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [state] = await apiGet<TorrentInfo[]>(`torrents/info?hashes=${infoHash}`);
    if ((state && state.progress === 1) || state?.state === 'error' || Date.now() > until) return state;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function download(content: Content, how: 'torrent' | 'magnet'): Promise<void> {
  const { metainfo } = content;
  await add(
    how === 'torrent'
      ? { torrent: encodeTorrent({ ...metainfo, announceList: [[announceUrl]], urlList: [] }) }
      : { magnet: magnetLink(metainfo, { trackers: [announceUrl] }) },
  );
  const state = await completed(metainfo.infoHash, 90_000);
  expect(state, JSON.stringify(state)).toMatchObject({ progress: 1 });
  await expectSavedCopy(downloads, content);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-qbittorrent-'));
  ns = await createTestNamespace('ep-qb', 214);
  served = await startAgentAndTracker(dir, ns.hostAddress);
  ({ agent, announceUrl } = served);

  downloads = join(dir, 'downloads');
  const profile = join(dir, 'profile');
  await mkdir(join(profile, 'qBittorrent', 'config'), { recursive: true });
  await mkdir(downloads);
  // QSettings INI: a group's keys keep their inner '/' as '\'.
  await writeFile(
    join(profile, 'qBittorrent', 'config', 'qBittorrent.conf'),
    [
      '[LegalNotice]',
      'Accepted=true',
      '',
      '[BitTorrent]',
      // Nothing leaves this machine: no DHT, no local service discovery, no peer exchange.
      'Session\\DHTEnabled=false',
      'Session\\LSDEnabled=false',
      'Session\\PeXEnabled=false',
      `Session\\DefaultSavePath=${downloads}`,
      'Session\\Port=51413',
      '',
      '[Network]',
      // UPnP and NAT-PMP.
      'PortForwardingEnabled=false',
      '',
      '[Preferences]',
      `WebUI\\Address=${ns.nsAddress}`,
      `WebUI\\Port=${WEB_UI_PORT}`,
      // The test calls the Web API from the other end of the veth pair, without a login.
      'WebUI\\AuthSubnetWhitelistEnabled=true',
      `WebUI\\AuthSubnetWhitelist=${ns.hostAddress}/32`,
      'WebUI\\HostHeaderValidation=false',
      'WebUI\\CSRFProtection=false',
      '',
    ].join('\n'),
  );
  qbittorrent = spawn(ns.exec[0]!, [...ns.exec.slice(1), 'qbittorrent-nox', `--profile=${profile}`], {
    stdio: 'ignore',
  });
  await webApiReady();
}, 60_000);

afterAll(async () => {
  if (qbittorrent && qbittorrent.exitCode === null) {
    const exited = once(qbittorrent, 'exit');
    qbittorrent.kill('SIGTERM');
    await exited;
  }
  await served?.close();
  await ns?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('qBittorrent 4.5 (qbittorrent-nox) at its defaults', () => {
  it('runs with DHT, LSD, PeX, UPnP and NAT-PMP off, encryption preferred, uTP and TCP', async () => {
    const preferences = await apiGet<Record<string, unknown>>('app/preferences');
    expect(preferences).toMatchObject({
      dht: false,
      lsd: false,
      pex: false,
      upnp: false, // qBittorrent's one switch for UPnP and NAT-PMP
      encryption: 0, // "allow encryption" (prefer), its default
      bittorrent_protocol: 0, // TCP and uTP, its default
    });
  });

  it('reaches the agent within 2 s of its announce: its uTP attempt is reset and it dials TCP', async () => {
    const content = await ingestContent(agent, dir, 'first.bin', [
      { path: 'first.bin', bytes: testContentBytes(1024 * 1024 + 5, 7) },
    ]);
    const before = agent.status().wire;
    const { infoHash } = content.metainfo;
    await add({ torrent: encodeTorrent({ ...content.metainfo, announceList: [[announceUrl]], urlList: [] }) });
    // The tracker and the agent are in this process: read them from qBittorrent's announce (the answer names
    // the agent) until its TCP connection is accepted.
    const leechers = async () => (await served.tracker.swarms.scrape([infoHash], 1))[0]?.incomplete ?? 0;
    let announcedAt = Number.NaN;
    let reachedAt = Number.NaN;
    const until = performance.now() + 30_000;
    while (Number.isNaN(reachedAt) && performance.now() < until) {
      if (Number.isNaN(announcedAt) && (await leechers()) > 0) announcedAt = performance.now();
      if (agent.status().wire.accepted > before.accepted) reachedAt = performance.now();
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(agent.status().wire.utpResets).toBeGreaterThan(before.utpResets);
    const reachedMs = reachedAt - announcedAt;
    if (process.env.EDGEPEER_TRACE_CLIENTS)
      console.log(`qBittorrent reached the agent ${Math.round(reachedMs)} ms after its announce`);
    expect(reachedMs).toBeLessThan(2000);
    const state = await completed(content.metainfo.infoHash, 60_000);
    expect(state, JSON.stringify(state)).toMatchObject({ progress: 1 });
    await expectSavedCopy(downloads, content);
  });

  it('downloads a single-file and a multi-file object by .torrent through edgepeer tracker', async () => {
    const before = agent.status().wire;
    const single = await ingestContent(agent, dir, 'single.bin', [
      { path: 'single.bin', bytes: testContentBytes(3 * 1024 * 1024 + 123, 1) },
    ]);
    const multi = await ingestContent(agent, dir, 'folder', [
      { path: 'a/one.bin', bytes: testContentBytes(700_000, 2) },
      { path: 'two.bin', bytes: testContentBytes(1_300_000, 3) },
    ]);
    await download(single, 'torrent');
    await download(multi, 'torrent');
    const after = agent.status().wire;
    expect(after.uploadedBytes - before.uploadedBytes).toBeGreaterThanOrEqual(
      single.metainfo.length + multi.metainfo.length,
    );
    // At "prefer encryption" no stream is RC4: after its reset uTP attempt, qBittorrent's TCP connections
    // came in plaintext here.
    expect(after.rc4Streams).toBe(before.rc4Streams);
  });

  it('downloads a single-file and a multi-file object by magnet, the metadata from the agent (BEP 9)', async () => {
    const before = agent.status().wire;
    const single = await ingestContent(agent, dir, 'magnet.bin', [
      { path: 'magnet.bin', bytes: testContentBytes(2 * 1024 * 1024 + 7, 4) },
    ]);
    const multi = await ingestContent(agent, dir, 'magnet-folder', [
      { path: 'x/three.bin', bytes: testContentBytes(900_000, 5) },
      { path: 'four.bin', bytes: testContentBytes(600_001, 6) },
    ]);
    await download(single, 'magnet');
    await download(multi, 'magnet');
    expect(agent.status().wire.metadataPiecesSent).toBeGreaterThan(before.metadataPiecesSent);
  });
});
