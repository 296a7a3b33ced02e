// kill -9 at random moments while a child process writes: after each, the store must reopen consistent
// (every piece in a bitmap matches its hash, every object complete on disk) and must have lost nothing
// the child was told was committed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pieceHash } from '../../src/metainfo/index.ts';
import { openStore } from '../../src/store/index.ts';
import { CRASH_OBJECTS } from './fixtures/crash-objects.ts';
import { sha1, tempFolder } from './helpers.ts';

const writerLoop = join(import.meta.dirname, 'fixtures', 'writer-loop.ts');
const TRIALS = 8;
let dataDir: string;
let removeFolder: () => Promise<void>;

beforeAll(async () => {
  ({ path: dataDir, remove: removeFolder } = await tempFolder('edgepeer-crash-'));
});
afterAll(async () => {
  await removeFolder();
});

/** Runs the child until it has printed `killAfter` acknowledged operations, then SIGKILLs it. */
async function runAndKill(trial: number, killAfter: number): Promise<string[]> {
  const child = spawn(process.execPath, [writerLoop, dataDir, String(trial * 7919 + 17)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout! });
  const closed = once(reader, 'close');
  reader.on('line', (line) => {
    lines.push(line);
    if (lines.length === killAfter + 1) child.kill('SIGKILL');
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  await closed;
  if (signal !== 'SIGKILL') throw new Error(`writer exited by itself (code ${code}): ${stderr}`);
  expect(lines[0]).toBe('open');
  return lines.slice(1);
}

type Model = Map<number, { present: boolean; pieces: Map<number, boolean> }>;

function applyLines(model: Model, lines: string[]): void {
  for (const line of lines) {
    const [what, kText, iText] = line.split(' ');
    const k = Number(kText);
    const state = model.get(k) ?? { present: false, pieces: new Map() };
    model.set(k, state);
    if (what === 'added') state.present = true;
    else if (what === 'adopted') {
      state.present = true;
      for (let i = 0; i < CRASH_OBJECTS[k]!.metainfo.pieceCount; i++) state.pieces.set(i, true);
    } else if (what === 'dropped' || what === 'dropping') {
      state.present = false;
      state.pieces.clear();
    } else if (what === 'acked') state.pieces.set(Number(iText), true);
    else if (what === 'removed' || what === 'removing') state.pieces.set(Number(iText), false);
    else throw new Error(`unexpected line from the writer: ${line}`);
  }
}

describe('kill -9 during writes', () => {
  it(`reopens consistent and loses nothing acknowledged, over ${TRIALS} random kills`, async () => {
    const model: Model = new Map();
    let acknowledged = 0;
    for (let trial = 1; trial <= TRIALS; trial++) {
      const killAfter = 3 + ((trial * 37) % 120);
      const lines = await runAndKill(trial, killAfter);
      acknowledged += lines.length;
      applyLines(model, lines);

      const store = await openStore(dataDir, { mode: 'write' });
      try {
        // Nothing acknowledged is lost.
        for (const [k, state] of model) {
          const { infoHash } = CRASH_OBJECTS[k]!.metainfo;
          const stored = store.get(infoHash);
          if (state.present) expect(stored, `object ${k} after trial ${trial}`).toBeDefined();
          for (const [i, held] of state.pieces) {
            if (held) expect(stored?.bitfield.get(i), `piece ${k}/${i} after trial ${trial}`).toBe(true);
          }
        }
        // Everything in a bitmap is what its hash says, and every object is whole on disk.
        for (const stored of store.list()) {
          const { metainfo } = stored;
          for (const [index, file] of metainfo.files.entries()) {
            const path = join(dataDir, 'objects', stored.infoHash, 'data', metainfo.name, ...file.path);
            expect((await stat(path)).size, `${path} after trial ${trial}`).toBe(file.length);
            expect(index).toBeGreaterThanOrEqual(0);
          }
          for (let i = 0; i < metainfo.pieceCount; i++) {
            if (!stored.bitfield.get(i)) continue;
            const piece = await store.readPiece(stored.infoHash, i);
            expect(sha1(piece).equals(pieceHash(metainfo, i)), `piece ${stored.name}/${i} after trial ${trial}`).toBe(
              true,
            );
          }
        }
        // Nothing half made is left behind.
        expect((await readdir(join(dataDir, 'objects'))).sort()).toEqual(
          store
            .list()
            .map((o) => o.infoHash)
            .sort(),
        );
        expect(await readdir(join(dataDir, 'staging'))).toEqual([]);
      } finally {
        await store.close();
      }
    }
    expect(acknowledged).toBeGreaterThan(TRIALS * 3);
  }, 120_000);
});
