// python3-libtorrent downloads single- and multi-file torrents whose only source is the agent's web seed
// URL (url-list, no tracker, no peers; DHT, LSD, UPnP and NAT-PMP off). libtorrent checks every piece's
// SHA-1 and bans a web seed after one failure, so a clean finish means every byte served was right.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corruptOnDisk,
  differingFiles,
  freshDir,
  MULTI_FILE,
  run,
  type ServedSet,
  SINGLE_FILE,
  serveObjects,
  stopServed,
  webSeedOf,
  writeTorrent,
} from '../http/interop-fixtures.ts';

// Adds the torrent, waits on alerts until it seeds or the deadline passes, prints one JSON line.
const LEECH = `
import json, sys, time
import libtorrent as lt
torrent, save_path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
session = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_incoming_utp': False, 'enable_outgoing_utp': False,
    'alert_mask': int(lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
                      | lt.alert.category_t.peer_notification),
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

describe('libtorrent with the agent as its only web seed', () => {
  let served: ServedSet;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-libtorrent-'));
    served = await serveObjects(dir, [SINGLE_FILE, MULTI_FILE]);
  });
  afterAll(async () => {
    await stopServed(served);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function download(index: number, label: string) {
    const object = served.objects[index]!;
    const torrent = await writeTorrent(await freshDir(dir, `${label}-torrent`), object, webSeedOf(served.base, object));
    const downloadDir = await freshDir(dir, `${label}-download`);
    const seconds = label === 'corrupt' ? '8' : '60';
    const { stdout } = await run('/usr/bin/python3', ['-c', LEECH, torrent, downloadDir, seconds], { timeout: 90_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { seeding: boolean; problems: string[] };
    return { downloadDir, result };
  }

  it('downloads a single-file torrent and verifies every piece', async () => {
    const { downloadDir, result } = await download(0, 'single');
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(await differingFiles(downloadDir, served.objects[0]!)).toEqual([]);
  });

  it('downloads a multi-file torrent (name/path per file, pieces spanning files)', async () => {
    const { downloadDir, result } = await download(1, 'multi');
    expect(result).toMatchObject({ seeding: true, problems: [] });
    expect(await differingFiles(downloadDir, served.objects[1]!)).toEqual([]);
    expect(served.server.stats().bytesSent).toBeGreaterThanOrEqual(
      served.objects[0]!.data.length + served.objects[1]!.data.length,
    );
  });

  it('never hands libtorrent a corrupt piece, so it never bans the web seed', async () => {
    const object = served.objects[0]!;
    const corruptPiece = 7;
    await corruptOnDisk(served, object, corruptPiece * object.metainfo.pieceLength + 99);
    const { result } = await download(0, 'corrupt');
    const hashFailures = (result.problems as string[]).filter((problem) => problem.startsWith('hash_failed'));
    expect(hashFailures).toEqual([]);
    expect(result.seeding).toBe(false);
    // The piece was dropped from the store when found corrupt, mid-response: the connection was cut
    // after the verified pieces before it, which libtorrent kept; later requests for it get 503.
    expect(served.store.get(object.metainfo.infoHash)!.bitfield.get(corruptPiece)).toBe(false);
    const progress = (result as unknown as { progress: number }).progress;
    expect(progress).toBeGreaterThanOrEqual(corruptPiece / object.metainfo.pieceCount - 0.01);
    expect(progress).toBeLessThan(1);
  });
});
