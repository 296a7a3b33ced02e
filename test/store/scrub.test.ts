import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors/index.ts';
import {
  createPieceCache,
  openStore,
  type PieceCache,
  parseScrubWindow,
  Scrubber,
  type ScrubPass,
  type StagingStore,
  type Store,
} from '../../src/store/index.ts';
import { msUntilWindow } from '../../src/store/scrub.ts';
import { makeObject, sha1Verify, tempFolder } from './helpers.ts';

let dataDir: string;
let removeFolder: () => Promise<void>;
let store: Store & StagingStore;
let cache: PieceCache;
const scrubbers: Scrubber[] = [];

const object = makeObject({ name: 'cold.bin', pieceLength: 16_384, fileLengths: [100_000], single: true });
const { infoHash } = object.metainfo;
const dataFile = () => join(dataDir, 'objects', infoHash, 'data', 'cold.bin');

beforeEach(async () => {
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
  store = await openStore(dataDir, { mode: 'write' });
  await store.addObject(object.metainfo);
  for (let index = 0; index < object.metainfo.pieceCount; index++) {
    await store.writePiece(infoHash, index, object.piece(index));
  }
  cache = createPieceCache(store, { maxBytes: 1 << 20, verify: sha1Verify });
});

afterEach(async () => {
  for (const scrubber of scrubbers.splice(0)) await scrubber.stop();
  await store.close();
  await removeFolder();
});

function scrubber(options: Partial<ConstructorParameters<typeof Scrubber>[2]> = {}, now?: () => Date): Scrubber {
  const made = new Scrubber(
    store,
    cache,
    { bytesPerSecond: 1024 ** 3, passIntervalMs: 60_000, window: null, ...options },
    now,
  );
  scrubbers.push(made);
  return made;
}

/** Flips one byte of the data file in place, as bit rot or a stray write would. */
async function flipByte(offset: number): Promise<void> {
  const file = await open(dataFile(), 'r+');
  const byte = Buffer.alloc(1);
  await file.read(byte, 0, 1, offset);
  byte[0] = byte[0]! ^ 0xff;
  await file.write(byte, 0, 1, offset);
  await file.close();
}

describe('background scrub', () => {
  it('reads every held piece once a pass and finds a piece that rotted on disk, nobody having asked for it', async () => {
    await flipByte(3 * 16_384 + 100);
    const removed = once(store, 'pieces-removed');
    const scrub = scrubber();
    const finished = once(scrub, 'pass-finished') as Promise<[ScrubPass]>;
    scrub.start();
    const [pass] = await finished;
    expect(pass).toMatchObject({ bytesTotal: 100_000, bytesChecked: 100_000, piecesChecked: 7, corruptPieces: 1 });
    expect(await removed).toEqual([infoHash, [3], 'corrupt']);
    expect(store.get(infoHash)!.bitfield.get(3)).toBe(false);
    expect(cache.stats().corruptPieces).toBe(1);
    expect(cache.stats().bytes).toBe(0); // the scrub leaves the cache to clients
    expect(scrub.status()).toMatchObject({ passes: 1, piecesChecked: 7, corruptPieces: 1, state: 'between-passes' });
  });

  it('keeps to its rate: a pass over 100,000 bytes at 400,000 bytes/s has its progress visible on the way', async () => {
    const scrub = scrubber({ bytesPerSecond: 400_000 });
    const corrupt: number[] = [];
    scrub.on('corrupt', (_hash, index) => corrupt.push(index));
    const finished = once(scrub, 'pass-finished') as Promise<[ScrubPass]>;
    scrub.start();
    await expect.poll(() => scrub.status().current?.piecesChecked ?? 0).toBeGreaterThan(0);
    const during = scrub.status();
    expect(during.state).toBe('scrubbing');
    expect(during.current!.bytesChecked).toBeLessThan(100_000);
    const [pass] = await finished;
    // 100,000 bytes at 400,000 bytes/s: at least 250 ms minus the first piece's share.
    expect(pass.finishedAt! - pass.startedAt).toBeGreaterThanOrEqual(200);
    expect(corrupt).toEqual([]);
  });

  it('waits outside its window, and says so', async () => {
    const at = new Date(2026, 11, 3, 12, 0, 0);
    const scrub = scrubber({ window: parseScrubWindow('01:00-06:00') }, () => at);
    scrub.start();
    await expect.poll(() => scrub.status().state).toBe('waiting-for-window');
    expect(scrub.status()).toMatchObject({ window: '01:00-06:00', piecesChecked: 0 });
    await scrub.stop();
    expect(scrub.status().state).toBe('stopped');
  });

  it('counts no pass over a store that holds nothing, and says it waits', async () => {
    await store.removeObject(infoHash, 'purge');
    const scrub = scrubber();
    scrub.on('pass-finished', () => expect.unreachable('a pass over nothing'));
    scrub.start();
    await expect.poll(() => scrub.status().state).toBe('between-passes');
    expect(scrub.status()).toMatchObject({ passes: 0, current: null, last: null, piecesChecked: 0 });
  });

  it('is off at rate 0', () => {
    const scrub = scrubber({ bytesPerSecond: 0 });
    scrub.start();
    expect(scrub.status().state).toBe('off');
  });
});

describe('scrub window', () => {
  it('parses HH:MM-HH:MM, wrapping past midnight', () => {
    expect(parseScrubWindow('01:00-06:30')).toEqual({ fromMinute: 60, toMinute: 390 });
    expect(parseScrubWindow('22:00-04:00')).toEqual({ fromMinute: 1320, toMinute: 240 });
    for (const bad of ['1-6', '25:00-01:00', '01:00-01:00', '01:60-02:00', '']) {
      expect(() => parseScrubWindow(bad)).toThrow(InvalidArgumentError);
    }
  });

  it('tells how long until the window opens', () => {
    const window = parseScrubWindow('22:00-04:00');
    expect(msUntilWindow(window, new Date(2026, 0, 1, 23, 0))).toBe(0);
    expect(msUntilWindow(window, new Date(2026, 0, 1, 3, 59))).toBe(0);
    expect(msUntilWindow(window, new Date(2026, 0, 1, 4, 0))).toBe(18 * 3600_000);
    expect(msUntilWindow(window, new Date(2026, 0, 1, 21, 59, 30))).toBe(30_000);
  });
});
