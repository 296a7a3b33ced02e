// Shared by the metainfo interop tests: content trees on disk and edgepeer's metainfo for them, with
// piece hashes computed here with node:crypto (the hashing pool is tested on its own).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { buildMetainfo, listContentFiles, type Metainfo } from '../../src/metainfo/index.ts';

export const run = promisify(execFile);

/** Deterministic bytes, different per seed. */
export function contentBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/** Writes files (path -> length) and symlinks (path -> target) under root. */
export async function writeTree(
  root: string,
  files: Record<string, number>,
  symlinks: Record<string, string> = {},
): Promise<void> {
  let seed = 1;
  for (const [path, length] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), contentBytes(length, seed++));
  }
  for (const [path, target] of Object.entries(symlinks)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await symlink(target, join(root, path));
  }
}

/** edgepeer's metainfo for a file or directory: listed in mktorrent's order, pieces hashed with node:crypto. */
export async function metainfoFor(
  target: string,
  pieceLength: number,
  extra: Partial<Parameters<typeof buildMetainfo>[0]> = {},
): Promise<Metainfo> {
  const listing = await listContentFiles(target);
  const content = Buffer.concat(await Promise.all(listing.files.map((file) => readFile(file.absolutePath))));
  const hashes: Buffer[] = [];
  for (let offset = 0; offset < content.length; offset += pieceLength) {
    hashes.push(
      createHash('sha1')
        .update(content.subarray(offset, offset + pieceLength))
        .digest(),
    );
  }
  return buildMetainfo({
    name: listing.name,
    pieceLength,
    multiFile: listing.multiFile,
    files: listing.files.map(({ path, length }) => ({ path, length })),
    pieceHashes: Buffer.concat(hashes),
    ...extra,
  });
}
