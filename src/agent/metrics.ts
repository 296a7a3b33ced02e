import type { Registry } from 'prom-client';
import { signallingMetrics, statusMetrics } from '../admin/index.ts';
import type { HashCounters } from '../hashing/index.ts';
import type { AgentStatus } from './status.ts';

/**
 * Prometheus metrics of a running agent, read from its status at scrape time (nothing on the hot path).
 * Counters are totals since start; gauges are current values.
 */
export function createMetrics(status: () => AgentStatus, hashing: HashCounters): Registry {
  const { registry, now, counter, gauge } = statusMetrics(status);

  counter('edgepeer_bytes_served_total', 'Payload bytes served, by protocol.', ['protocol'], (set) => {
    const s = now();
    set({ protocol: 'bittorrent' }, s.wire.uploadedBytes);
    set({ protocol: 'http' }, s.http?.bytesSent ?? 0);
    set({ protocol: 'https' }, s.https?.bytesSent ?? 0);
  });
  counter(
    'edgepeer_top_up_pauses_total',
    'Times the peer wire paused sending to a leecher that gets its top-up rate from other peers (storageControl.topUpRate).',
    [],
    (set) => set({}, now().wire.topUpPauses),
  );
  counter(
    'edgepeer_http_top_up_pauses_total',
    'Times an HTTP(S) response paused because the client gets its top-up rate from other sources (storageControl.topUpRate).',
    [],
    (set) => {
      const s = now();
      set({}, (s.http?.topUpPauses ?? 0) + (s.https?.topUpPauses ?? 0));
    },
  );
  gauge('edgepeer_peers', 'Open peer wire connections, by state.', ['state'], (set) => {
    const s = now();
    set({ state: 'connected' }, s.wire.connections);
    set({ state: 'unchoked' }, s.wire.unchoked);
    set({ state: 'waiting' }, s.wire.waiting);
  });
  counter(
    'edgepeer_requests_rejected_total',
    'Requests refused, by protocol and reason.',
    ['protocol', 'reason'],
    (set) => {
      const s = now();
      set({ protocol: 'bittorrent', reason: 'rejected' }, s.wire.requestsRejected);
      set({ protocol: 'bittorrent', reason: 'dropped' }, s.wire.requestsDropped);
      set({ protocol: 'bittorrent', reason: 'connection_refused' }, s.wire.refused);
      set({ protocol: 'bittorrent', reason: 'protocol_error' }, s.wire.protocolErrors);
      set(
        { protocol: 'http', reason: 'connection_refused' },
        (s.http?.refusedConnections ?? 0) + (s.https?.refusedConnections ?? 0),
      );
      // Each refused request under one reason: a piece not held is answered 503, which is not counted again
      // as status_5xx (those are the other 5xx answers). Client errors are answered by the HTTP layer before
      // any status is counted.
      const refused = (s.http?.refused ?? 0) + (s.https?.refused ?? 0);
      set({ protocol: 'http', reason: 'pieces_not_held' }, refused);
      set({ protocol: 'http', reason: 'client_error' }, (s.http?.clientErrors ?? 0) + (s.https?.clientErrors ?? 0));
      set(
        { protocol: 'http', reason: 'status_4xx' },
        (s.http?.responses['4xx'] ?? 0) + (s.https?.responses['4xx'] ?? 0),
      );
      set(
        { protocol: 'http', reason: 'status_5xx' },
        Math.max(0, (s.http?.responses['5xx'] ?? 0) + (s.https?.responses['5xx'] ?? 0) - refused),
      );
    },
  );
  counter(
    'edgepeer_internal_errors_total',
    'Connections or requests whose handling failed unexpectedly (logged at error), by part.',
    ['part'],
    (set) => {
      const s = now();
      set({ part: 'peer_wire' }, s.wire.internalErrors);
      set({ part: 'http' }, (s.http?.internalErrors ?? 0) + (s.https?.internalErrors ?? 0));
    },
  );
  counter(
    'edgepeer_url_tokens_total',
    'Signed URL tokens checked, by result: accepted, or the reason of the refusal (absent when URLs need no token).',
    ['result'],
    (set) => {
      const tokens = now().urlTokens;
      if (tokens === null) return;
      set({ result: 'accepted' }, tokens.accepted);
      for (const [reason, count] of Object.entries(tokens.refused)) set({ result: reason }, count);
    },
  );
  counter(
    'edgepeer_accounting_records_total',
    'Accounting records, by result: written (durable), lost (a write failed; a gap in the sequence numbers). Absent when off.',
    ['result'],
    (set) => {
      const accounting = now().accounting;
      if (accounting === null) return;
      set({ result: 'written' }, accounting.written);
      set({ result: 'lost' }, accounting.lost);
    },
  );
  counter('edgepeer_http_requests_total', 'HTTP requests served.', [], (set) => {
    const s = now();
    set({}, (s.http?.requests ?? 0) + (s.https?.requests ?? 0));
  });
  counter('edgepeer_cache_lookups_total', 'Piece cache lookups, by result.', ['result'], (set) => {
    const { cache } = now();
    set({ result: 'hit' }, cache.hits);
    set({ result: 'miss' }, cache.misses);
    // a range of a verified piece read straight from disk (HTTP), not through the cache
    set({ result: 'direct' }, cache.directReads);
  });
  gauge('edgepeer_cache_hit_ratio', 'Piece cache hits over lookups since start.', [], (set) => {
    const { cache } = now();
    const lookups = cache.hits + cache.misses;
    set({}, lookups === 0 ? 0 : cache.hits / lookups);
  });
  gauge('edgepeer_cache_bytes', 'Bytes in the piece cache.', [], (set) => set({}, now().cache.bytes));
  counter('edgepeer_corrupt_pieces_total', 'Pieces that failed their hash on disk and were dropped.', [], (set) =>
    set({}, now().cache.corruptPieces),
  );
  counter('edgepeer_scrub_bytes_total', 'Bytes the background scrub read and checked against their SHA-1.', [], (set) =>
    set({}, now().scrub?.bytesChecked ?? 0),
  );
  counter(
    'edgepeer_scrub_pieces_total',
    'Pieces the background scrub checked, by result (corrupt: dropped from the store).',
    ['result'],
    (set) => {
      const scrub = now().scrub;
      set({ result: 'ok' }, (scrub?.piecesChecked ?? 0) - (scrub?.corruptPieces ?? 0));
      set({ result: 'corrupt' }, scrub?.corruptPieces ?? 0);
    },
  );
  counter('edgepeer_scrub_passes_total', 'Scrub passes over every held piece finished.', [], (set) =>
    set({}, now().scrub?.passes ?? 0),
  );
  gauge('edgepeer_scrub_pass_progress', 'Share of the bytes of the current scrub pass checked (0 to 1).', [], (set) => {
    const current = now().scrub?.current;
    set({}, current == null || current.bytesTotal === 0 ? 0 : current.bytesChecked / current.bytesTotal);
  });
  counter('edgepeer_hashed_bytes_total', 'Bytes SHA-1 hashed (ingest and verification).', [], (set) =>
    set({}, hashing.bytes),
  );
  counter('edgepeer_hashing_seconds_total', 'Time spent waiting on hashing.', [], (set) => set({}, hashing.seconds));
  gauge('edgepeer_objects', 'Objects in the store, by completeness.', ['state'], (set) => {
    const s = now();
    set({ state: 'complete' }, s.objectsComplete);
    set({ state: 'partial' }, s.objects - s.objectsComplete);
  });
  qosMetrics(counter, gauge, now);
  signallingMetrics({ counter, gauge }, now);
  return registry;
}

type Setter = (labels: Record<string, string>, value: number) => void;
type Define = (name: string, help: string, labels: string[], collect: (set: Setter) => void) => void;

/** Egress limits, current rates per class, what waited and what was shed (docs/qos.md). */
function qosMetrics(counter: Define, gauge: Define, now: () => AgentStatus): void {
  gauge(
    'edgepeer_qos_limit_bytes_per_second',
    'Egress limits in effect, by scope (global: the alt rate inside its window; object and client: each); 0: none.',
    ['scope'],
    (set) => {
      const q = now().qos;
      set({ scope: 'global' }, q.effectiveRate);
      set({ scope: 'wire' }, q.settings.wireRate);
      set({ scope: 'http' }, q.settings.httpRate);
      set({ scope: 'https' }, q.settings.httpsRate);
      set({ scope: 'object' }, q.settings.objectRate);
      set({ scope: 'client' }, q.settings.clientRate);
    },
  );
  counter(
    'edgepeer_qos_class_sent_bytes_total',
    'Bytes sent under the limits, by priority class.',
    ['class'],
    (set) => {
      for (const c of now().qos.classes) set({ class: c.name }, c.sentBytes);
    },
  );
  gauge(
    'edgepeer_qos_class_rate_bytes_per_second',
    'Bytes per second over the last second, by priority class.',
    ['class'],
    (set) => {
      for (const c of now().qos.classes) set({ class: c.name }, c.currentRate);
    },
  );
  gauge('edgepeer_qos_class_weight', 'Weight of each priority class.', ['class'], (set) => {
    for (const c of now().qos.classes) set({ class: c.name }, c.weight);
  });
  counter('edgepeer_qos_delayed_sends_total', 'Sends that waited for tokens.', [], (set) =>
    set({}, now().qos.delayedSends),
  );
  gauge('edgepeer_qos_waiting_bytes', 'Bytes waiting for tokens now.', [], (set) => set({}, now().qos.waitingBytes));
  counter(
    'edgepeer_qos_shed_total',
    'New requests refused by load shedding, by protocol (HTTP: 503 with Retry-After; bittorrent: BEP 6 reject).',
    ['protocol'],
    (set) => {
      const shed = now().qos.shedding.shed;
      set({ protocol: 'bittorrent' }, shed.wire);
      set({ protocol: 'http' }, shed.http);
      set({ protocol: 'https' }, shed.https);
    },
  );
  gauge('edgepeer_qos_shedding', '1 while new requests are refused by load shedding.', [], (set) =>
    set({}, now().qos.shedding.active === null ? 0 : 1),
  );
  counter(
    'edgepeer_qos_tracker_withdrawals_total',
    'Times shedding lasted long enough to announce stopped to the trackers.',
    [],
    (set) => set({}, now().qos.shedding.withdrawals),
  );
}
