import { describe, expect, it } from 'vitest';
import { chooseEdge, LOAD_STEP_CONNECTIONS, type PlacementCandidate } from '../../src/controller/placement.ts';

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
