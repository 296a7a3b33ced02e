// Measures how long a store of many objects takes to open (and to fill, through the public API).
//   node_modules/.bin/node scripts/store-open-bench.ts [--objects 100000] [--dir DIR] [--keep]
// Each object is a one-file torrent of 1-2 pieces with one piece written, so the index holds real
// bitmaps. Each open is measured in a fresh process (so its RSS is its own), from the journal alone and
// then from a snapshot. Prints one JSON line per phase. docs/store.md reports the figures.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildMetainfo, type Metainfo } from '../src/metainfo/index.ts';
import { openStore } from '../src/store/index.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '100000' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '64' },
    measure: { type: 'string' },
  },
});
const count = Number(values.objects);
const concurrency = Number(values.concurrency);
const dataDir = values.dir ?? (await mkdtemp(join(tmpdir(), 'edgepeer-open-bench-')));
const PIECE = 16_384;

function objectNumber(i: number): { metainfo: Metainfo; firstPiece: Buffer } {
  const length = PIECE + (i % 7) * 1000;
  const first = createHash('sha256').update(`piece-${i}`).digest();
  const firstPiece = Buffer.alloc(PIECE, first);
  const second = Buffer.alloc(length - PIECE, 7);
  const hashes = [createHash('sha1').update(firstPiece).digest()];
  if (second.length > 0) hashes.push(createHash('sha1').update(second).digest());
  const metainfo = buildMetainfo({
    name: `object-${i}.bin`,
    pieceLength: PIECE,
    multiFile: false,
    files: [{ path: [], length }],
    pieceHashes: Buffer.concat(hashes),
  });
  return { metainfo, firstPiece };
}

function report(phase: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ phase, objects: count, ...fields }));
}

function rssMiB(): number {
  return Math.round(process.memoryUsage().rss / 1024 / 1024);
}

if (values.measure !== undefined) {
  await measureOpen(values.measure.split(':')[0]!, values.measure.split(':')[1] as 'read' | 'write');
  process.exit(0);
}

// Fill (what is already there is kept)
{
  const store = await openStore(dataDir, { mode: 'write' });
  const started = performance.now();
  let next = store.list().length;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const { metainfo, firstPiece } = objectNumber(i);
      await store.addObject(metainfo, { ttlMs: 86_400_000, source: `https://origin.example/${i}` });
      await store.writePiece(metainfo.infoHash, 0, firstPiece);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await store.close();
  const seconds = (performance.now() - started) / 1000;
  report('fill', { seconds: +seconds.toFixed(1), objectsPerSecond: Math.round(count / seconds) });
}

async function measureOpen(phase: string, mode: 'write' | 'read'): Promise<void> {
  const rssBefore = rssMiB();
  const started = performance.now();
  const store = await openStore(dataDir, { mode });
  const openMs = performance.now() - started;
  const listed = performance.now();
  const objects = store.list();
  const listMs = performance.now() - listed;
  const found = performance.now();
  store.find(`object-${count - 1}.bin`);
  const findMs = performance.now() - found;
  const loaded = performance.now();
  const pieces = objects[0]?.metainfo.pieceCount;
  const firstMetainfoMs = performance.now() - loaded;
  report(phase, {
    mode,
    rssAtStartMiB: rssBefore,
    openMs: Math.round(openMs),
    listMs: Math.round(listMs),
    findByNameMs: +findMs.toFixed(1),
    firstMetainfoMs: +firstMetainfoMs.toFixed(2),
    listed: objects.length,
    pieces,
    rssMiB: rssMiB(),
  });
  await store.close();
}

/** Runs one open measurement in a fresh process. */
function measureInChild(phase: string, mode: 'read' | 'write'): void {
  const args = [process.argv[1]!, '--dir', dataDir, '--objects', String(count), '--measure', `${phase}:${mode}`];
  process.stdout.write(execFileSync(process.execPath, args, { encoding: 'utf8' }));
}

measureInChild('open-journal', 'read');
measureInChild('open-journal', 'write');
// Fold the journal into a snapshot, as the writer does once the journal outgrows it.
{
  const store = await openStore(dataDir, { mode: 'write', compactJournalBytes: 1 });
  await store.close();
}
measureInChild('open-snapshot', 'read');
measureInChild('open-snapshot', 'write');
measureInChild('open-snapshot', 'write');

if (!values.keep && values.dir === undefined) await rm(dataDir, { recursive: true, force: true });
