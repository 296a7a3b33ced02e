// rtorrent 0.9.8 (Debian's, on libtorrent 0.13.8 by rakshasa), driven over XML-RPC on a local SCGI socket,
// downloads from the agent through edgepeer's tracker: a single-file and a multi-file object by .torrent and
// by magnet (metadata from the agent, BEP 9). It runs in a network namespace this test creates (netns.ts: no
// route off this machine). rtorrent has no UPnP, NAT-PMP or local service discovery; DHT and peer exchange
// are off in its configuration before it starts (read back over XML-RPC), UDP trackers too.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
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

let dir: string;
let ns: TestNamespace;
let served: AgentAndTracker;
let agent: Agent;
let announceUrl: string;
let rtorrent: ChildProcess | undefined;
let downloads: string;
let rpcSocket: string;

const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One XML-RPC call to rtorrent: the first value of its answer, as text. */
async function rpc(method: string, ...params: string[]): Promise<string> {
  const answer = await rpcAnswer(method, ...params);
  const value = /<value>(?:<(?:i4|i8|int|string)>)?([\s\S]*?)(?:<\/(?:i4|i8|int|string)>)?<\/value>/.exec(answer);
  if (!value) throw new Error(`rtorrent ${method}: no value in ${answer.slice(0, 200)}`);
  return value[1]!;
}

/**
 * One XML-RPC call to rtorrent over SCGI (a netstring of headers, then the body; the answer is CGI-style
 * headers and the XML). String parameters only; the whole answer, a fault as an error.
 */
function rpcAnswer(method: string, ...params: string[]): Promise<string> {
  const body = Buffer.from(
    `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params
      .map((p) => `<param><value><string>${escapeXml(p)}</string></value></param>`)
      .join('')}</params></methodCall>`,
  );
  const headers = Buffer.from(`CONTENT_LENGTH\0${body.length}\0SCGI\x001\0`);
  return new Promise((resolve, reject) => {
    const socket = connect(rpcSocket);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const answer = Buffer.concat(chunks).toString('utf8');
      const fault = /<fault>[\s\S]*?<string>([\s\S]*?)<\/string>/.exec(answer);
      if (fault) reject(new Error(`rtorrent ${method}: ${fault[1]}`));
      else resolve(answer);
    });
    socket.end(Buffer.concat([Buffer.from(`${headers.length}:`), headers, Buffer.from(','), body]));
  });
}

/** Waits for the XML-RPC socket to answer: the daemon is up. */
async function rpcReady(): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      await rpc('system.client_version');
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Polls rtorrent (it has no event stream) until the download is complete; false if it is not in time. */
async function completed(infoHash: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    // A magnet's download is replaced by the torrent's, under the same hash, once the metadata is in: the
    // hash may be unknown for a moment.
    const complete = await rpc('d.complete', infoHash.toUpperCase()).catch(() => '0');
    if (complete === '1') return true;
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

let torrents = 0;
async function download(content: Content, how: 'torrent' | 'magnet'): Promise<void> {
  const { metainfo } = content;
  let source: string;
  if (how === 'torrent') {
    torrents += 1;
    source = join(dir, `t-${torrents}.torrent`);
    await writeFile(source, encodeTorrent({ ...metainfo, announceList: [[announceUrl]], urlList: [] }));
  } else {
    source = magnetLink(metainfo, { trackers: [announceUrl] });
  }
  await rpc('load.start', '', source);
  expect(await completed(metainfo.infoHash, 90_000), `${metainfo.name} by ${how} did not complete`).toBe(true);
  await expectSavedCopy(downloads, content);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-rtorrent-'));
  ns = await createTestNamespace('ep-rt', 215);
  served = await startAgentAndTracker(dir, ns.hostAddress);
  ({ agent, announceUrl } = served);

  downloads = join(dir, 'downloads');
  rpcSocket = join(dir, 'rpc.socket');
  await mkdir(downloads);
  await mkdir(join(dir, 'session'));
  const config = join(dir, 'rtorrent.rc');
  await writeFile(
    config,
    [
      `directory.default.set = ${downloads}`,
      `session.path.set = ${join(dir, 'session')}`,
      'network.port_range.set = 51413-51413',
      'network.port_random.set = no',
      // Nothing leaves this machine: no DHT, no peer exchange (rtorrent has no UPnP, NAT-PMP or LSD).
      'dht.mode.set = disable',
      'protocol.pex.set = no',
      'trackers.use_udp.set = no',
      `network.scgi.open_local = ${rpcSocket}`,
      // No terminal interface.
      'system.daemon.set = true',
      '',
    ].join('\n'),
  );
  // -n: no ~/.rtorrent.rc; the test's file only.
  rtorrent = spawn(ns.exec[0]!, [...ns.exec.slice(1), 'rtorrent', '-n', '-o', `import=${config}`], {
    stdio: 'ignore',
    cwd: dir,
  });
  await rpcReady();
}, 60_000);

afterAll(async () => {
  if (rtorrent && rtorrent.exitCode === null) {
    const exited = once(rtorrent, 'exit');
    rtorrent.kill('SIGTERM');
    await exited;
  }
  await served?.close();
  await ns?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('rtorrent 0.9.8', () => {
  it('runs with DHT, peer exchange and UDP trackers off', async () => {
    expect(await rpc('system.client_version')).toBe('0.9.8');
    expect(await rpc('protocol.pex')).toBe('0');
    expect(await rpc('trackers.use_udp')).toBe('0');
    // dht.statistics is a struct: {active, dht: 'disable', throttle}.
    const answer = await rpcAnswer('dht.statistics');
    expect(answer).toMatch(/<name>dht<\/name>\s*<value><string>disable<\/string>/);
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
    expect(agent.status().wire.uploadedBytes - before.uploadedBytes).toBeGreaterThanOrEqual(
      single.metainfo.length + multi.metainfo.length,
    );
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
