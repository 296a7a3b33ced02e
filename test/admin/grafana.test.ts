// docs/grafana/edgepeer-agents.json queries only series an agent's /metrics has: a renamed metric fails here
// rather than as an empty panel on an operator's screen.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/index.ts';
import { testAgentConfig } from '../helpers/agent.ts';

describe('the Grafana dashboard', () => {
  it('asks only for metrics the agent exposes', async () => {
    const dashboard = JSON.parse(
      await readFile(new URL('../../docs/grafana/edgepeer-agents.json', import.meta.url), 'utf8'),
    ) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const dir = await mkdtemp(join(tmpdir(), 'edgepeer-grafana-'));
    const agent = await Agent.start(testAgentConfig(dir), pino({ level: 'silent' }));
    try {
      const exposed = new Set(
        (await agent.metrics.getMetricsAsJSON()).flatMap((metric) => [metric.name, `${metric.name}_total`]),
      );
      // The IMS and tracker gauges exist with IMS on and trackers set: their names come from the registry all the same.
      const queried = dashboard.panels.flatMap((panel) =>
        panel.targets.flatMap((target) =>
          [...target.expr.matchAll(/\b((?:edgepeer|process|nodejs)_[a-z0-9_]+)\{/g)].map((m) => m[1]),
        ),
      );
      expect(queried.length).toBeGreaterThan(10);
      expect(queried.filter((name) => !exposed.has(name as string))).toEqual([]);
    } finally {
      await agent.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
