// The metrics every edgepeer process exposes besides its own: Node's and the process's (prom-client's default
// collectors) and a build_info gauge an operator can join on.
import { describe, expect, it } from 'vitest';
import { statusMetrics, versions } from '../../src/admin/index.ts';

describe('status metrics', () => {
  it('carry process and Node.js metrics and edgepeer_build_info', async () => {
    const metrics = statusMetrics(() => ({ objects: 3 }));
    metrics.gauge('edgepeer_objects', 'Objects.', [], (set) => set({}, metrics.now().objects));
    const text = await metrics.registry.metrics();
    expect(text).toContain('edgepeer_objects 3');
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(text).toContain(`\n${name} `);
    }
    expect(text).toMatch(/nodejs_eventloop_lag_p99_seconds \d/);
    const { edgepeer, node } = versions();
    expect(edgepeer).toMatch(/^\d+\.\d+\.\d+/);
    expect(text).toContain(`edgepeer_build_info{version="${edgepeer}",node="${node}"} 1`);
  });
});
