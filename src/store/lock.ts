// One writer at a time across processes. The lock is a file whose creation is atomic and exclusive: the
// holder's identity is written to a private temporary file first and then hard-linked to the lock name
// (link(2) fails with EEXIST like O_EXCL, and nobody ever sees a half-written lock). A lock whose holder
// is gone (no such pid, or the pid was reused by a process that started later) is stale and is broken.
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fromSystemError, StoreLockedError } from '../errors/index.ts';

export const LOCK_FILE = 'lock';

export interface LockHolder {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22), to tell pid reuse. */
  startTime: string | null;
  hostname: string;
  /** ms since the epoch. */
  acquiredAt: number;
}

export interface WriterLock {
  readonly path: string;
  readonly holder: LockHolder;
  release(): Promise<void>;
}

/** Start time of a process as the kernel reports it, or null where /proc is not there. */
export function processStartTime(pid: number | 'self'): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** False only when we can tell the holder is gone: no such process, or a different process under its pid. */
export function holderIsAlive(holder: LockHolder): boolean {
  if (holder.hostname !== hostname()) return true; // a shared file system: we cannot look at that machine
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (holder.startTime === null) return true;
  const startTime = processStartTime(holder.pid);
  return startTime === null || startTime === holder.startTime;
}

function parseHolder(text: string): LockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (!Number.isInteger(value.pid) || typeof value.hostname !== 'string') return null;
    return {
      pid: value.pid as number,
      startTime: typeof value.startTime === 'string' ? value.startTime : null,
      hostname: value.hostname,
      acquiredAt: typeof value.acquiredAt === 'number' ? value.acquiredAt : 0,
    };
  } catch {
    return null;
  }
}

/** Who holds the writer lock of the store in `dataDir`, or null if nobody does. */
export async function readLockHolder(dataDir: string): Promise<LockHolder | null> {
  try {
    return parseHolder(await readFile(join(dataDir, LOCK_FILE), 'utf8'));
  } catch {
    return null;
  }
}

/** Takes the writer lock of the store in `dataDir` or fails with StoreLockedError naming the holder's pid. */
export async function acquireWriterLock(dataDir: string): Promise<WriterLock> {
  const lockPath = join(dataDir, LOCK_FILE);
  const holder: LockHolder = {
    pid: process.pid,
    startTime: processStartTime('self'),
    hostname: hostname(),
    acquiredAt: Date.now(),
  };
  const content = `${JSON.stringify(holder)}\n`;
  const tempPath = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await writeSynced(tempPath, content);
    // Bounded: each round either takes the lock, fails on a live holder, or breaks one stale lock.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tempPath, lockPath);
        return { path: lockPath, holder, release: () => releaseLock(lockPath, content) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const existing = await readFile(lockPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null; // released meanwhile: try again
        throw err;
      });
      if (existing === null) continue;
      const current = parseHolder(existing);
      if (current !== null && holderIsAlive(current)) {
        throw new StoreLockedError(
          `the store in ${dataDir} is locked by another writer: pid ${current.pid} on ${current.hostname}` +
            ` since ${new Date(current.acquiredAt).toISOString()} (stop it, or go through it)`,
          { subject: dataDir, pid: current.pid, hostname: current.hostname },
        );
      }
      await breakStaleLock(lockPath, existing);
    }
    throw new StoreLockedError(`the store in ${dataDir} is locked: its lock changed hands too often to take it`, {
      subject: dataDir,
    });
  } catch (err) {
    throw fromSystemError(err, lockPath);
  } finally {
    await unlink(tempPath).catch(() => {});
  }
}

async function writeSynced(path: string, content: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Moves the stale lock aside and deletes it. Renaming first means that of two processes breaking the same
 * stale lock, only one removes it; if what we moved aside turns out not to be the stale lock we read (another
 * process took the lock in between), it is put back.
 */
async function breakStaleLock(lockPath: string, staleContent: string): Promise<void> {
  const asidePath = `${lockPath}.stale.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await rename(lockPath, asidePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readFile(asidePath, 'utf8');
  if (moved !== staleContent) await link(asidePath, lockPath).catch(() => {});
  await unlink(asidePath);
}

/** Removes the lock if it is still ours (it is, unless someone deleted it by hand). */
async function releaseLock(lockPath: string, content: string): Promise<void> {
  const current = await readFile(lockPath, 'utf8').catch(() => null);
  if (current === content) await unlink(lockPath).catch(() => {});
}
