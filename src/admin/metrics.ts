// Prometheus metrics read from a process's status at scrape time (nothing on the hot path): the agent's and
// the controller's metric sets are declared over this. Counters are totals since start; gauges current values.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RegistrationState } from '../ims/index.ts';
import type { TrackerStatus } from '../tracker/index.ts';
import { versions } from './versions.ts';

type Read = (set: (labels: Record<string, string>, value: number) => void) => void;

export interface StatusMetrics<S> {
  registry: Registry;
  /** One status snapshot per scrape (100 ms), shared by every metric of that scrape. */
  now: () => S;
  counter(name: string, help: string, labelNames: string[], read: Read): void;
  gauge(name: string, help: string, labelNames: string[], read: Read): void;
}

/**
 * A registry whose metrics read `status()` at scrape time; with Node's and the process's own (CPU, memory,
 * event-loop delay, GC, handles: prom-client's default collectors) and `edgepeer_build_info`.
 */
export function statusMetrics<S>(status: () => S): StatusMetrics<S> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { edgepeer: version, node } = versions();
  new Gauge({
    name: 'edgepeer_build_info',
    help: 'Always 1: the version of edgepeer and of Node.js running it, as labels.',
    labelNames: ['version', 'node'],
    registers: [registry],
  }).set({ version, node }, 1);
  let snapshot: { at: number; value: S } | null = null;
  return {
    registry,
    now() {
      const at = Date.now();
      if (!snapshot || at - snapshot.at > 100) snapshot = { at, value: status() };
      return snapshot.value;
    },
    counter(name, help, labelNames, read) {
      new Counter({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          read((labels, value) => this.inc(labels, value));
        },
      });
    },
    gauge(name, help, labelNames, read) {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          read((labels, value) => this.set(labels, value));
        },
      });
    },
  };
}

/** Announces and IMS registration: the same metrics for the agent and the controller. */
export function signallingMetrics(
  metrics: Pick<StatusMetrics<unknown>, 'counter' | 'gauge'>,
  now: () => { trackers: TrackerStatus[]; ims: RegistrationState | null },
): void {
  const { counter, gauge } = metrics;
  counter('edgepeer_announces_total', 'Tracker announces, by tracker and outcome.', ['tracker', 'outcome'], (set) => {
    for (const t of now().trackers) {
      set({ tracker: t.url, outcome: 'ok' }, t.announces.ok);
      set({ tracker: t.url, outcome: 'failed' }, t.announces.failed);
    }
  });
  gauge('edgepeer_tracker_up', '1 if the last announce to the tracker succeeded.', ['tracker'], (set) => {
    for (const t of now().trackers)
      set({ tracker: t.url }, t.consecutiveFailures === 0 && t.lastSuccessAt !== null ? 1 : 0);
  });
  gauge('edgepeer_ims_registered', '1 while registered in IMS (absent when IMS is off).', ['impu'], (set) => {
    const { ims } = now();
    if (ims) set({ impu: ims.impu }, ims.registered ? 1 : 0);
  });
}
