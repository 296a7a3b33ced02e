// The FleetState contract (src/controller/fleet-state.ts), for every implementation: enrolment tokens,
// edge records, liveness, holdings counted by whole states and numbered deltas, and metainfo, with the
// events the controllers' catalogs are fed by. Only the interface is used, so that a shared (Redis) fleet
// state runs it unchanged; test/controller/fleet-state.test.ts runs it against the in-memory one.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type {
  EdgeLiveness,
  EdgeRecord,
  EnrolmentToken,
  FleetEvents,
  FleetState,
} from '../../src/controller/fleet-state.ts';

type RecordedEvent = { [K in keyof FleetEvents]: [K, ...FleetEvents[K]] }[keyof FleetEvents];

/** Every event the fleet state emits, in order. */
function record(fleet: FleetState): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  fleet.on('edge-record', (...args) => events.push(['edge-record', ...args]));
  fleet.on('edge-removed', (...args) => events.push(['edge-removed', ...args]));
  fleet.on('edge-live', (...args) => events.push(['edge-live', ...args]));
  fleet.on('edge-down', (...args) => events.push(['edge-down', ...args]));
  fleet.on('holdings', (...args) => events.push(['holdings', ...args]));
  return events;
}

/** A wire-format bitfield (BEP 3: piece 0 is the high bit of the first byte) of `pieceCount` pieces. */
function bits(pieceCount: number, held: number[]): Buffer {
  const bytes = Buffer.alloc(Math.ceil(pieceCount / 8));
  for (const index of held) bytes[index >> 3]! |= 0x80 >> (index & 7);
  return bytes;
}

/** The pieces set in a wire-format bitfield. */
function setBits(bytes: Uint8Array): number[] {
  const held: number[] = [];
  for (let index = 0; index < bytes.length * 8; index += 1) {
    if ((bytes[index >> 3]! & (0x80 >> (index & 7))) !== 0) held.push(index);
  }
  return held;
}

/** The 'holdings' events recorded, as [edge, object, pieceCount, pieces set]. */
function holdingsEvents(events: RecordedEvent[]): Array<[string, string, number, number[]]> {
  return events.flatMap((event) =>
    event[0] === 'holdings'
      ? [[event[1], event[2], event[3], setBits(event[4])] as [string, string, number, number[]]]
      : [],
  );
}

/** The holders of an object, their bitfields as Buffers (an implementation may hand out any Uint8Array). */
async function holdersOf(fleet: FleetState, infoHash: string): Promise<Array<Record<string, unknown>>> {
  return (await fleet.holdersOf(infoHash)).map((holder) => ({ ...holder, bitfield: Buffer.from(holder.bitfield) }));
}

function infoHash(): string {
  return randomBytes(20).toString('hex');
}

function edgeRecord(overrides: Partial<EdgeRecord> = {}): EdgeRecord {
  return {
    id: `edge-${randomBytes(6).toString('hex')}`,
    name: 'edge.cdn.example',
    keyHash: randomBytes(32).toString('hex'),
    enrolledAt: Date.now(),
    draining: false,
    ...overrides,
  };
}

function liveness(overrides: Partial<EdgeLiveness> = {}): EdgeLiveness {
  return {
    address: { httpBaseUrl: 'http://edge.cdn.example:8080', peerPort: 6881 },
    capacityBytes: 1_000_000_000,
    freeBytes: 600_000_000,
    connections: 3,
    uploadBytesPerSecond: 12_345,
    lastSeen: Date.now(),
    ...overrides,
  };
}

/** A token made now (tokens long spent may be forgotten, so the contract's are recent), valid for a minute. */
function token(overrides: Partial<EnrolmentToken> = {}): EnrolmentToken {
  const createdAt = Date.now();
  return {
    hash: randomBytes(32).toString('hex'),
    createdAt,
    expiresAt: createdAt + 60_000,
    label: 'for edge1',
    usedBy: null,
    ...overrides,
  };
}

const SESSION = 'a1b2c3d4e5f60718';
const OTHER_SESSION = 'ffeeddccbbaa9988';

export function fleetStateContract(name: string, open: () => Promise<FleetState>): void {
  const test = it;

  async function withFleet(body: (fleet: FleetState) => Promise<void>): Promise<void> {
    const fleet = await open();
    try {
      await body(fleet);
    } finally {
      await fleet.close();
    }
  }

  /** A fleet with one enrolled edge, up, whose holdings are counted from seq 0 of SESSION. */
  async function withCountedEdge(
    body: (fleet: FleetState, edgeId: string, events: RecordedEvent[]) => Promise<void>,
  ): Promise<void> {
    await withFleet(async (fleet) => {
      const edge = edgeRecord();
      await fleet.addEdge(edge);
      await fleet.recordHeartbeat(edge.id, liveness());
      await fleet.replaceHoldings(edge.id, { session: SESSION, seq: 0 }, []);
      await body(fleet, edge.id, record(fleet));
    });
  }

  describe(`FleetState contract: ${name}`, () => {
    describe('enrolment tokens', () => {
      test('redeems a token once: ok, then used, and lists it as used by that edge', () =>
        withFleet(async (fleet) => {
          const added = token();
          await fleet.addToken(added);
          expect(await fleet.listTokens()).toEqual([added]);
          const now = Date.now();
          expect(await fleet.redeemToken(added.hash, 'edge-000000000001', now)).toEqual({ ok: true });
          expect(await fleet.redeemToken(added.hash, 'edge-000000000002', now)).toEqual({
            ok: false,
            reason: 'used',
          });
          expect(await fleet.listTokens()).toEqual([{ ...added, usedBy: 'edge-000000000001' }]);
        }));

      test('lets only one of two redemptions at once succeed', () =>
        withFleet(async (fleet) => {
          const added = token();
          await fleet.addToken(added);
          const now = Date.now();
          const outcomes = await Promise.all([
            fleet.redeemToken(added.hash, 'edge-000000000001', now),
            fleet.redeemToken(added.hash, 'edge-000000000002', now),
          ]);
          expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
          expect(outcomes).toContainEqual({ ok: false, reason: 'used' });
          const [listed] = await fleet.listTokens();
          expect(['edge-000000000001', 'edge-000000000002']).toContain(listed?.usedBy);
        }));

      test('refuses a token at and after its expiry, and leaves it unused', () =>
        withFleet(async (fleet) => {
          const added = token();
          await fleet.addToken(added);
          expect(await fleet.redeemToken(added.hash, 'edge-000000000001', added.expiresAt)).toEqual({
            ok: false,
            reason: 'expired',
          });
          expect(await fleet.redeemToken(added.hash, 'edge-000000000001', added.expiresAt + 1)).toEqual({
            ok: false,
            reason: 'expired',
          });
          expect((await fleet.listTokens())[0]?.usedBy).toBeNull();
          // a millisecond before, it is still good
          expect(await fleet.redeemToken(added.hash, 'edge-000000000001', added.expiresAt - 1)).toEqual({ ok: true });
        }));

      test('refuses an unknown token', () =>
        withFleet(async (fleet) => {
          await fleet.addToken(token());
          expect(await fleet.redeemToken('0'.repeat(64), 'edge-000000000001', Date.now())).toEqual({
            ok: false,
            reason: 'unknown',
          });
          expect((await fleet.listTokens())[0]?.usedBy).toBeNull();
        }));

      test('lists every token added, each with its own fields', () =>
        withFleet(async (fleet) => {
          const first = token({ label: 'first' });
          const second = token({ label: null, expiresAt: first.expiresAt + 1000 });
          await fleet.addToken(first);
          await fleet.addToken(second);
          const listed = await fleet.listTokens();
          expect(listed).toHaveLength(2);
          expect(listed).toEqual(expect.arrayContaining([first, second]));
        }));
    });

    describe('edges', () => {
      test('adds an edge, finds and lists it, and tells of its record', () =>
        withFleet(async (fleet) => {
          const events = record(fleet);
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          expect(await fleet.edge(edge.id)).toEqual(edge);
          expect(await fleet.listEdges()).toEqual([edge]);
          expect(await fleet.edge('edge-ffffffffffff')).toBeUndefined();
          expect(events).toEqual([['edge-record', edge]]);
          // What it hands out is a copy: changing it changes nothing kept.
          const found = (await fleet.edge(edge.id))!;
          found.draining = true;
          expect((await fleet.edge(edge.id))?.draining).toBe(false);
        }));

      test('sets an edge draining and back, telling of each change; an unknown edge gives undefined', () =>
        withFleet(async (fleet) => {
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          const events = record(fleet);
          expect(await fleet.setDraining(edge.id, true)).toEqual({ ...edge, draining: true });
          expect((await fleet.edge(edge.id))?.draining).toBe(true);
          expect(await fleet.setDraining(edge.id, false)).toEqual(edge);
          expect(events).toEqual([
            ['edge-record', { ...edge, draining: true }],
            ['edge-record', edge],
          ]);
          expect(await fleet.setDraining('edge-ffffffffffff', true)).toBeUndefined();
          expect(await fleet.listEdges()).toEqual([edge]);
        }));

      test('removes an edge: unknown afterwards, its liveness, cursor and holdings gone, and says so', () =>
        withFleet(async (fleet) => {
          const kept = edgeRecord();
          const removed = edgeRecord();
          await fleet.addEdge(kept);
          await fleet.addEdge(removed);
          const object = infoHash();
          for (const edge of [kept, removed]) {
            await fleet.recordHeartbeat(edge.id, liveness());
            await fleet.replaceHoldings(edge.id, { session: SESSION, seq: 0 }, [
              { infoHash: object, pieceCount: 10, bitfield: bits(10, [1, 2]) },
            ]);
          }
          const events = record(fleet);
          expect(await fleet.removeEdge(removed.id)).toBe(true);
          expect(await fleet.edge(removed.id)).toBeUndefined();
          expect(await fleet.listEdges()).toEqual([kept]);
          expect(await fleet.liveness(removed.id)).toBeUndefined();
          expect(await fleet.cursor(removed.id)).toBeUndefined();
          expect((await holdersOf(fleet, object)).map((holder) => holder.edgeId)).toEqual([kept.id]);
          // Its holdings go (each object with an empty bitfield), then the edge itself.
          expect(holdingsEvents(events)).toEqual([[removed.id, object, 10, []]]);
          expect(events.at(-1)).toEqual(['edge-removed', removed.id]);
          expect(await fleet.removeEdge(removed.id)).toBe(false);
          expect(await fleet.removeEdge('edge-ffffffffffff')).toBe(false);
        }));

      test('records nothing of an edge that is not enrolled (or was removed)', () =>
        withFleet(async (fleet) => {
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          await fleet.removeEdge(edge.id);
          const events = record(fleet);
          const object = infoHash();
          await fleet.recordHeartbeat(edge.id, liveness());
          await fleet.replaceHoldings(edge.id, { session: SESSION, seq: 0 }, [
            { infoHash: object, pieceCount: 4, bitfield: bits(4, [0]) },
          ]);
          expect(await fleet.liveness(edge.id)).toBeUndefined();
          expect(await holdersOf(fleet, object)).toEqual([]);
          expect(await fleet.applyChanges(edge.id, { session: SESSION, seq: 1 }, [])).toBe('gap');
          expect(events).toEqual([]);
        }));
    });

    describe('liveness', () => {
      test('keeps the last heartbeat of an edge and tells of each', () =>
        withFleet(async (fleet) => {
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          expect(await fleet.liveness(edge.id)).toBeUndefined();
          const events = record(fleet);
          const first = liveness({ connections: 1 });
          const second = liveness({ connections: 2, freeBytes: 5, lastSeen: first.lastSeen + 100 });
          await fleet.recordHeartbeat(edge.id, first);
          expect(await fleet.liveness(edge.id)).toEqual(first);
          await fleet.recordHeartbeat(edge.id, second);
          expect(await fleet.liveness(edge.id)).toEqual(second);
          expect(events).toEqual([
            ['edge-live', edge.id, first],
            ['edge-live', edge.id, second],
          ]);
        }));

      test('marks an edge down: liveness, cursor and holdings dropped, down told once, after its holdings', () =>
        withFleet(async (fleet) => {
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          await fleet.recordHeartbeat(edge.id, liveness());
          const [a, b] = [infoHash(), infoHash()];
          await fleet.replaceHoldings(edge.id, { session: SESSION, seq: 0 }, [
            { infoHash: a, pieceCount: 3, bitfield: bits(3, [0, 1, 2]) },
            { infoHash: b, pieceCount: 20, bitfield: bits(20, [19]) },
          ]);
          const events = record(fleet);
          await fleet.markDown(edge.id);
          expect(await fleet.liveness(edge.id)).toBeUndefined();
          expect(await fleet.cursor(edge.id)).toBeUndefined();
          expect(await holdersOf(fleet, a)).toEqual([]);
          expect(await holdersOf(fleet, b)).toEqual([]);
          expect(events.at(-1)).toEqual(['edge-down', edge.id]);
          expect(holdingsEvents(events)).toHaveLength(2);
          expect(holdingsEvents(events)).toEqual(
            expect.arrayContaining([
              [edge.id, a, 3, []],
              [edge.id, b, 20, []],
            ]),
          );
          // Down already: nothing more to tell.
          await fleet.markDown(edge.id);
          expect(events.filter((event) => event[0] === 'edge-down')).toHaveLength(1);
          // The record stays: the edge is enrolled, only down; a heartbeat brings it back.
          expect(await fleet.edge(edge.id)).toEqual(edge);
          await fleet.recordHeartbeat(edge.id, liveness());
          expect(await fleet.liveness(edge.id)).toBeDefined();
          // and it must send its whole state again
          expect(await fleet.cursor(edge.id)).toBeUndefined();
          expect(await fleet.applyChanges(edge.id, { session: SESSION, seq: 1 }, [])).toBe('gap');
        }));

      test('tells nothing when an edge that was never up is marked down', () =>
        withFleet(async (fleet) => {
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          const events = record(fleet);
          await fleet.markDown(edge.id);
          expect(events).toEqual([]);
        }));
    });

    describe('holdings', () => {
      test('a whole state replaces what the edge held and starts counting at its cursor', () =>
        withFleet(async (fleet) => {
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          await fleet.recordHeartbeat(edge.id, liveness());
          expect(await fleet.cursor(edge.id)).toBeUndefined();
          const [kept, changed, dropped, added] = [infoHash(), infoHash(), infoHash(), infoHash()];
          await fleet.replaceHoldings(edge.id, { session: SESSION, seq: 0 }, [
            { infoHash: kept, pieceCount: 9, bitfield: bits(9, [0, 8]) },
            { infoHash: changed, pieceCount: 4, bitfield: bits(4, [0]) },
            { infoHash: dropped, pieceCount: 2, bitfield: bits(2, [1]) },
          ]);
          expect(await fleet.cursor(edge.id)).toEqual({ session: SESSION, seq: 0 });
          const events = record(fleet);
          await fleet.replaceHoldings(edge.id, { session: OTHER_SESSION, seq: 7 }, [
            { infoHash: kept, pieceCount: 9, bitfield: bits(9, [0, 8]) },
            { infoHash: changed, pieceCount: 4, bitfield: bits(4, [1, 3]) },
            { infoHash: added, pieceCount: 16, bitfield: bits(16, [15]) },
          ]);
          expect(await fleet.cursor(edge.id)).toEqual({ session: OTHER_SESSION, seq: 7 });
          // Unchanged objects are not told of; one no longer listed is, with an empty bitfield.
          const told = holdingsEvents(events);
          expect(told).toHaveLength(3);
          expect(told).toEqual(
            expect.arrayContaining([
              [edge.id, dropped, 2, []],
              [edge.id, changed, 4, [1, 3]],
              [edge.id, added, 16, [15]],
            ]),
          );
          expect(await holdersOf(fleet, dropped)).toEqual([]);
          expect(await holdersOf(fleet, kept)).toEqual([
            { edgeId: edge.id, infoHash: kept, pieceCount: 9, bitfield: bits(9, [0, 8]) },
          ]);
          expect(await holdersOf(fleet, changed)).toEqual([
            { edgeId: edge.id, infoHash: changed, pieceCount: 4, bitfield: bits(4, [1, 3]) },
          ]);
        }));

      test('an object listed with no piece set is not held', () =>
        withFleet(async (fleet) => {
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          await fleet.recordHeartbeat(edge.id, liveness());
          const object = infoHash();
          await fleet.replaceHoldings(edge.id, { session: SESSION, seq: 0 }, [
            { infoHash: object, pieceCount: 12, bitfield: bits(12, []) },
          ]);
          expect(await holdersOf(fleet, object)).toEqual([]);
        }));

      test('holdersOf gives each holding edge its own bitfield', () =>
        withFleet(async (fleet) => {
          const [one, two, none] = [edgeRecord(), edgeRecord(), edgeRecord()];
          const object = infoHash();
          const other = infoHash();
          for (const [edge, held] of [
            [one, [0, 1]],
            [two, [1, 5]],
          ] as const) {
            await fleet.addEdge(edge);
            await fleet.recordHeartbeat(edge.id, liveness());
            await fleet.replaceHoldings(edge.id, { session: SESSION, seq: 0 }, [
              { infoHash: object, pieceCount: 6, bitfield: bits(6, [...held]) },
            ]);
          }
          await fleet.addEdge(none);
          await fleet.recordHeartbeat(none.id, liveness());
          await fleet.replaceHoldings(none.id, { session: SESSION, seq: 0 }, [
            { infoHash: other, pieceCount: 6, bitfield: bits(6, [0]) },
          ]);
          const holders = await holdersOf(fleet, object);
          expect(holders).toHaveLength(2);
          expect(holders).toEqual(
            expect.arrayContaining([
              { edgeId: one.id, infoHash: object, pieceCount: 6, bitfield: bits(6, [0, 1]) },
              { edgeId: two.id, infoHash: object, pieceCount: 6, bitfield: bits(6, [1, 5]) },
            ]),
          );
          expect(await holdersOf(fleet, infoHash())).toEqual([]);
        }));

      test('applies a delta that follows the last one of the session, telling each whole bitfield after it', () =>
        withCountedEdge(async (fleet, edgeId, events) => {
          const object = infoHash();
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
              { infoHash: object, pieceCount: 10, added: [0, 9] },
            ]),
          ).toBe('applied');
          expect(await fleet.cursor(edgeId)).toEqual({ session: SESSION, seq: 1 });
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 2 }, [
              { infoHash: object, pieceCount: 10, added: [4], removed: [0] },
            ]),
          ).toBe('applied');
          expect(await fleet.cursor(edgeId)).toEqual({ session: SESSION, seq: 2 });
          expect(holdingsEvents(events)).toEqual([
            [edgeId, object, 10, [0, 9]],
            [edgeId, object, 10, [4, 9]],
          ]);
          expect(await holdersOf(fleet, object)).toEqual([
            { edgeId, infoHash: object, pieceCount: 10, bitfield: bits(10, [4, 9]) },
          ]);
        }));

      test('applies several changes of one delta, to several objects', () =>
        withCountedEdge(async (fleet, edgeId, events) => {
          const [a, b] = [infoHash(), infoHash()];
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
              { infoHash: a, pieceCount: 3, added: [0, 1, 2] },
              { infoHash: b, pieceCount: 40, added: [33] },
            ]),
          ).toBe('applied');
          expect(holdingsEvents(events)).toEqual([
            [edgeId, a, 3, [0, 1, 2]],
            [edgeId, b, 40, [33]],
          ]);
          expect((await holdersOf(fleet, b))[0]?.bitfield).toEqual(bits(40, [33]));
        }));

      test('a gone object is no longer held and is told of with an empty bitfield', () =>
        withCountedEdge(async (fleet, edgeId, events) => {
          const [gone, kept] = [infoHash(), infoHash()];
          await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
            { infoHash: gone, pieceCount: 5, added: [0, 1] },
            { infoHash: kept, pieceCount: 5, added: [2] },
          ]);
          events.length = 0;
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 2 }, [
              { infoHash: gone, pieceCount: 5, gone: true },
            ]),
          ).toBe('applied');
          expect(await holdersOf(fleet, gone)).toEqual([]);
          expect((await holdersOf(fleet, kept)).map((holder) => holder.edgeId)).toEqual([edgeId]);
          expect(holdingsEvents(events)).toEqual([[edgeId, gone, 5, []]]);
          const event = events[0];
          expect(event?.[0] === 'holdings' && event[4].byteLength).toBe(0);
        }));

      test('an object whose every piece was removed is no longer held', () =>
        withCountedEdge(async (fleet, edgeId, events) => {
          const object = infoHash();
          await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
            { infoHash: object, pieceCount: 5, added: [3] },
          ]);
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 2 }, [
              { infoHash: object, pieceCount: 5, removed: [3] },
            ]),
          ).toBe('applied');
          expect(await holdersOf(fleet, object)).toEqual([]);
          // told with no piece set (an empty or an all-clear bitfield)
          expect(holdingsEvents(events).at(-1)).toEqual([edgeId, object, 5, []]);
        }));

      test('a delta from another session is a gap and changes nothing', () =>
        withCountedEdge(async (fleet, edgeId, events) => {
          const object = infoHash();
          expect(
            await fleet.applyChanges(edgeId, { session: OTHER_SESSION, seq: 1 }, [
              { infoHash: object, pieceCount: 5, added: [3] },
            ]),
          ).toBe('gap');
          expect(await holdersOf(fleet, object)).toEqual([]);
          expect(await fleet.cursor(edgeId)).toEqual({ session: SESSION, seq: 0 });
          expect(events).toEqual([]);
        }));

      test('a skipped or replayed delta is a gap and changes nothing; the next one in order still applies', () =>
        withCountedEdge(async (fleet, edgeId, events) => {
          const object = infoHash();
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
              { infoHash: object, pieceCount: 8, added: [1] },
            ]),
          ).toBe('applied');
          events.length = 0;
          // skipped: 3 after 1
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 3 }, [
              { infoHash: object, pieceCount: 8, added: [2] },
            ]),
          ).toBe('gap');
          // replayed: 1 again
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
              { infoHash: object, pieceCount: 8, removed: [1] },
            ]),
          ).toBe('gap');
          // older still
          expect(await fleet.applyChanges(edgeId, { session: SESSION, seq: 0 }, [])).toBe('gap');
          expect(events).toEqual([]);
          expect(await fleet.cursor(edgeId)).toEqual({ session: SESSION, seq: 1 });
          expect((await holdersOf(fleet, object))[0]?.bitfield).toEqual(bits(8, [1]));
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 2 }, [
              { infoHash: object, pieceCount: 8, added: [7] },
            ]),
          ).toBe('applied');
          expect((await holdersOf(fleet, object))[0]?.bitfield).toEqual(bits(8, [1, 7]));
        }));

      test('a delta before any whole state is a gap', () =>
        withFleet(async (fleet) => {
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          await fleet.recordHeartbeat(edge.id, liveness());
          const events = record(fleet);
          const object = infoHash();
          for (const seq of [0, 1]) {
            expect(
              await fleet.applyChanges(edge.id, { session: SESSION, seq }, [
                { infoHash: object, pieceCount: 5, added: [0] },
              ]),
            ).toBe('gap');
          }
          expect(await holdersOf(fleet, object)).toEqual([]);
          expect(await fleet.cursor(edge.id)).toBeUndefined();
          expect(events).toEqual([]);
        }));

      test('a delta with a piece index out of range is a gap and changes nothing, not even its other changes', () =>
        withCountedEdge(async (fleet, edgeId, events) => {
          const [good, bad] = [infoHash(), infoHash()];
          for (const index of [5, 6]) {
            expect(
              await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
                { infoHash: good, pieceCount: 5, added: [0] },
                { infoHash: bad, pieceCount: 5, added: [1, index] },
              ]),
            ).toBe('gap');
          }
          expect(
            await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
              { infoHash: good, pieceCount: 5, removed: [5] },
            ]),
          ).toBe('gap');
          expect(await holdersOf(fleet, good)).toEqual([]);
          expect(await holdersOf(fleet, bad)).toEqual([]);
          expect(await fleet.cursor(edgeId)).toEqual({ session: SESSION, seq: 0 });
          expect(events).toEqual([]);
        }));

      test('a delta naming a held object with another piece count is a gap and changes nothing', () =>
        withCountedEdge(async (fleet, edgeId, events) => {
          const [object, other] = [infoHash(), infoHash()];
          await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
            { infoHash: object, pieceCount: 10, added: [2] },
          ]);
          events.length = 0;
          for (const change of [
            { infoHash: object, pieceCount: 12, added: [3] },
            { infoHash: object, pieceCount: 9, removed: [2] },
            { infoHash: object, pieceCount: 11, gone: true },
          ]) {
            expect(
              await fleet.applyChanges(edgeId, { session: SESSION, seq: 2 }, [
                { infoHash: other, pieceCount: 4, added: [0] },
                change,
              ]),
            ).toBe('gap');
          }
          expect(await holdersOf(fleet, object)).toEqual([
            { edgeId, infoHash: object, pieceCount: 10, bitfield: bits(10, [2]) },
          ]);
          expect(await holdersOf(fleet, other)).toEqual([]);
          expect(await fleet.cursor(edgeId)).toEqual({ session: SESSION, seq: 1 });
          expect(events).toEqual([]);
        }));

      test('a delta naming one new object with two piece counts is a gap and changes nothing', () =>
        withCountedEdge(async (fleet, edgeId, events) => {
          const object = infoHash();
          let outcome: 'applied' | 'gap' | Error;
          try {
            outcome = await fleet.applyChanges(edgeId, { session: SESSION, seq: 1 }, [
              { infoHash: object, pieceCount: 4, added: [0] },
              { infoHash: object, pieceCount: 8, added: [6] },
            ]);
          } catch (err) {
            outcome = err as Error;
          }
          expect(outcome).toBe('gap');
          expect(await holdersOf(fleet, object)).toEqual([]);
          expect(await fleet.cursor(edgeId)).toEqual({ session: SESSION, seq: 0 });
          expect(events).toEqual([]);
        }));

      test('holdings of different edges are counted apart', () =>
        withFleet(async (fleet) => {
          const [one, two] = [edgeRecord(), edgeRecord()];
          const object = infoHash();
          for (const edge of [one, two]) {
            await fleet.addEdge(edge);
            await fleet.recordHeartbeat(edge.id, liveness());
            await fleet.replaceHoldings(edge.id, { session: SESSION, seq: 0 }, []);
          }
          expect(
            await fleet.applyChanges(one.id, { session: SESSION, seq: 1 }, [
              { infoHash: object, pieceCount: 3, added: [0] },
            ]),
          ).toBe('applied');
          // The other edge's cursor did not move.
          expect(await fleet.applyChanges(two.id, { session: SESSION, seq: 2 }, [])).toBe('gap');
          expect(
            await fleet.applyChanges(two.id, { session: SESSION, seq: 1 }, [
              { infoHash: object, pieceCount: 3, added: [2] },
            ]),
          ).toBe('applied');
          await fleet.markDown(one.id);
          expect(await holdersOf(fleet, object)).toEqual([
            { edgeId: two.id, infoHash: object, pieceCount: 3, bitfield: bits(3, [2]) },
          ]);
          expect(await fleet.cursor(two.id)).toEqual({ session: SESSION, seq: 1 });
        }));
    });

    describe('queued purges', () => {
      test('keeps purges per edge, oldest first, one per object (a later one replaces it)', () =>
        withFleet(async (fleet) => {
          const [one, two] = [edgeRecord(), edgeRecord()];
          await fleet.addEdge(one);
          await fleet.addEdge(two);
          const [first, second] = [infoHash(), infoHash()];
          await fleet.queuePurge(one.id, { infoHash: first, pieces: '0-3', queuedAt: 1000 });
          await fleet.queuePurge(one.id, { infoHash: second, pieces: null, queuedAt: 2000 });
          await fleet.queuePurge(two.id, { infoHash: first, pieces: null, queuedAt: 1500 });
          await fleet.queuePurge(one.id, { infoHash: first, pieces: '0-5', queuedAt: 3000 });
          expect(await fleet.queuedPurges(one.id)).toEqual([
            { infoHash: second, pieces: null, queuedAt: 2000 },
            { infoHash: first, pieces: '0-5', queuedAt: 3000 },
          ]);
          expect(await fleet.queuedPurges(two.id)).toEqual([{ infoHash: first, pieces: null, queuedAt: 1500 }]);
          expect(await fleet.queuedPurge(one.id, first)).toEqual({ infoHash: first, pieces: '0-5', queuedAt: 3000 });
          expect(await fleet.queuedPurge(two.id, second)).toBeUndefined();
          await fleet.dropQueuedPurge(one.id, second);
          expect(await fleet.queuedPurges(one.id)).toEqual([{ infoHash: first, pieces: '0-5', queuedAt: 3000 }]);
          // an ingest of the object again: no edge is to purge it any more
          await fleet.dropQueuedPurgesOf(first);
          expect(await fleet.queuedPurges(one.id)).toEqual([]);
          expect(await fleet.queuedPurges(two.id)).toEqual([]);
          // dropping what is not there is no error
          await fleet.dropQueuedPurge(one.id, first);
          await fleet.dropQueuedPurgesOf(second);
        }));

      test('tells each purge queued and each one dropped, and nothing for what was not there', () =>
        withFleet(async (fleet) => {
          const [one, two] = [edgeRecord(), edgeRecord()];
          await fleet.addEdge(one);
          await fleet.addEdge(two);
          const [first, second] = [infoHash(), infoHash()];
          const told: unknown[][] = [];
          fleet.on('queued-purge', (edgeId, object, purge) => told.push([edgeId, object, purge]));
          await fleet.queuePurge(one.id, { infoHash: first, pieces: '0-3', queuedAt: 1000 });
          await fleet.queuePurge(two.id, { infoHash: first, pieces: null, queuedAt: 1500 });
          await fleet.queuePurge(one.id, { infoHash: second, pieces: null, queuedAt: 2000 });
          await fleet.dropQueuedPurge(one.id, second);
          await fleet.dropQueuedPurge(one.id, second);
          await fleet.dropQueuedPurgesOf(first);
          await fleet.dropQueuedPurgesOf(second);
          expect(told.slice(0, 4)).toEqual([
            [one.id, first, { infoHash: first, pieces: '0-3', queuedAt: 1000 }],
            [two.id, first, { infoHash: first, pieces: null, queuedAt: 1500 }],
            [one.id, second, { infoHash: second, pieces: null, queuedAt: 2000 }],
            [one.id, second, null],
          ]);
          // dropQueuedPurgesOf: one per edge that had it, in no set order.
          expect(told.slice(4)).toHaveLength(2);
          expect(told.slice(4)).toEqual(
            expect.arrayContaining([
              [one.id, first, null],
              [two.id, first, null],
            ]),
          );
        }));

      test('keeps none for an unknown edge, and drops an edge’s purges with the edge', () =>
        withFleet(async (fleet) => {
          const edge = edgeRecord();
          await fleet.addEdge(edge);
          const object = infoHash();
          await fleet.queuePurge('edge-ffffffffffff', { infoHash: object, pieces: null, queuedAt: 1 });
          expect(await fleet.queuedPurges('edge-ffffffffffff')).toEqual([]);
          await fleet.queuePurge(edge.id, { infoHash: object, pieces: null, queuedAt: 1 });
          await fleet.removeEdge(edge.id);
          expect(await fleet.queuedPurges(edge.id)).toEqual([]);
        }));

      test('keeps them while the edge is down', () =>
        withCountedEdge(async (fleet, edgeId) => {
          const object = infoHash();
          await fleet.queuePurge(edgeId, { infoHash: object, pieces: null, queuedAt: 5 });
          await fleet.markDown(edgeId);
          expect(await fleet.queuedPurges(edgeId)).toEqual([{ infoHash: object, pieces: null, queuedAt: 5 }]);
        }));
    });

    describe('metainfo', () => {
      test('keeps an object’s .torrent bytes until deleted', () =>
        withFleet(async (fleet) => {
          const [object, other] = [infoHash(), infoHash()];
          const torrent = randomBytes(300);
          expect(await fleet.metainfo(object)).toBeUndefined();
          await fleet.putMetainfo(object, torrent);
          expect(Buffer.from((await fleet.metainfo(object))!)).toEqual(torrent);
          expect(await fleet.metainfo(other)).toBeUndefined();
          await fleet.deleteMetainfo(object);
          expect(await fleet.metainfo(object)).toBeUndefined();
          // deleting what is not there is no error
          await fleet.deleteMetainfo(other);
        }));
    });

    describe('storage control record', () => {
      test('keeps the last record written, whole', () =>
        withFleet(async (fleet) => {
          expect(await fleet.storageControlRecord()).toBeUndefined();
          const record = JSON.stringify({
            version: 1,
            swarms: { [infoHash()]: { pieceCount: 3, ingestedAt: { 2: 7 } } },
          });
          await fleet.putStorageControlRecord(record);
          await fleet.putStorageControlRecord(`${record}\n`);
          expect(await fleet.storageControlRecord()).toBe(`${record}\n`);
        }));
    });
  });
}
