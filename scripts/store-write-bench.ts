// Measures writePiece throughput (group commit) against the disk's own sequential write + one fdatasync.
//   node_modules/.bin/node scripts/store-write-bench.ts [--mib 1024] [--piece-kib 1024] [--dir DIR]
// The store trusts the caller's verification, so pieces are one random buffer and the hashes are zeros:
// this measures the store, not SHA-1. Prints one JSON line per run. docs/store.md reports the figures.
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildMetainfo } from '../src/metainfo/index.ts';
import { openStore } from '../src/store/index.ts';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    'piece-kib': { type: 'string', default: '1024' },
    dir: { type: 'string' },
  },
});
const pieceLength = Number(values['piece-kib']) * 1024;
const total = Number(values.mib) * 1024 * 1024;
const pieceCount = Math.ceil(total / pieceLength);
const root = values.dir ?? tmpdir();
const piece = randomBytes(pieceLength);

function report(run: string, seconds: number, extra: Record<string, unknown> = {}): void {
  const mibPerSecond = Math.round(total / 1024 / 1024 / seconds);
  console.log(JSON.stringify({ run, mib: total / 1024 / 1024, pieceKiB: pieceLength / 1024, mibPerSecond, ...extra }));
}

/** The yardstick: the same bytes, the same writes in flight, to one file, then a single fdatasync. */
async function rawWrite(inFlight: number): Promise<void> {
  const folder = await mkdtemp(join(root, 'edgepeer-write-bench-'));
  const started = performance.now();
  const handle = await open(join(folder, 'raw'), 'w');
  let next = 0;
  const writer = async () => {
    for (let index = next++; index < pieceCount; index = next++) {
      await handle.write(piece, 0, pieceLength, index * pieceLength);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, writer));
  await handle.datasync();
  await handle.close();
  report(`raw pwrite, ${inFlight} in flight, one fdatasync at the end`, (performance.now() - started) / 1000);
  await rm(folder, { recursive: true, force: true });
}

async function storeWrite(inFlight: number): Promise<void> {
  const folder = await mkdtemp(join(root, 'edgepeer-write-bench-'));
  const store = await openStore(folder, { mode: 'write' });
  const metainfo = buildMetainfo({
    name: 'bench.bin',
    pieceLength,
    multiFile: false,
    files: [{ path: [], length: pieceCount * pieceLength }],
    pieceHashes: Buffer.alloc(20 * pieceCount),
  });
  await store.addObject(metainfo);
  let commits = 0;
  store.on('pieces-added', () => {
    commits++;
  });
  const started = performance.now();
  let next = 0;
  const writer = async () => {
    for (let index = next++; index < pieceCount; index = next++)
      await store.writePiece(metainfo.infoHash, index, piece);
  };
  await Promise.all(Array.from({ length: inFlight }, writer));
  report(`store, ${inFlight} writes in flight`, (performance.now() - started) / 1000, { commits });
  await store.close();
  await rm(folder, { recursive: true, force: true });
}

for (const inFlight of [1, 8, 64]) {
  await rawWrite(inFlight);
  await storeWrite(inFlight);
}
