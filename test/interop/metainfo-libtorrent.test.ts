// python3-libtorrent (Debian, run by /usr/bin/python3) loads what encodeTorrent writes with the same info
// hash, files, pieces and trackers, maps pieces onto files as pieceSpans does, verifies the data in the
// on-disk layout the store uses (D/<name>/<path...>), and accepts magnetLink's output.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTorrent, type Metainfo, magnetLink, pieceSpans } from '../../src/metainfo/index.ts';
import { IMPORT_ALERT_WAITER } from '../helpers/libtorrent.ts';
import { metainfoFor, run, writeTree } from './metainfo-support.ts';

const PYTHON = '/usr/bin/python3';

// Loads a .torrent, prints what libtorrent read, then checks the data under save_path with a session
// bound to loopback (no DHT, LSD, UPnP, NAT-PMP) and prints the number of pieces it verified.
const DESCRIBE_TORRENT = `${IMPORT_ALERT_WAITER}
import json, sys, time, libtorrent as lt
path, save_path = sys.argv[1], sys.argv[2]
ti = lt.torrent_info(path)
fs = ti.orig_files()
out = {
  'infoHash': str(ti.info_hashes().v1),
  'name': ti.name(),
  'numFiles': ti.num_files(),
  'files': [[fs.file_path(i), fs.file_size(i)] for i in range(fs.num_files())],
  'totalSize': ti.total_size(),
  'pieceLength': ti.piece_length(),
  'numPieces': ti.num_pieces(),
  'pieceHashes': ''.join(ti.hash_for_piece(i).hex() for i in range(ti.num_pieces())),
  'spans': [[[s.file_index, s.offset, s.size] for s in ti.map_block(p, 0, ti.piece_size(p))] for p in range(ti.num_pieces())],
  'private': ti.priv(),
  # BEP 12: clients shuffle the URLs within a tier, so compare them sorted.
  'trackers': sorted([t.tier, t.url] for t in ti.trackers()),
  'webSeeds': [w['url'] for w in ti.web_seeds()],
  'comment': ti.comment(),
  'creator': ti.creator(),
}
session = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
  'enable_upnp': False, 'enable_natpmp': False, 'alert_mask': lt.alert.category_t.status_notification}, 0)  # 0: no plugins, so no PEX
alerts = AlertWaiter(session)
handle = session.add_torrent({'ti': ti, 'save_path': save_path})
deadline = time.monotonic() + 30
while not any(isinstance(a, lt.torrent_checked_alert) for a in alerts.pop(1000)):
  if time.monotonic() > deadline:
    raise SystemExit('libtorrent did not finish checking within 30 s')
out['verifiedPieces'] = handle.status().num_pieces
print(json.dumps(out))
`;

const PARSE_MAGNET = `
import json, sys, libtorrent as lt
p = lt.parse_magnet_uri(sys.argv[1])
print(json.dumps({'infoHash': str(p.info_hashes.v1), 'name': p.name, 'trackers': list(p.trackers), 'webSeeds': list(p.url_seeds)}))
`;

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'edgepeer-libtorrent-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function python(script: string, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(PYTHON, ['-c', script, ...args], { timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** Writes the torrent and asks libtorrent about it, with the data in `dataDir` (D in D/<name>/...). */
async function describeWithLibtorrent(metainfo: Metainfo, dataDir: string): Promise<Record<string, unknown>> {
  const torrentPath = join(base, `${metainfo.infoHash}.torrent`);
  await writeFile(torrentPath, encodeTorrent(metainfo));
  return python(DESCRIBE_TORRENT, torrentPath, dataDir);
}

function expectedSpans(metainfo: Metainfo): number[][][] {
  return Array.from({ length: metainfo.pieceCount }, (_, index) =>
    pieceSpans(metainfo, index).map((span) => [span.fileIndex, span.fileOffset, span.length]),
  );
}

describe('python3-libtorrent', () => {
  it('loads a multi-file torrent with the same info hash, files, pieces and trackers, and verifies its data', async () => {
    const dataDir = join(base, 'multi');
    // No two names differing only in case: libtorrent renames such files, as a case-insensitive disk needs.
    await writeTree(join(dataDir, 'bundle'), {
      'a/z': 40_000,
      'a.txt': 1_000,
      'a-b': 70_001,
      zero: 0,
      '.hidden': 99,
      'é/ü.txt': 2_000,
      'x/y/z/deep': 33_333,
    });
    const metainfo = await metainfoFor(join(dataDir, 'bundle'), 32_768, {
      announceList: [['http://127.0.0.1:1/announce', 'http://127.0.0.1:2/announce'], ['udp://127.0.0.1:3']],
      urlList: ['http://127.0.0.1:4/seed/'],
      comment: 'edgepeer interop',
      createdBy: 'edgepeer',
      creationDate: 1_700_000_000,
    });
    const described = await describeWithLibtorrent(metainfo, dataDir);
    expect(described).toEqual({
      infoHash: metainfo.infoHash,
      name: 'bundle',
      numFiles: metainfo.files.length,
      files: metainfo.files.map((file) => [['bundle', ...file.path].join('/'), file.length]),
      totalSize: metainfo.length,
      pieceLength: 32_768,
      numPieces: metainfo.pieceCount,
      pieceHashes: metainfo.pieceHashes.toString('hex'),
      spans: expectedSpans(metainfo),
      private: false,
      trackers: [
        [0, 'http://127.0.0.1:1/announce'],
        [0, 'http://127.0.0.1:2/announce'],
        [1, 'udp://127.0.0.1:3'],
      ],
      webSeeds: ['http://127.0.0.1:4/seed/'],
      comment: 'edgepeer interop',
      creator: 'edgepeer',
      verifiedPieces: metainfo.pieceCount,
    });
  });

  it('loads a private single-file torrent and verifies its data', async () => {
    const dataDir = join(base, 'single');
    await writeTree(dataDir, { 'movie.mp4': 100_001 });
    const metainfo = await metainfoFor(join(dataDir, 'movie.mp4'), 16_384, { private: true });
    const described = await describeWithLibtorrent(metainfo, dataDir);
    expect(described).toMatchObject({
      infoHash: metainfo.infoHash,
      name: 'movie.mp4',
      files: [['movie.mp4', 100_001]],
      numPieces: 7,
      pieceHashes: metainfo.pieceHashes.toString('hex'),
      spans: expectedSpans(metainfo),
      private: true,
      trackers: [],
      verifiedPieces: 7,
    });
  });

  it('accepts magnetLink output with the same info hash, name, trackers and web seeds', async () => {
    const dataDir = join(base, 'magnet');
    await writeTree(dataDir, { 'name with spaces & signs?.bin': 5 });
    const metainfo = await metainfoFor(join(dataDir, 'name with spaces & signs?.bin'), 16_384, {
      announceList: [['http://127.0.0.1:1/announce?key=a&b=c']],
    });
    const link = magnetLink(metainfo, { trackers: ['udp://127.0.0.1:3'], webSeeds: ['http://127.0.0.1:4/s p/'] });
    expect(await python(PARSE_MAGNET, link)).toEqual({
      infoHash: metainfo.infoHash,
      name: 'name with spaces & signs?.bin',
      trackers: ['http://127.0.0.1:1/announce?key=a&b=c', 'udp://127.0.0.1:3'],
      webSeeds: ['http://127.0.0.1:4/s p/'],
    });
  });
});
