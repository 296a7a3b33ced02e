// The agent's /metrics as a scrape reads them: a refused request counted under one reason only.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/index.ts';
import { loopbackHttp, testAgentConfig } from '../helpers/agent.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-agent-metrics-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One sample of a scrape, by its name and labels as written. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('agent metrics', () => {
  it('count a request refused for a piece not held as pieces_not_held, not also as a 5xx', async () => {
    const agent = await Agent.start(testAgentConfig(dir, { http: loopbackHttp() }), pino({ level: 'silent' }));
    try {
      const file = join(dir, 'half.bin');
      await writeFile(file, Buffer.alloc(4 * 32 * 1024, 5));
      let infoHash = '';
      await agent.operations.ingest({ sources: [file], options: { pieceLength: 32 * 1024, pieces: [0, 1] } }, (r) => {
        infoHash = String(r.infoHash);
      });
      const base = agent.where().httpBaseUrls[0];
      const refused = await request(`${base}/pieces/${infoHash}/3`);
      await refused.body.dump();
      expect(refused.statusCode).toBe(503);
      const text = await agent.metrics.metrics();
      expect(sample(text, 'edgepeer_requests_rejected_total{protocol="http",reason="pieces_not_held"}')).toBe(1);
      expect(sample(text, 'edgepeer_requests_rejected_total{protocol="http",reason="status_5xx"}')).toBe(0);
    } finally {
      await agent.stop();
    }
  });
});
