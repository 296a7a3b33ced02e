// `edgepeer qos` and `edgepeer qos set` against a running agent (the built CLI, `npm run build` first), and
// the limits in its status and metrics.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/index.ts';
import { resolveQos } from '../../src/qos/index.ts';
import { loopbackHttp, testAgentConfig } from '../helpers/agent.ts';
import { edgepeer } from '../helpers/cli.ts';

let dir: string;
let agent: Agent;
let dataDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-qos-cli-'));
  const config = testAgentConfig(dir, { http: loopbackHttp(), admin: { host: '127.0.0.1', port: 0 } });
  dataDir = config.dataDir;
  agent = await Agent.start(config, pino({ level: 'silent' }));
});
afterAll(async () => {
  await agent?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('edgepeer qos', () => {
  it('shows no limits, sets them live (--json), refuses a wrong value changing nothing, and metrics show them', async () => {
    const shown = await edgepeer(['qos', '--data-dir', dataDir, '--json']);
    expect(shown.code).toBe(0);
    expect(shown.lines[0]).toMatchObject({ active: false, effectiveRate: 0 });

    const set = await edgepeer([
      'qos',
      'set',
      '--data-dir',
      dataDir,
      '--rate',
      '5MiB',
      '--classes',
      'gold:3,bronze:1',
      '--alt-rate',
      '1MiB',
      '--alt-window',
      '00:00-24:00',
      '--subscriber-classes',
      'sip:alice@ims.example.net=gold',
      '--json',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.lines[0]).toMatchObject({
      active: true,
      effectiveRate: 1024 * 1024,
      altActive: true,
      settings: {
        rate: 5 * 1024 * 1024,
        altWindow: '00:00-24:00',
        subscriberClasses: { 'sip:alice@ims.example.net': 'gold' },
      },
      classes: [{ name: 'default' }, { name: 'gold', weight: 3 }, { name: 'bronze', weight: 1 }],
    });
    expect(agent.qos.settings.rate).toBe(5 * 1024 * 1024);

    const wrong = await edgepeer(['qos', 'set', '--data-dir', dataDir, '--rate', 'fast', '--json']);
    expect(wrong.code).toBe(2);
    expect(wrong.lines[0]).toMatchObject({ error: { code: 'EDGEPEER_INVALID_ARGUMENT' } });
    expect(agent.qos.settings.rate).toBe(5 * 1024 * 1024);

    const text = await edgepeer(['qos', '--data-dir', dataDir]);
    expect(text.stdout).toMatch(/gold\s+weight 3/);
    expect(text.stdout).toContain('0 objects and 1 subscribers assigned');

    const metrics = await request(`${agent.where().adminUrl}/metrics`);
    const body = await metrics.body.text();
    expect(body).toContain('edgepeer_qos_class_weight{class="gold"} 3');
    expect(body).toMatch(/edgepeer_qos_limit_bytes_per_second\{scope="global"\} \d+/);
    expect(body).toContain('edgepeer_qos_shed_total{protocol="http"} 0');
  });

  it('goes back to the configuration on SIGHUP (reload), over what qos set changed', async () => {
    const outcome = await agent.reload({ ...agent.config, qos: resolveQos({ rate: 2_000_000 }) });
    expect(outcome.applied).toContain('qos');
    expect(outcome.restartNeeded).not.toContain('qos');
    expect(agent.qosStatus()).toMatchObject({ effectiveRate: 2_000_000, settings: { classes: [], altWindow: null } });
  });
});
