// The writer thread's loop, run here on the test's thread: lines are in the file at every write, reported
// (durable) at a sync at most every SYNC_MS or when asked, each line counted once.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RingWriter, ringMemory } from '../../src/accounting/ring.ts';
import { AccountingWriter, CURRENT_FILE, SYNC_MS } from '../../src/accounting/writer.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-accounting-writer-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('accounting writer', () => {
  it('writes at every batch, syncs and reports at most every SYNC_MS or when asked, each line once', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const memory = ringMemory(1 << 16);
      const ring = new RingWriter(memory);
      const writer = new AccountingWriter({
        dir,
        run: 'r',
        agent: 'a',
        rotateBytes: 1 << 30,
        rotateMs: 3_600_000,
        ring: memory,
      });
      writer.open();
      const fileLines = async () => (await readFile(join(dir, CURRENT_FILE), 'utf8')).split('\n').length - 1;
      let seq = 0;
      const add = () => ring.line(++seq, Date.now(), 'wire', `"sc-entity-bytes":${seq}`);
      add();
      // The first batch syncs (none before it).
      expect(writer.writeBatch()).toEqual({ kind: 'batch', written: 1, lost: 0 });
      add();
      add();
      vi.advanceTimersByTime(SYNC_MS - 10);
      expect(writer.writeBatch()).toBeNull();
      expect(await fileLines()).toBe(3);
      add();
      writer.drain();
      expect(writer.writeHeld()).toBeNull();
      expect(await fileLines()).toBe(4);
      vi.advanceTimersByTime(10);
      expect(writer.writeBatch()).toEqual({ kind: 'batch', written: 3, lost: 0 });
      add();
      expect(writer.writeBatch()).toBeNull();
      expect(writer.writeBatch(true)).toEqual({ kind: 'batch', written: 1, lost: 0 });
      expect(writer.writeBatch(true)).toBeNull();
      writer.close();
      expect(await fileLines()).toBe(5);
    } finally {
      vi.useRealTimers();
    }
  });
});
