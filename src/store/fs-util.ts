// Small file-system steps the store's crash safety rests on.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';

/** Makes a folder's entries (created, renamed, removed names) durable. */
export async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a whole file and fsyncs it (the caller fsyncs the folder once it has written all it needs). */
export async function writeFileDurable(path: string, data: Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 2 });
}

let fallocateMissing = false;

/**
 * Frees the blocks of a byte range and leaves a hole that reads as zeros (util-linux `fallocate
 * --punch-hole`; Node has no fallocate(2)). Best effort: the bitmap already says the bytes are gone, so a
 * file system without hole punching only keeps the space until the object goes.
 */
export function punchHole(path: string, offset: number, length: number): Promise<void> {
  if (fallocateMissing || length <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    execFile('fallocate', ['--punch-hole', '--offset', String(offset), '--length', String(length), path], (err) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') fallocateMissing = true;
      resolve();
    });
  });
}
