// The controller's catalog over an in-memory fleet state: objects once their metainfo is adopted, the union
// of serving edges' bitfields and its copies, catalog events as edges gain and lose pieces, go down, drain,
// are set aside and come back, spans held whole by an edge, and what it refuses.
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FleetCatalog, MemoryFleetState } from '../../src/controller/index.ts';
import { encodeTorrent } from '../../src/metainfo/index.ts';
import { Bitfield, type CatalogEvents } from '../../src/store/index.ts';
import { makeObject, type TestObject } from '../wire/helpers.ts';

const PIECE = 16 * 1024;
const SESSION = 'a1b2c3d4e5f60718';
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });

type CatalogEvent = [keyof CatalogEvents, ...unknown[]];

/** Every catalog event, in order. */
function record(catalog: FleetCatalog): CatalogEvent[] {
  const events: CatalogEvent[] = [];
  for (const name of ['object-added', 'pieces-added', 'pieces-removed', 'object-removed'] as const) {
    catalog.on(name, (...args: unknown[]) =>
      events.push([
        name,
        ...args.map((arg) => (name === 'object-added' ? (arg as { infoHash: string }).infoHash : arg)),
      ]),
    );
  }
  return events;
}

function edgeId(n: number): string {
  return `edge-${n.toString(16).padStart(12, '0')}`;
}

/** Five pieces, the last one short. */
const object = makeObject('five.bin', 5 * PIECE - 100, PIECE);
const other = makeObject('three.bin', 3 * PIECE, PIECE);

let fleet: MemoryFleetState;
let catalog: FleetCatalog;
let clock: number;
let events: CatalogEvent[];
const seqs = new Map<string, number>();

beforeEach(async () => {
  clock = 1_000_000;
  fleet = await MemoryFleetState.open();
  catalog = new FleetCatalog(fleet, silent, () => clock);
  events = record(catalog);
  seqs.clear();
});

afterEach(async () => {
  vi.useRealTimers();
  await fleet.close();
});

async function enrol(id: string): Promise<void> {
  await fleet.addEdge({ id, name: id, keyHash: '0'.repeat(64), enrolledAt: clock, draining: false });
}

async function heartbeat(id: string): Promise<void> {
  await fleet.recordHeartbeat(id, {
    address: { httpBaseUrl: `http://${id}.cdn.example:8080`, peerPort: 6881 },
    capacityBytes: 1_000_000,
    freeBytes: 500_000,
    connections: 0,
    uploadBytesPerSecond: 0,
    lastSeen: clock,
  });
}

/** An enrolled edge, up. */
async function upEdge(n: number): Promise<string> {
  const id = edgeId(n);
  await enrol(id);
  await heartbeat(id);
  return id;
}

/** The edge's whole state: these pieces of each object (starting a new count of its deltas). */
async function holds(id: string, held: Array<[TestObject, number[]]>, pieceCount?: number): Promise<void> {
  seqs.set(id, 0);
  await fleet.replaceHoldings(
    id,
    { session: SESSION, seq: 0 },
    held.map(([test, pieces]) => {
      const bitfield = new Bitfield(pieceCount ?? test.metainfo.pieceCount);
      for (const piece of pieces) bitfield.set(piece);
      return { infoHash: test.infoHash, pieceCount: bitfield.length, bitfield: bitfield.toBuffer() };
    }),
  );
}

/** The edge's next delta on one object. */
async function change(id: string, test: TestObject, added: number[], removed: number[] = []): Promise<void> {
  const seq = (seqs.get(id) ?? 0) + 1;
  seqs.set(id, seq);
  const outcome = await fleet.applyChanges(id, { session: SESSION, seq }, [
    { infoHash: test.infoHash, pieceCount: test.metainfo.pieceCount, added, removed },
  ]);
  expect(outcome).toBe('applied');
}

function adopt(test: TestObject): boolean {
  return catalog.adoptMetainfo(test.infoHash, encodeTorrent(test.metainfo));
}

function union(test: TestObject): number[] {
  const held = catalog.get(test.infoHash);
  return held === undefined ? [] : [...Array(held.pieceCount).keys()].filter((piece) => held.bitfield.get(piece));
}

function spanHolders(test: TestObject, first: number, last: number): string[] {
  return catalog
    .holdersOfSpan(test.infoHash, first, last)
    .map((edge) => edge.record.id)
    .sort();
}

describe('fleet catalog', () => {
  it('lists an object only once its metainfo is adopted, then counts the holdings that came before', async () => {
    const id = await upEdge(1);
    await holds(id, [[object, [0, 1]]]);
    expect(catalog.get(object.infoHash)).toBeUndefined();
    expect(catalog.list()).toEqual([]);
    expect(catalog.known(object.infoHash)).toBeUndefined();
    expect(catalog.metainfoOf(object.infoHash)).toBeUndefined();
    expect(catalog.knowsMetainfo(object.infoHash)).toBe(false);
    expect(catalog.holdersOfSpan(object.infoHash, 0, 0)).toEqual([]);
    // The edge's holdings are known though, whatever the metainfo.
    expect(catalog.heldBy(id)).toEqual({ objects: 1, pieces: 2 });
    expect(events).toEqual([]);

    expect(adopt(object)).toBe(true);
    expect(events).toEqual([
      ['object-added', object.infoHash],
      ['pieces-added', object.infoHash, [0, 1]],
    ]);
    expect(catalog.get(object.infoHash)).toMatchObject({
      infoHash: object.infoHash,
      name: 'five.bin',
      length: 5 * PIECE - 100,
      pieceLength: PIECE,
      pieceCount: 5,
      piecesHeld: 2,
      complete: false,
    });
    expect(catalog.get(object.infoHash.toUpperCase())?.infoHash).toBe(object.infoHash);
    expect(catalog.list().map((listed) => listed.infoHash)).toEqual([object.infoHash]);
    expect(catalog.metainfoOf(object.infoHash)?.infoHash).toBe(object.infoHash);
    expect(catalog.knowsMetainfo(object.infoHash)).toBe(true);
    expect(union(object)).toEqual([0, 1]);
    // Adopting it again changes nothing.
    expect(adopt(object)).toBe(true);
    expect(events).toHaveLength(2);
  });

  it('knows an adopted object no edge holds, without listing it', () => {
    expect(adopt(other)).toBe(true);
    expect(catalog.known(other.infoHash)?.pieceCount).toBe(3);
    expect(catalog.get(other.infoHash)).toBeUndefined();
    expect(catalog.list()).toEqual([]);
    expect(catalog.copies(other.infoHash)).toEqual(new Uint16Array(3));
    expect(events).toEqual([]);
  });

  it('holds the union of two edges, counts the copies of each piece and tells only of union changes', async () => {
    adopt(object);
    const [one, two] = [await upEdge(1), await upEdge(2)];
    await holds(one, [[object, [0, 1, 2]]]);
    await holds(two, [[object, [2, 3]]]);
    expect(union(object)).toEqual([0, 1, 2, 3]);
    expect([...catalog.copies(object.infoHash)!]).toEqual([1, 1, 2, 1, 0]);
    expect(catalog.get(object.infoHash)).toMatchObject({ piecesHeld: 4, complete: false });
    expect(events).toEqual([
      ['object-added', object.infoHash],
      ['pieces-added', object.infoHash, [0, 1, 2]],
      ['pieces-added', object.infoHash, [3]],
    ]);
    expect(
      catalog
        .holdings(object.infoHash)
        .map(({ edge }) => edge.record.id)
        .sort(),
    ).toEqual([one, two]);

    events.length = 0;
    await change(two, object, [4]);
    expect(catalog.get(object.infoHash)).toMatchObject({ piecesHeld: 5, complete: true });
    // Piece 2 is still on edge two: the union does not change when edge one drops it.
    await change(one, object, [], [2]);
    expect([...catalog.copies(object.infoHash)!]).toEqual([1, 1, 1, 1, 1]);
    await change(two, object, [], [2]);
    expect(union(object)).toEqual([0, 1, 3, 4]);
    expect(catalog.get(object.infoHash)?.complete).toBe(false);
    expect(events).toEqual([
      ['pieces-added', object.infoHash, [4]],
      ['pieces-removed', object.infoHash, [2], 'policy'],
    ]);
    expect(catalog.heldBy(one)).toEqual({ objects: 1, pieces: 2 });
    expect(catalog.heldBy(two)).toEqual({ objects: 1, pieces: 2 });
  });

  it('counts an edge’s holdings from its first heartbeat on', async () => {
    adopt(object);
    const id = edgeId(1);
    await enrol(id);
    await holds(id, [[object, [0, 4]]]);
    expect(catalog.get(object.infoHash)).toBeUndefined();
    expect(catalog.serving(catalog.edge(id)!)).toBe(false);
    expect(catalog.holdersEverywhere(object.infoHash)).toEqual([]);
    await heartbeat(id);
    expect(catalog.serving(catalog.edge(id)!)).toBe(true);
    expect(union(object)).toEqual([0, 4]);
    expect(events).toEqual([
      ['object-added', object.infoHash],
      ['pieces-added', object.infoHash, [0, 4]],
    ]);
    // More heartbeats change nothing.
    await heartbeat(id);
    expect(events).toHaveLength(2);
  });

  it('drops a down edge’s pieces from the union and counts them again when it is back', async () => {
    adopt(object);
    const [one, two] = [await upEdge(1), await upEdge(2)];
    await holds(one, [[object, [0, 1]]]);
    await holds(two, [[object, [1, 2]]]);
    events.length = 0;

    await fleet.markDown(one);
    expect(catalog.edge(one)?.liveness).toBeUndefined();
    expect(union(object)).toEqual([1, 2]);
    expect(spanHolders(object, 1, 1)).toEqual([two]);
    expect(catalog.heldBy(one)).toEqual({ objects: 0, pieces: 0 });
    expect(events).toEqual([['pieces-removed', object.infoHash, [0], 'policy']]);

    // Back: a heartbeat, then its whole state again.
    await heartbeat(one);
    await holds(one, [[object, [0, 1]]]);
    expect(union(object)).toEqual([0, 1, 2]);
    expect(spanHolders(object, 1, 1)).toEqual([one, two]);

    // Both down: the object leaves the catalog, and comes back with the first holder.
    events.length = 0;
    await fleet.markDown(one);
    await fleet.markDown(two);
    expect(catalog.get(object.infoHash)).toBeUndefined();
    expect(catalog.list()).toEqual([]);
    expect(catalog.known(object.infoHash)).toBeDefined();
    expect(events).toEqual([
      ['pieces-removed', object.infoHash, [0], 'policy'],
      ['pieces-removed', object.infoHash, [1, 2], 'policy'],
      ['object-removed', object.infoHash, 'policy'],
    ]);
    events.length = 0;
    await heartbeat(two);
    await holds(two, [[object, [3]]]);
    expect(events).toEqual([
      ['object-added', object.infoHash],
      ['pieces-added', object.infoHash, [3]],
    ]);
  });

  it('takes a draining edge’s pieces out of the union and puts them back, changes meanwhile included', async () => {
    adopt(object);
    const [one, two] = [await upEdge(1), await upEdge(2)];
    await holds(one, [[object, [0, 1]]]);
    await holds(two, [[object, [1, 2]]]);
    events.length = 0;

    await fleet.setDraining(two, true);
    const drained = catalog.edge(two)!;
    expect(drained.record.draining).toBe(true);
    expect(catalog.serving(drained)).toBe(false);
    expect(union(object)).toEqual([0, 1]);
    expect(spanHolders(object, 1, 1)).toEqual([one]);
    // Up still, it holds what it holds (a purge reaches it).
    expect(
      catalog
        .holdersEverywhere(object.infoHash)
        .map((edge) => edge.record.id)
        .sort(),
    ).toEqual([one, two]);
    expect(events).toEqual([['pieces-removed', object.infoHash, [2], 'policy']]);

    events.length = 0;
    await change(two, object, [3]);
    expect(union(object)).toEqual([0, 1]);
    expect(events).toEqual([]);

    await fleet.setDraining(two, false);
    expect(union(object)).toEqual([0, 1, 2, 3]);
    expect(events).toEqual([['pieces-added', object.infoHash, [2, 3]]]);
  });

  it('forgets a removed edge and its pieces', async () => {
    adopt(object);
    const id = await upEdge(1);
    await holds(id, [[object, [0, 1, 2, 3, 4]]]);
    events.length = 0;
    await fleet.removeEdge(id);
    expect(catalog.edge(id)).toBeUndefined();
    expect(catalog.edges()).toEqual([]);
    expect(catalog.get(object.infoHash)).toBeUndefined();
    expect(events).toEqual([
      ['pieces-removed', object.infoHash, [0, 1, 2, 3, 4], 'policy'],
      ['object-removed', object.infoHash, 'policy'],
    ]);
  });

  it('finds the serving edges that hold every piece of a span', async () => {
    adopt(object);
    const [one, two, three] = [await upEdge(1), await upEdge(2), await upEdge(3)];
    await holds(one, [[object, [0, 1, 2, 3, 4]]]);
    await holds(two, [[object, [0, 1, 3]]]);
    await holds(three, [[object, [2, 3, 4]]]);
    expect(spanHolders(object, 0, 1)).toEqual([one, two]);
    expect(spanHolders(object, 1, 3)).toEqual([one]);
    expect(spanHolders(object, 3, 3)).toEqual([one, two, three]);
    expect(spanHolders(object, 2, 4)).toEqual([one, three]);
    expect(spanHolders(object, 0, 4)).toEqual([one]);
    await fleet.markDown(one);
    expect(spanHolders(object, 0, 4)).toEqual([]);
    expect(spanHolders(object, 1, 3)).toEqual([]);
    expect(spanHolders(object, 3, 4)).toEqual([three]);
    await fleet.setDraining(three, true);
    expect(spanHolders(object, 3, 4)).toEqual([]);
    expect(spanHolders(object, 3, 3)).toEqual([two]);
    expect(catalog.holdersOfSpan(other.infoHash, 0, 0)).toEqual([]);
  });

  it('refuses metainfo of another info hash and bytes that are not a torrent', async () => {
    const id = await upEdge(1);
    await holds(id, [[object, [0]]]);
    expect(catalog.adoptMetainfo(object.infoHash, encodeTorrent(other.metainfo))).toBe(false);
    expect(catalog.adoptMetainfo(object.infoHash, Buffer.from('not a torrent at all'))).toBe(false);
    expect(catalog.adoptMetainfo(object.infoHash, Buffer.alloc(0))).toBe(false);
    // a torrent cut short
    const torrent = encodeTorrent(object.metainfo);
    expect(catalog.adoptMetainfo(object.infoHash, torrent.subarray(0, torrent.length - 10))).toBe(false);
    expect(catalog.knowsMetainfo(object.infoHash)).toBe(false);
    expect(catalog.knowsMetainfo(other.infoHash)).toBe(false);
    expect(catalog.known(object.infoHash)).toBeUndefined();
    expect(events).toEqual([]);
    // The holdings are still waiting for the right one.
    expect(adopt(object)).toBe(true);
    expect(union(object)).toEqual([0]);
  });

  it('ignores a bitfield of the wrong size for a known object', async () => {
    adopt(object);
    const [one, two] = [await upEdge(1), await upEdge(2)];
    await holds(one, [[object, [0, 1]]]);
    events.length = 0;
    await holds(two, [[object, [0, 1, 2, 3, 4, 5, 6]]], 7);
    expect(union(object)).toEqual([0, 1]);
    expect([...catalog.copies(object.infoHash)!]).toEqual([1, 1, 0, 0, 0]);
    expect(spanHolders(object, 0, 0)).toEqual([one]);
    expect(events).toEqual([]);
  });

  it('ignores a bitfield of the wrong size that came before the metainfo', async () => {
    const [one, two] = [await upEdge(1), await upEdge(2)];
    await holds(one, [[object, [0, 1]]]);
    await holds(two, [[object, [0, 1, 2, 3, 4, 5, 6]]], 7);
    adopt(object);
    expect(union(object)).toEqual([0, 1]);
    expect(spanHolders(object, 0, 0)).toEqual([one]);
  });

  it('no longer counts a distrusted piece on that edge, until the edge says it holds it again', async () => {
    adopt(object);
    const [one, two] = [await upEdge(1), await upEdge(2)];
    await holds(one, [[object, [0, 1]]]);
    await holds(two, [[object, [1]]]);
    events.length = 0;
    catalog.distrust(one, object.infoHash, 1, 'corrupt');
    catalog.distrust(one, object.infoHash, 0, 'corrupt');
    expect(catalog.edge(one)?.corruptPieces).toBe(2);
    expect(union(object)).toEqual([1]);
    expect(spanHolders(object, 1, 1)).toEqual([two]);
    expect(events).toEqual([['pieces-removed', object.infoHash, [0], 'policy']]);
    // The edge still serves (only those pieces went).
    expect(catalog.serving(catalog.edge(one)!)).toBe(true);
    // It says it holds piece 0 (a delta carries its whole bitfield as the fleet state has it).
    await change(one, object, [4]);
    expect(spanHolders(object, 0, 0)).toEqual([one]);
    expect(spanHolders(object, 1, 1)).toEqual([one, two]);
  });

  it('sets an edge aside for a while: its pieces leave the union, then come back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    adopt(object);
    const [one, two] = [await upEdge(1), await upEdge(2)];
    await holds(one, [[object, [0, 1]]]);
    await holds(two, [[object, [1]]]);
    events.length = 0;
    catalog.setAside(one, 5000);
    const edge = catalog.edge(one)!;
    expect(edge.failures).toBe(1);
    expect(edge.setAsideUntil).toBe(clock + 5000);
    expect(catalog.serving(edge)).toBe(false);
    expect(union(object)).toEqual([1]);
    expect(events).toEqual([['pieces-removed', object.infoHash, [0], 'policy']]);
    clock += 5000;
    vi.advanceTimersByTime(5001);
    expect(catalog.serving(edge)).toBe(true);
    expect(union(object)).toEqual([0, 1]);
    expect(spanHolders(object, 1, 1)).toEqual([one, two]);
    expect(events.at(-1)).toEqual(['pieces-added', object.infoHash, [0]]);
  });

  // Two failures while set aside (two fetches in flight when the edge broke): the later end counts.
  it('counts an edge set aside twice back in once the later period ends', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    adopt(object);
    const id = await upEdge(1);
    await holds(id, [[object, [0, 1, 2, 3, 4]]]);
    catalog.setAside(id, 5000);
    clock += 10;
    catalog.setAside(id, 5000);
    expect(catalog.edge(id)?.failures).toBe(2);
    clock += 4995;
    vi.advanceTimersByTime(5001);
    expect(catalog.serving(catalog.edge(id)!)).toBe(false);
    clock += 1000;
    vi.advanceTimersByTime(1000);
    expect(catalog.serving(catalog.edge(id)!)).toBe(true);
    expect(spanHolders(object, 0, 4)).toEqual([id]);
    expect(catalog.get(object.infoHash)?.complete).toBe(true);
  });

  it('reads what a fleet state it starts over has: edges, those up, their holdings and metainfo', async () => {
    adopt(object);
    const id = await upEdge(7);
    await holds(id, [[object, [0, 1]]]);
    await fleet.putMetainfo(object.infoHash, encodeTorrent(object.metainfo));
    const later = new FleetCatalog(fleet, silent, () => clock);
    expect(later.edges()).toEqual([]);
    await later.load();
    expect(later.edges().map((edge) => edge.record.id)).toEqual([id]);
    expect(later.edge(id)?.liveness).toBeDefined();
    expect([0, 1, 2].map((piece) => later.get(object.infoHash)?.bitfield.get(piece))).toEqual([true, true, false]);
  });
});
