// Prometheus metrics of a running controller (admin API /metrics), read from its status at scrape time:
// edges by health, what the edges sent (enrolments, refusals, bad messages, resyncs, downs), pieces
// fetched from edges and the faults met doing it, and what the controller served.
import type { Registry } from 'prom-client';
import { signallingMetrics, statusMetrics } from '../admin/index.ts';
import type { ControllerStatus, EdgeSummary } from './status.ts';

export function createControllerMetrics(status: () => ControllerStatus, edges: () => EdgeSummary[]): Registry {
  const { registry, now, counter, gauge } = statusMetrics(status);

  gauge('edgepeer_controller_edges', 'Enrolled edges, by health.', ['health'], (set) => {
    const counts: Record<string, number> = { up: 0, draining: 0, 'set-aside': 0, down: 0 };
    for (const edge of edges()) counts[edge.health] = (counts[edge.health] ?? 0) + 1;
    for (const [health, count] of Object.entries(counts)) set({ health }, count);
  });
  counter(
    'edgepeer_controller_enrolments_total',
    'Edges enrolled, and enrolments refused by reason.',
    ['outcome'],
    (set) => {
      const { registry: r } = now();
      set({ outcome: 'enrolled' }, r.enrolments);
      for (const [reason, count] of Object.entries(r.refusedEnrolments)) set({ outcome: `refused-${reason}` }, count);
    },
  );
  counter(
    'edgepeer_controller_unauthorized_total',
    'Edge calls with a missing, unknown or revoked credential.',
    [],
    (set) => set({}, now().registry.unauthorized),
  );
  counter('edgepeer_controller_bad_messages_total', 'Messages from edges refused as malformed or wrong.', [], (set) =>
    set({}, now().registry.badMessages),
  );
  counter('edgepeer_controller_edge_messages_total', 'Messages from edges, by kind.', ['kind'], (set) => {
    const r = now().registry;
    set({ kind: 'heartbeat' }, r.heartbeats);
    set({ kind: 'state' }, r.states);
    set({ kind: 'deltas' }, r.deltas);
  });
  counter(
    'edgepeer_controller_resyncs_total',
    'Whole states asked of edges (restart, gap, unknown session).',
    [],
    (set) => set({}, now().registry.resyncsAsked),
  );
  counter(
    'edgepeer_controller_edges_down_total',
    'Edges found down (missed heartbeats) or that left.',
    ['why'],
    (set) => {
      const r = now().registry;
      set({ why: 'missed-heartbeats' }, r.edgesDown);
      set({ why: 'left' }, r.edgesLeft);
    },
  );
  counter(
    'edgepeer_controller_queued_purges_total',
    'Purges queued for edges that were down, sent when they were back, by outcome (failed ones stay queued).',
    ['outcome'],
    (set) => {
      const r = now().registry;
      set({ outcome: 'done' }, r.queuedPurgesSent);
      set({ outcome: 'failed' }, r.queuedPurgesFailed);
    },
  );
  counter('edgepeer_controller_piece_fetches_total', 'Pieces fetched from edges, by outcome.', ['outcome'], (set) => {
    const f = now().fetches;
    set({ outcome: 'verified' }, f.fetched);
    set({ outcome: 'failed' }, f.fetchFailures);
    set({ outcome: 'corrupt' }, f.corruptPieces);
  });
  counter('edgepeer_controller_fetched_bytes_total', 'Verified piece bytes fetched from edges.', [], (set) =>
    set({}, now().fetches.bytesFetched),
  );
  counter('edgepeer_bytes_served_total', 'Payload bytes served, by protocol.', ['protocol'], (set) => {
    const s = now();
    set({ protocol: 'bittorrent' }, s.wire?.uploadedBytes ?? 0);
    set({ protocol: 'http' }, s.http?.bytesSent ?? 0);
  });
  counter('edgepeer_http_redirects_total', 'HTTP requests redirected to an edge.', [], (set) =>
    set({}, now().http?.redirected ?? 0),
  );
  gauge('edgepeer_peers', 'Open peer wire connections.', [], (set) => set({}, now().wire?.connections ?? 0));
  gauge('edgepeer_objects', 'Objects some serving edge holds, by completeness of the union.', ['state'], (set) => {
    const s = now();
    set({ state: 'complete' }, s.objectsComplete);
    set({ state: 'partial' }, s.objects - s.objectsComplete);
  });
  counter(
    'edgepeer_controller_pid_bytes_total',
    "Bytes redirected to edges (HTTP) and fetched from them (peer wire), within the client's (the controller's) PID, across PIDs, or unmapped; with ALTO maps only.",
    ['kind', 'scope'],
    (set) => {
      const topology = now().topology;
      if (topology === null) return;
      for (const [kind, counts] of [
        ['redirected', topology.redirectedBytes],
        ['fetched', topology.fetchedBytes],
      ] as const) {
        for (const [scope, value] of Object.entries(counts)) set({ kind, scope }, value);
      }
    },
  );
  gauge('edgepeer_cache_bytes', "Bytes in the controller's piece cache.", [], (set) => set({}, now().cache.bytes));
  signallingMetrics({ counter, gauge }, now);
  return registry;
}
