import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, readLockHolder } from '../../src/store/index.ts';
import { processStartTime } from '../../src/store/lock.ts';
import { tempFolder } from './helpers.ts';

const holdLock = join(import.meta.dirname, 'fixtures', 'hold-lock.ts');
let dataDir: string;
let removeFolder: () => Promise<void>;
const children: ChildProcess[] = [];

beforeEach(async () => {
  ({ path: dataDir, remove: removeFolder } = await tempFolder());
});

afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await removeFolder();
});

/** Starts a child that takes the writer lock; resolves with its first line of output. */
async function startHolder(): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [holdLock, dataDir], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  return { child, line };
}

describe('writer lock', () => {
  it('lets one writer in across processes and names the holder to the next', async () => {
    const { child, line } = await startHolder();
    expect(line).toBe('locked');
    const refused = await openStore(dataDir, { mode: 'write' }).catch((err) => err);
    expect(refused).toMatchObject({ code: 'EDGEPEER_STORE_LOCKED', details: { pid: child.pid } });
    expect(refused.message).toContain(`pid ${child.pid}`);
    expect((await readLockHolder(dataDir))?.pid).toBe(child.pid);

    const reader = await openStore(dataDir, { mode: 'read' });
    expect(reader.list()).toEqual([]);
    await reader.close();

    child.stdin!.end();
    await once(child, 'exit');
    expect(await readLockHolder(dataDir)).toBeNull();
    const writer = await openStore(dataDir, { mode: 'write' });
    await writer.close();
  });

  it('breaks the lock of a writer killed with SIGKILL', async () => {
    const { child } = await startHolder();
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect((await readLockHolder(dataDir))?.pid).toBe(child.pid);
    const writer = await openStore(dataDir, { mode: 'write' });
    expect((await readLockHolder(dataDir))?.pid).toBe(process.pid);
    await writer.close();
    expect((await readdir(dataDir)).filter((name) => name.startsWith('lock'))).toEqual([]);
  });

  it('a second writer in the same process is refused too', async () => {
    const writer = await openStore(dataDir, { mode: 'write' });
    await expect(openStore(dataDir, { mode: 'write' })).rejects.toMatchObject({
      code: 'EDGEPEER_STORE_LOCKED',
      details: { pid: process.pid },
    });
    await writer.close();
  });

  it('treats a live pid that started at another time as a reused pid: the lock is stale', async () => {
    expect(processStartTime('self')).toMatch(/^\d+$/);
    const stale = { pid: process.pid, startTime: '1', hostname: hostname(), acquiredAt: 0 };
    await writeFile(join(dataDir, 'lock'), JSON.stringify(stale));
    const writer = await openStore(dataDir, { mode: 'write' });
    await writer.close();
  });

  it('does not break a lock held from another host (it cannot see that process)', async () => {
    const remote = { pid: 1, startTime: null, hostname: `not-${hostname()}`, acquiredAt: 0 };
    await writeFile(join(dataDir, 'lock'), JSON.stringify(remote));
    await expect(openStore(dataDir, { mode: 'write' })).rejects.toMatchObject({ code: 'EDGEPEER_STORE_LOCKED' });
  });
});
