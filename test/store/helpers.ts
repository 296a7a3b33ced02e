// Content, metainfo and folders for store tests. Content is a deterministic function of a seed, so that
// a child process and the test agree on every byte without passing data around.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMetainfo, type Metainfo } from '../../src/metainfo/index.ts';
import { type BitfieldView, MemoryStore, openStore } from '../../src/store/index.ts';

export function sha1(data: Uint8Array): Buffer {
  return createHash('sha1').update(data).digest();
}

/** The PieceCache's verify, done in-thread with node:crypto. */
export async function sha1Verify(data: Uint8Array, expected: Uint8Array): Promise<boolean> {
  return sha1(data).equals(expected);
}

/** `length` pseudo-random bytes from `seed` (SHA-1 in counter mode: cheap and reproducible anywhere). */
export function makeContent(length: number, seed: string): Buffer {
  const content = Buffer.allocUnsafe(length);
  let offset = 0;
  for (let counter = 0; offset < length; counter++) {
    const block = createHash('sha1').update(`${seed}:${counter}`).digest();
    offset += block.copy(content, offset);
  }
  return content;
}

export interface TestObject {
  metainfo: Metainfo;
  content: Buffer;
  piece(index: number): Buffer;
  /** file contents in metainfo order */
  fileContents: Buffer[];
}

/** An object whose files have `fileLengths`; multi-file unless `single` and one file. */
export function makeObject(options: {
  name: string;
  pieceLength: number;
  fileLengths: number[];
  seed?: string;
  single?: boolean;
  filePaths?: string[][];
}): TestObject {
  const total = options.fileLengths.reduce((sum, length) => sum + length, 0);
  const content = makeContent(total, options.seed ?? options.name);
  const pieceCount = Math.ceil(total / options.pieceLength);
  const hashes: Buffer[] = [];
  for (let index = 0; index < pieceCount; index++) {
    hashes.push(sha1(content.subarray(index * options.pieceLength, (index + 1) * options.pieceLength)));
  }
  const multiFile = !(options.single === true && options.fileLengths.length === 1);
  const files = options.fileLengths.map((length, index) => ({
    path: multiFile ? (options.filePaths?.[index] ?? ['dir', `file-${index}.bin`]) : [],
    length,
  }));
  const metainfo = buildMetainfo({
    name: options.name,
    pieceLength: options.pieceLength,
    multiFile,
    files,
    pieceHashes: Buffer.concat(hashes),
  });
  const fileContents: Buffer[] = [];
  let offset = 0;
  for (const length of options.fileLengths) {
    fileContents.push(content.subarray(offset, offset + length));
    offset += length;
  }
  return {
    metainfo,
    content,
    fileContents,
    piece: (index) => content.subarray(index * options.pieceLength, (index + 1) * options.pieceLength),
  };
}

/** A fresh temporary folder and a function removing it. */
export async function tempFolder(prefix = 'edgepeer-store-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Waits for the next `event` of `emitter`. */
export function nextEvent<T extends unknown[]>(
  emitter: { once(event: string, listener: (...args: T) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}

/** Indexes of the pieces a bitfield holds. */
export function heldPieces(bitfield: BitfieldView): number[] {
  const held: number[] = [];
  for (let index = 0; index < bitfield.length; index++) if (bitfield.get(index)) held.push(index);
  return held;
}

/** A fresh disk store in a temporary folder, and a close that removes the folder too (contract suites). */
export async function openDiskStore() {
  const dir = await tempFolder();
  const store = await openStore(dir.path, { mode: 'write' });
  return {
    store,
    close: async () => {
      await store.close();
      await dir.remove();
    },
  };
}

/** A fresh memory store, in the same shape. */
export async function openMemoryStore() {
  const store = new MemoryStore();
  return { store, close: () => store.close() };
}
