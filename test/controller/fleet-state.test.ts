// The in-memory fleet state: the FleetState contract, kept in memory only and with tokens and edges saved
// to a file; what survives reopening that file, and a damaged one.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryFleetState } from '../../src/controller/index.ts';
import { StoreCorruptError } from '../../src/errors/index.ts';
import { fleetStateContract } from './fleet-state-contract.ts';

let dir: string;
let files = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-fleet-state-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A new file name in the temporary dir (the dir under it does not exist yet: the state makes it). */
function newFile(): string {
  files += 1;
  return join(dir, `fleet${files}`, 'fleet.json');
}

fleetStateContract('memory fleet state', () => MemoryFleetState.open());
fleetStateContract('memory fleet state saved to a file', () => MemoryFleetState.open(newFile()));

describe('memory fleet state file', () => {
  const liveness = {
    address: { httpBaseUrl: 'http://edge1.cdn.example:8080', peerPort: 6881 },
    capacityBytes: 1000,
    freeBytes: 500,
    connections: 0,
    uploadBytesPerSecond: 0,
    lastSeen: Date.now(),
  };

  it('keeps tokens, edges and queued purges across reopening, but not liveness, cursors or holdings', async () => {
    const file = newFile();
    const first = await MemoryFleetState.open(file);
    const now = Date.now();
    const used = { hash: 'a'.repeat(64), createdAt: now, expiresAt: now + 60_000, label: 'edge1', usedBy: null };
    const unused = { hash: 'b'.repeat(64), createdAt: now, expiresAt: now + 60_000, label: null, usedBy: null };
    await first.addToken(used);
    await first.addToken(unused);
    expect(await first.redeemToken(used.hash, 'edge-000000000001', now)).toEqual({ ok: true });
    const edge = { id: 'edge-000000000001', name: 'edge1', keyHash: 'c'.repeat(64), enrolledAt: now, draining: false };
    const drained = { ...edge, id: 'edge-000000000002', name: 'edge2' };
    const removed = { ...edge, id: 'edge-000000000003', name: 'edge3' };
    for (const record of [edge, drained, removed]) await first.addEdge(record);
    await first.setDraining(drained.id, true);
    await first.removeEdge(removed.id);
    await first.recordHeartbeat(edge.id, liveness);
    const infoHash = 'd'.repeat(40);
    await first.replaceHoldings(edge.id, { session: 'a1b2c3d4e5f60718', seq: 0 }, [
      { infoHash, pieceCount: 8, bitfield: new Uint8Array([0xff]) },
    ]);
    await first.queuePurge(edge.id, { infoHash, pieces: '0-3', queuedAt: now });
    await first.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const second = await MemoryFleetState.open(file);
    try {
      expect(await second.listTokens()).toEqual(
        expect.arrayContaining([{ ...used, usedBy: 'edge-000000000001' }, unused]),
      );
      expect(await second.listTokens()).toHaveLength(2);
      expect(await second.redeemToken(used.hash, 'edge-000000000009', now)).toEqual({ ok: false, reason: 'used' });
      expect(await second.listEdges()).toEqual(expect.arrayContaining([edge, { ...drained, draining: true }]));
      expect(await second.listEdges()).toHaveLength(2);
      expect(await second.edge(removed.id)).toBeUndefined();
      expect(await second.liveness(edge.id)).toBeUndefined();
      expect(await second.cursor(edge.id)).toBeUndefined();
      expect(await second.holdersOf(infoHash)).toEqual([]);
      expect(await second.queuedPurges(edge.id)).toEqual([{ infoHash, pieces: '0-3', queuedAt: now }]);
      // The unused token still enrols once.
      expect(await second.redeemToken(unused.hash, 'edge-000000000004', now)).toEqual({ ok: true });
    } finally {
      await second.close();
    }
    const third = await MemoryFleetState.open(file);
    try {
      expect((await third.listTokens()).every((token) => token.usedBy !== null)).toBe(true);
    } finally {
      await third.close();
    }
  });

  it('starts empty where there is no file yet, and writes none until something is kept', async () => {
    const file = newFile();
    const state = await MemoryFleetState.open(file);
    expect(await state.listTokens()).toEqual([]);
    expect(await state.listEdges()).toEqual([]);
    await state.close();
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a damaged file with StoreCorruptError naming it', async () => {
    const file = newFile();
    const state = await MemoryFleetState.open(file);
    await state.addEdge({
      id: 'edge-000000000001',
      name: 'e',
      keyHash: 'c'.repeat(64),
      enrolledAt: 1,
      draining: false,
    });
    await state.close();
    const text = await readFile(file, 'utf8');
    for (const damaged of [text.slice(0, text.length >> 1), '', '{"version":2,"tokens":[],"edges":[]}', '[]']) {
      await writeFile(file, damaged);
      const opening = MemoryFleetState.open(file);
      await expect(opening).rejects.toBeInstanceOf(StoreCorruptError);
      await expect(opening).rejects.toMatchObject({ code: 'EDGEPEER_STORE_CORRUPT' });
      await expect(opening).rejects.toThrow(file);
    }
  });
});
