import { describe, expect, it } from 'vitest';
import {
  chooseEdge,
  LOAD_STEP_CONNECTIONS,
  mostUnservedPid,
  nearDemand,
  type PlacementCandidate,
  unservedDemand,
} from '../../src/controller/placement.ts';

const MiB = 1024 * 1024;
const request = { infoHash: 'a'.repeat(40), pieces: [4, 5], bytes: 2 * MiB };

function edge(edgeId: string, fields: Partial<PlacementCandidate> = {}): PlacementCandidate {
  return {
    edgeId,
    name: edgeId,
    freeBytes: 100 * MiB,
    connections: 0,
    uploadBytesPerSecond: 0,
    piecesHeld: 0,
    ...fields,
  };
}

describe('chooseEdge: where storage control places the pieces it ingests', () => {
  it('keeps an object together: an edge holding it already, the one holding most of it', () => {
    const chosen = chooseEdge(request, [
      edge('edge-a', { freeBytes: 900 * MiB }),
      edge('edge-b', { piecesHeld: 3 }),
      edge('edge-c', { piecesHeld: 1 }),
    ]);
    expect(chosen?.edgeId).toBe('edge-b');
  });

  it('among edges not holding it, takes the least loaded, then the roomiest', () => {
    const busy = edge('edge-a', { freeBytes: 900 * MiB, connections: 3 * LOAD_STEP_CONNECTIONS });
    const idleSmall = edge('edge-b', { freeBytes: 50 * MiB, connections: 2 });
    const idleLarge = edge('edge-c', { freeBytes: 80 * MiB, connections: 10 });
    expect(chooseEdge(request, [busy, idleSmall, idleLarge])?.edgeId).toBe('edge-c');
    // A few connections more do not count as load (same step): room decides.
    expect(chooseEdge(request, [busy, idleSmall])?.edgeId).toBe('edge-b');
  });

  it('passes over an edge without room for the pieces, even one holding the object', () => {
    const full = edge('edge-a', { piecesHeld: 10, freeBytes: 3 * MiB }); // under twice the 2 MiB asked
    const roomy = edge('edge-b', { freeBytes: 8 * MiB });
    expect(chooseEdge(request, [full, roomy])?.edgeId).toBe('edge-b');
  });

  it('answers null when no edge has room, or there is no edge', () => {
    expect(chooseEdge(request, [edge('edge-a', { freeBytes: MiB })])).toBeNull();
    expect(chooseEdge(request, [])).toBeNull();
  });

  it('is deterministic on ties (edge id)', () => {
    expect(chooseEdge(request, [edge('edge-b'), edge('edge-a')])?.edgeId).toBe('edge-a');
  });
});

describe('nearDemand: storage control places pieces where the demand is (ALTO, docs/topology.md)', () => {
  // a - b 5, b - c 5, a - c 10; 0 within a PID; an unmapped edge last.
  const COSTS: Record<string, Record<string, number>> = {
    a: { a: 0, b: 5, c: 10 },
    b: { a: 5, b: 0, c: 5 },
    c: { a: 10, b: 5, c: 0 },
    d: { a: 9, b: 9, c: 2 },
  };
  const cost = (from: string, to: string | null) => (to === null ? Number.MAX_SAFE_INTEGER : COSTS[from]![to]!);
  const choose = nearDemand(cost);
  const edges = [
    edge('edge-a', { pid: 'a', piecesHeld: 4, freeBytes: 900 * MiB }),
    edge('edge-b', { pid: 'b' }),
    edge('edge-c', { pid: 'c' }),
  ];

  it('takes the edge in the PID with the most leechers no local seed serves, over one holding the object', () => {
    const pids = { a: { seeds: 0, leechers: 2 }, b: { seeds: 0, leechers: 5 }, c: { seeds: 1, leechers: 1 } };
    expect(chooseEdge({ ...request, pids }, edges)?.edgeId).toBe('edge-a');
    expect(choose({ ...request, pids }, edges)?.edgeId).toBe('edge-b');
    // Seeds in b serve its leechers: a's are the unserved ones now.
    expect(choose({ ...request, pids: { ...pids, b: { seeds: 4, leechers: 5 } } }, edges)?.edgeId).toBe('edge-a');
  });

  it('takes the edge nearest by cost to a PID without an edge, and skips edges without room', () => {
    expect(choose({ ...request, pids: { d: { seeds: 0, leechers: 3 } } }, edges)?.edgeId).toBe('edge-c');
    const cFull = [...edges.slice(0, 2), edge('edge-c', { pid: 'c', freeBytes: MiB })];
    // c has no room: b (cost 9 from d, as a) is not nearer than a, and a holds the object.
    expect(choose({ ...request, pids: { d: { seeds: 0, leechers: 3 } } }, cFull)?.edgeId).toBe('edge-a');
    expect(choose({ ...request, pids: { c: { seeds: 0, leechers: 3 } } }, cFull)?.edgeId).toBe('edge-b');
  });

  it('puts unmapped edges last and decides by the given rule among edges at the same cost', () => {
    const twoInB = [edge('edge-x', { pid: null }), edge('edge-b2', { pid: 'b', connections: 500 }), edges[1]!];
    expect(choose({ ...request, pids: { b: { seeds: 0, leechers: 1 } } }, twoInB)?.edgeId).toBe('edge-b');
  });

  it('falls back to the rule without maps when no PID has unserved demand', () => {
    expect(choose(request, edges)?.edgeId).toBe('edge-a');
    expect(choose({ ...request, pids: {} }, edges)?.edgeId).toBe('edge-a');
    expect(choose({ ...request, pids: { b: { seeds: 3, leechers: 2 } } }, edges)?.edgeId).toBe('edge-a');
    expect(choose(request, [edge('edge-a', { freeBytes: MiB })])).toBeNull();
  });

  it('names the PID with the most unserved demand, ties by name', () => {
    expect(unservedDemand({ seeds: 2, leechers: 5 })).toBe(3);
    expect(unservedDemand({ seeds: 7, leechers: 5 })).toBe(0);
    expect(mostUnservedPid({ b: { seeds: 0, leechers: 2 }, a: { seeds: 0, leechers: 2 } })).toBe('a');
    expect(mostUnservedPid({ a: { seeds: 2, leechers: 2 } })).toBeNull();
    expect(mostUnservedPid(undefined)).toBeNull();
  });
});
