import { describe, expect, it } from 'vitest';
import { bestEdge, rankEdges } from '../../src/controller/choice.ts';
import type { FleetEdge } from '../../src/controller/index.ts';

function edge(id: string, connections = 0, shedding = false): FleetEdge {
  return { record: { id }, liveness: { connections, shedding } } as FleetEdge;
}

const KEYS = Array.from({ length: 200 }, (_, i) => `${'ab'.repeat(20)}:${i}`);

describe('edge choice', () => {
  it('spreads keys over the edges and gives the same key the same edge', () => {
    const edges = ['e1', 'e2', 'e3'].map((id) => edge(id));
    const firsts = KEYS.map((key) => rankEdges(edges, key)[0]?.record.id);
    for (const id of ['e1', 'e2', 'e3']) expect(firsts.filter((first) => first === id).length).toBeGreaterThan(30);
    expect(KEYS.map((key) => rankEdges(edges, key)[0]?.record.id)).toEqual(firsts);
  });

  it('puts an edge that sheds load after every other, and still lists it when it alone holds the bytes', () => {
    const edges = [edge('e1'), edge('e2', 0, true), edge('e3', 900)];
    for (const key of KEYS) {
      const ranked = rankEdges(edges, key).map((e) => e.record.id);
      expect(ranked.at(-1)).toBe('e2');
      expect(bestEdge(edges, key)?.record.id).not.toBe('e2');
    }
    expect(bestEdge([edge('e2', 0, true)], KEYS[0]!)?.record.id).toBe('e2');
  });

  it('chooses with bestEdge what rankEdges puts first, shedding and costs included', () => {
    const edges = [edge('e1', 10), edge('e2', 0, true), edge('e3', 300), edge('e4', 0, true), edge('e5')];
    const costs: Record<string, number> = { e1: 2, e2: 1, e3: 1, e4: 1, e5: 2 };
    const cost = (e: FleetEdge) => costs[e.record.id] ?? 9;
    for (const key of KEYS) {
      expect(bestEdge(edges, key, cost)).toBe(rankEdges(edges, key, cost)[0]);
      // e3 is the nearest edge that is not shedding.
      expect(bestEdge(edges, key, cost)?.record.id).toBe('e3');
    }
  });
});
