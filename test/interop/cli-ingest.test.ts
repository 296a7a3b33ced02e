// The foundation end to end, as a newcomer and a script use it: the built CLI ingests a file, a URL served by
// nginx and a manifest; lists, shows, writes a .torrent that mktorrent and libtorrent agree with; purges;
// refuses a second writer; and survives kill -9 in the middle of an ingest.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTorrent, pieceHash } from '../../src/metainfo/index.ts';
import { openStore } from '../../src/store/index.ts';
import { edgepeer } from '../helpers/cli.ts';
import { type NginxOrigin, startNginx } from '../helpers/nginx.ts';

const run = promisify(execFile);
const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

let dir: string;
let www: string;
let store: string;
let nginx: NginxOrigin;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-cli-'));
  await chmod(dir, 0o755); // nginx workers run as an unprivileged user
  www = join(dir, 'www');
  store = join(dir, 'store');
  await mkdir(join(www, 'video'), { recursive: true });
  await writeFile(join(www, 'video', 'ep1.mp4'), randomBytes(3 * 1024 * 1024 + 1234));
  await writeFile(join(www, 'video', 'ep2.mp4'), randomBytes(1024 * 1024));
  await writeFile(join(www, 'big.bin'), randomBytes(96 * 1024 * 1024));
  await writeFile(join(dir, 'local.bin'), randomBytes(2 * 1024 * 1024 + 77));
  nginx = await startNginx(www);
});

afterAll(async () => {
  await nginx?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Verifies every held piece of every object against its hash, as a fresh reader sees the store. */
async function verifyStore(dataDir: string): Promise<{ objects: number; held: number }> {
  const reader = await openStore(dataDir, { mode: 'read' });
  let held = 0;
  try {
    for (const object of reader.list()) {
      for (let i = 0; i < object.bitfield.length; i++) {
        if (!object.bitfield.get(i)) continue;
        const data = await reader.readPiece(object.infoHash, i);
        expect(createHash('sha1').update(data).digest().equals(pieceHash(object.metainfo, i)), `piece ${i}`).toBe(true);
        held++;
      }
    }
    return { objects: reader.list().length, held };
  } finally {
    await reader.close();
  }
}

describe('edgepeer ingest, ls, show, torrent, purge', () => {
  it('ingests a local file with the same info hash as mktorrent, and libtorrent accepts the .torrent', async () => {
    const local = join(dir, 'local.bin');
    const result = await edgepeer(['ingest', local, '--piece-length', '256KiB', '--data-dir', store, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines).toHaveLength(1);
    const line = result.lines[0] as Record<string, unknown>;
    expect(line).toMatchObject({
      source: local,
      status: 'ingested',
      name: 'local.bin',
      pieceLength: 262144,
      pieces: 9,
      piecesHeld: 9,
    });
    await run('mktorrent', ['-l', '18', '-o', join(dir, 'mk.torrent'), local]);
    expect(line.infoHash).toBe(parseTorrent(await readFile(join(dir, 'mk.torrent'))).infoHash);

    const written = join(dir, 'out.torrent');
    const torrent = await edgepeer(['torrent', 'local.bin', '-o', written, '--data-dir', store, '--json']);
    expect(torrent.code).toBe(0);
    const { stdout } = await run('/usr/bin/python3', [
      '-c',
      'import sys, libtorrent as lt; ti = lt.torrent_info(sys.argv[1]); print(ti.info_hash(), ti.num_pieces())',
      written,
    ]);
    expect(stdout.trim()).toBe(`${line.infoHash} 9`);
  });

  it('ingests URLs from a manifest on stdin, reports the bad line and the failed URL, and goes on', async () => {
    const manifest = [
      '# nightly batch',
      `${nginx.url}/video/ep1.mp4`,
      'ftp://example.invalid/x.bin',
      `${nginx.url}/video/missing.mp4`,
      '',
      `${nginx.url}/video/ep2.mp4`,
    ].join('\n');
    const result = await edgepeer(['ingest', '--manifest', '-', '--ttl', '1h', '--data-dir', store, '--json'], {
      input: manifest,
    });
    expect(result.code, JSON.stringify(result.lines) + result.stderr).toBe(3);
    const byStatus = (status: string) => result.lines.filter((l) => l.status === status);
    expect(byStatus('ingested').map((l) => l.name)).toEqual(['ep1.mp4', 'ep2.mp4']);
    const failed = byStatus('failed');
    expect(failed.map((l) => (l.error as { code: string }).code)).toEqual([
      'EDGEPEER_MANIFEST_INVALID',
      'EDGEPEER_ORIGIN_STATUS',
    ]);
    expect(failed[0]?.error).toMatchObject({ message: expect.stringMatching(/line 3/) });
    expect(failed[1]?.error).toMatchObject({ message: expect.stringContaining('missing.mp4') });
    for (const line of byStatus('ingested')) expect(line.infoHash).toMatch(/^[0-9a-f]{40}$/);
  });

  it('lists and shows objects as JSON', async () => {
    const ls = await edgepeer(['ls', '--data-dir', store, '--json']);
    expect(ls.code).toBe(0);
    expect(ls.lines.map((l) => l.name).sort()).toEqual(['ep1.mp4', 'ep2.mp4', 'local.bin']);
    const ep1 = ls.lines.find((l) => l.name === 'ep1.mp4');
    expect(ep1?.expiresAt).toEqual(expect.any(String));
    const show = await edgepeer(['show', 'ep1.mp4', '--data-dir', store, '--json']);
    expect(show.code).toBe(0);
    expect(show.lines[0]).toMatchObject({ name: 'ep1.mp4', complete: true, held: `0-${Number(ep1?.pieces) - 1}` });
    expect(show.lines[0]?.magnet).toContain(String(ep1?.infoHash));
    const missing = await edgepeer(['show', 'nothing-here', '--data-dir', store, '--json']);
    expect(missing.code).toBe(4);
    expect(missing.lines[0]).toMatchObject({ error: { code: 'EDGEPEER_NOT_FOUND' } });
  });

  it('purges pieces, then whole objects', async () => {
    const pieces = await edgepeer(['purge', 'ep1.mp4', '--pieces', '0-1', '--data-dir', store, '--json']);
    expect(pieces.code).toBe(0);
    expect(pieces.lines[0]).toMatchObject({ status: 'pieces-purged', piecesRemoved: 2 });
    const whole = await edgepeer(['purge', 'ep1.mp4', 'ep2.mp4', 'no-such', '--data-dir', store, '--json']);
    expect(whole.code).toBe(3);
    expect(whole.lines.map((l) => l.status).sort()).toEqual(['not-found', 'purged', 'purged']);
    expect(await verifyStore(store)).toEqual({ objects: 1, held: 9 });
  });

  it('refuses a second writer with a clear message', async () => {
    const holder = await openStore(store, { mode: 'write' });
    try {
      const result = await edgepeer(['ingest', join(dir, 'local.bin'), '--data-dir', store, '--json']);
      expect(result.code).toBe(5);
      expect(result.lines[0]).toMatchObject({ error: { code: 'EDGEPEER_STORE_LOCKED' } });
      expect(result.stderr).toContain(String(process.pid));
    } finally {
      await holder.close();
    }
  });
});

describe('kill -9 during ingest', () => {
  /** Starts an ingest and kills it -9 as soon as `folder` under the store changes. */
  async function killDuringIngest(args: string[], folder: string): Promise<void> {
    await mkdir(join(store, folder), { recursive: true });
    const changed = new Promise<void>((resolve) => {
      const watcher = watch(join(store, folder), () => {
        watcher.close();
        resolve();
      });
    });
    const child: ChildProcess = spawn(process.execPath, [RUN, 'ingest', ...args, '--data-dir', store], {
      stdio: 'ignore',
    });
    const exited = once(child, 'exit');
    await Promise.race([changed, exited]);
    child.kill('SIGKILL');
    await exited;
  }

  it('keeps every verified piece of a known object, and a second run completes it', async () => {
    const url = `${nginx.url}/big.bin`;
    await run('mktorrent', ['-l', '16', '-o', join(dir, 'big.torrent'), join(www, 'big.bin')]);
    await killDuringIngest([url, '--torrent', join(dir, 'big.torrent')], 'index');
    const afterCrash = await verifyStore(store);
    const again = await edgepeer(['ingest', url, '--torrent', join(dir, 'big.torrent'), '--data-dir', store, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.lines[0]).toMatchObject({ status: 'ingested', pieces: 1536, piecesHeld: 1536 });
    expect(Number(again.lines[0]?.piecesAdded)).toBe(1536 - (afterCrash.held - 9));
    expect(await verifyStore(store)).toEqual({ objects: 2, held: 1536 + 9 });
  });

  it('leaves no trace of new content whose ingest was killed', async () => {
    const before = await verifyStore(store);
    await writeFile(join(dir, 'fresh.bin'), randomBytes(64 * 1024 * 1024));
    await killDuringIngest([join(dir, 'fresh.bin')], 'staging');
    // The next writer repairs: the crashed staging folder goes, the objects stay as they were.
    const writer = await openStore(store, { mode: 'write' });
    await writer.close();
    expect(await readdir(join(store, 'staging'))).toEqual([]);
    const after = await verifyStore(store);
    expect([before.objects, before.objects + 1]).toContain(after.objects);
  });
});
