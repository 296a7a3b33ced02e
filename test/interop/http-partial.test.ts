// Objects held in part, with nginx as the origin: libtorrent downloads through the agent's web seed with
// pull-through (the missing pieces come from nginx, verified and stored on the way), and curl follows the
// 'redirect' policy to nginx.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectUrls } from '../../src/http/index.ts';
import {
  type ContentSpec,
  differingFiles,
  freshDir,
  run,
  type ServedSet,
  serveObjects,
  stopServed,
  writeTorrent,
} from '../http/interop-fixtures.ts';
import { testBytes } from '../http/memory-store.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once `url` answers 200 (nginx is up); rejects if the process exits first. */
async function untilAnswers(url: string, process: ChildProcess): Promise<void> {
  const exited = once(process, 'exit').then(() => {
    throw new Error('nginx exited before it answered');
  });
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const answered = request(url, { method: 'HEAD' }).then(
      (response) => response.statusCode === 200,
      () => false,
    );
    if (await Promise.race([answered, exited])) return;
    // connection refused: nginx has not bound yet, and no event tells when it will
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer`);
}

const NGINX_CONF = (root: string, port: number, scratch: string) => `
worker_processes 1;
pid ${scratch}/nginx.pid;
error_log ${scratch}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path ${scratch}/body;
  proxy_temp_path ${scratch}/proxy;
  fastcgi_temp_path ${scratch}/fastcgi;
  uwsgi_temp_path ${scratch}/uwsgi;
  scgi_temp_path ${scratch}/scgi;
  server { listen 127.0.0.1:${port}; root ${root}; location / { } }
}
`;

// The same leecher as http-libtorrent.test.ts: waits on alerts until seeding or the deadline.
const LEECH = `
import json, sys, time
import libtorrent as lt
torrent, save_path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
session = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_incoming_utp': False, 'enable_outgoing_utp': False,
    'alert_mask': int(lt.alert.category_t.error_notification | lt.alert.category_t.status_notification),
})
handle = session.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save_path})
problems = []
deadline = time.monotonic() + seconds
status = handle.status()
while not status.is_seeding and time.monotonic() < deadline:
    session.wait_for_alert(250)
    for alert in session.pop_alerts():
        if isinstance(alert, (lt.url_seed_alert, lt.hash_failed_alert, lt.torrent_error_alert, lt.file_error_alert)):
            problems.append(type(alert).__name__ + ': ' + alert.message())
    status = handle.status()
print(json.dumps({'seeding': status.is_seeding, 'progress': status.progress, 'problems': problems}))
`;

describe('objects held in part, nginx as origin', () => {
  const pieceLength = 128 * 1024;
  const SPEC: ContentSpec = {
    name: 'partial.bin',
    pieceLength,
    files: [{ path: [], length: 3 * 1024 * 1024 + 777 }],
    seed: 303,
  };
  const data = testBytes(SPEC.files[0]!.length, SPEC.seed);
  let dir: string;
  let nginx: ChildProcess | undefined;
  let originUrl: string;
  const servedSets: ServedSet[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-partial-'));
    const root = join(dir, 'origin');
    await mkdir(join(root, 'files'), { recursive: true });
    await writeFile(join(root, 'files', 'partial.bin'), data);
    await chmod(dir, 0o755); // nginx workers run as an unprivileged user
    const port = await freePort();
    await writeFile(join(dir, 'nginx.conf'), NGINX_CONF(root, port, dir));
    nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
    originUrl = `http://127.0.0.1:${port}/files/partial.bin`;
    await untilAnswers(originUrl, nginx);
  });
  afterAll(async () => {
    for (const served of servedSets) await stopServed(served);
    if (nginx !== undefined && nginx.exitCode === null) {
      nginx.kill('SIGTERM');
      await once(nginx, 'exit');
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function agent(policy: 'pull-through' | 'redirect') {
    const served = await serveObjects(dir, [SPEC], { policy, held: (index) => index % 2 === 0, source: originUrl });
    servedSets.push(served);
    const object = served.objects[0]!;
    return {
      ...served,
      object,
      urls: objectUrls(served.base, { infoHash: object.metainfo.infoHash, metainfo: object.metainfo }),
    };
  }

  it('pull-through: libtorrent gets the whole object; the missing pieces are fetched, verified, stored', async () => {
    const { store, server, urls, object } = await agent('pull-through');
    const { metainfo } = object;
    expect(store.get(metainfo.infoHash)!.piecesHeld).toBe(Math.ceil(metainfo.pieceCount / 2));
    const torrent = await writeTorrent(await freshDir(dir, 'torrent'), object, urls.webSeed);
    const downloadDir = await freshDir(dir, 'download');
    const { stdout } = await run('/usr/bin/python3', ['-c', LEECH, torrent, downloadDir, '60'], { timeout: 90_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(await differingFiles(downloadDir, object)).toEqual([]);
    expect(server.stats().piecesPulled).toBe(Math.floor(metainfo.pieceCount / 2));
    expect(server.stats().pullFailures).toBe(0);
    // stored durably: the store now holds every piece
    expect(store.get(metainfo.infoHash)!.complete).toBe(true);
  });

  it('redirect: curl follows the agent to the origin for ranges it does not hold', async () => {
    const { urls } = await agent('redirect');
    const first = pieceLength; // piece 1: not held
    const { stdout } = await run(
      'curl',
      ['-sS', '-L', '-r', `${first}-${first + 99}`, '-w', '\n%{url_effective}', urls.files[0]!],
      {
        encoding: 'latin1',
      },
    );
    const newline = stdout.lastIndexOf('\n');
    expect(stdout.slice(newline + 1)).toBe(originUrl);
    expect(Buffer.from(stdout.slice(0, newline), 'latin1').equals(data.subarray(first, first + 100))).toBe(true);
  });
});
