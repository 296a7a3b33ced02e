// The in-memory store's peer table against a Map under random churn: lookups after backward-shift deletion,
// free records reused, sizes, and swarm lists with swap-removal.
import { describe, expect, it } from 'vitest';
import { NO_RECORD, PeerTable, RecordList } from '../../src/tracker/server/peer-table.ts';

function compactOf(n: number, v6: boolean): Uint8Array {
  const bytes = new Uint8Array(v6 ? 18 : 6);
  // Few distinct addresses and ports, so that probe runs collide and deletions shift entries.
  bytes[v6 ? 15 : 3] = n % 7;
  bytes[v6 ? 16 : 4] = (n >> 8) & 255;
  bytes[v6 ? 17 : 5] = n & 255;
  return bytes;
}

describe('PeerTable', () => {
  it('finds what a Map finds over 60,000 random adds and removes, reusing freed records', () => {
    const table = new PeerTable();
    const model = new Map<string, number>();
    let seed = 42;
    const random = (below: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % below;
    };
    let highest = 0;
    for (let step = 0; step < 60_000; step++) {
      const swarm = random(5);
      const n = random(3000);
      const v6 = random(4) === 0;
      const name = `${swarm}/${n}/${v6}`;
      const compact = compactOf(n, v6);
      const found = table.find(swarm, compact);
      expect(found === NO_RECORD ? undefined : found).toBe(model.get(name));
      if (found === NO_RECORD) {
        const record = table.add(swarm, compact);
        highest = Math.max(highest, record);
        expect(table.compactBytes(record)).toEqual(compact);
        model.set(name, record);
      } else if (random(2) === 0) {
        table.remove(found);
        model.delete(name);
      }
      expect(table.size).toBe(model.size);
    }
    for (const [name, record] of model) {
      const [swarm, n, v6] = name.split('/');
      expect(table.find(Number(swarm), compactOf(Number(n), v6 === 'true'))).toBe(record);
    }
    // Churn reuses records: never more handed out than were alive at once, plus the table's first block.
    expect(highest).toBeLessThan(Math.max(model.size * 2, 1024) + 3000);
  });

  it('keeps a peer id of 20 bytes in the table and one of another length beside it', () => {
    const table = new PeerTable();
    const record = table.add(1, compactOf(1, false));
    expect(table.setPeerId(record, Buffer.from('-EP0001-abcdefghijkl'))).toBe(true);
    expect(table.setPeerId(record, Buffer.from('-EP0001-abcdefghijkl'))).toBe(false);
    expect(table.setPeerId(record, Buffer.from('-EP0001-abcdefghijklm'))).toBe(true);
    expect(table.peerIdText(record)).toBe('-EP0001-abcdefghijklm');
    expect(table.setPeerId(record, Buffer.from('-EP0001-abcdefghijkl'))).toBe(true);
    expect(table.peerIdText(record)).toBe('-EP0001-abcdefghijkl');
  });
});

describe('RecordList', () => {
  it('removes by swapping the last entry in, and says which record moved', () => {
    const list = new RecordList();
    for (let record = 0; record < 100; record++) expect(list.push(record)).toBe(record);
    expect(list.removeAt(10)).toBe(99);
    expect(list.items[10]).toBe(99);
    expect(list.removeAt(list.length - 1)).toBe(NO_RECORD);
    expect(list.length).toBe(98);
    while (list.length > 0) list.removeAt(0);
    expect(list.items.length).toBeLessThanOrEqual(64 * 2);
  });
});
