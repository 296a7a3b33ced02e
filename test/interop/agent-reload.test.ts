// SIGHUP's configuration reload, on a real agent (store, wire server, announces) and two of edgepeer's own
// trackers on loopback: a new tracker list goes into effect in place. The dropped tracker hears `stopped`,
// the new one `started`. (That the trackers kept see nothing of it is test/tracker/announce-client.test.ts's.)
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, type AgentConfig, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { createTracker, type SwarmStats, type Tracker } from '../../src/tracker/index.ts';

const run = promisify(execFile);
let dir: string;
const trackers: Tracker[] = [];
const urls: string[] = [];

/** The tracker's statistics of one object, once `accept` holds (checked every 50 ms, for up to 20 s). */
async function swarmWhen(tracker: Tracker, infoHash: string, accept: (stats: SwarmStats) => boolean) {
  for (let tries = 0; tries < 400; tries += 1) {
    const stats = await tracker.swarms.stats(infoHash, 10);
    if (accept(stats)) return stats;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the tracker's statistics of ${infoHash} never got there`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-reload-'));
  for (let i = 0; i < 2; i += 1) {
    const tracker = createTracker({ host: '127.0.0.1', udp: false });
    urls.push((await tracker.listen()).announceUrl);
    trackers.push(tracker);
  }
});

afterAll(async () => {
  await Promise.all(trackers.map((tracker) => tracker.close()));
  await rm(dir, { recursive: true, force: true });
});

/** The SHA-256 fingerprint of the certificate a TLS server presents on a new connection. */
async function presentedCertificate(port: number): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  socket.destroy();
  return fingerprint;
}

describe('agent reload', () => {
  it('takes a renewed HTTPS certificate on reload, without a restart', async () => {
    const tlsDir = join(dir, 'tls');
    await mkdir(tlsDir);
    const pairs = [];
    for (const name of ['old', 'new']) {
      const cert = join(tlsDir, `${name}.pem`);
      const key = join(tlsDir, `${name}.key`);
      await run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ]);
      pairs.push({ cert: await readFile(cert), key: await readFile(key) });
    }
    const [old, renewed] = pairs as [{ cert: Buffer; key: Buffer }, { cert: Buffer; key: Buffer }];
    const config: AgentConfig = {
      ...DEFAULT_AGENT_CONFIG,
      dataDir: join(dir, 'store-tls'),
      peer: { port: 0, host: '127.0.0.1' },
      http: { port: 0, host: '127.0.0.1', policy: 'refuse', directReadMaxBytes: 0 },
      https: { port: 0, ...old },
      admin: null,
      announce: false,
    };
    const agent = await Agent.start(config, pino({ level: 'silent' }));
    try {
      const port = agent.where().httpsPort!;
      const fingerprint = (pem: Buffer) => new X509Certificate(pem).fingerprint256;
      expect(await presentedCertificate(port)).toBe(fingerprint(old.cert));
      const applied = await agent.reload({ ...config, https: { port: 0, ...renewed } });
      expect(applied.applied).toContain('https certificate');
      expect(applied.restartNeeded).toEqual([]);
      expect(await presentedCertificate(port)).toBe(fingerprint(renewed.cert));
    } finally {
      await agent.stop();
    }
  });

  it('moves announces from a dropped tracker to a new one, in place', async () => {
    const [first, second] = trackers as [Tracker, Tracker];
    const config: AgentConfig = {
      ...DEFAULT_AGENT_CONFIG,
      dataDir: join(dir, 'store'),
      peer: { port: 0, host: '127.0.0.1' },
      http: null,
      admin: null,
      trackers: [urls[0]!],
    };
    const agent = await Agent.start(config, pino({ level: 'silent' }));
    try {
      const file = join(dir, 'object.bin');
      await writeFile(file, Buffer.alloc(300_000, 5));
      let infoHash = '';
      await agent.operations.ingest({ sources: [file], options: {} }, (result) => {
        infoHash = result.infoHash ?? '';
      });
      await swarmWhen(first, infoHash, (stats) => stats.networkPeers.length === 1);

      const applied = await agent.reload({ ...config, trackers: [urls[1]!] });
      expect(applied).toEqual({ applied: ['trackers'], restartNeeded: [], failed: [] });
      await swarmWhen(second, infoHash, (stats) => stats.networkPeers.length === 1);
      await swarmWhen(first, infoHash, (stats) => stats.networkPeers.length === 0);
      // The dropped tracker leaves the status once its `stopped` is answered, a moment after the tracker counted it.
      await vi.waitFor(
        () => expect(agent.status().trackers.map((tracker) => [tracker.url, tracker.objects])).toEqual([[urls[1], 1]]),
        { timeout: 5000, interval: 20 },
      );
    } finally {
      await agent.stop();
    }
  });
});
