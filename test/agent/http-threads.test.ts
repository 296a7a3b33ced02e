// The agent with http.threads: 2: both threads answer on the HTTP port, objects ingested after start are
// served by both (a thread's store follows the agent's), and the status counts every thread's requests.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent } from '../../src/agent/index.ts';
import { loopbackHttp, testAgentConfig } from '../helpers/agent.ts';
import { getOnNewConnection } from '../helpers/http.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-agent-threads-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('agent with http.threads 2', () => {
  it('serves on both threads what was ingested after start, and counts both', async () => {
    const agent = await Agent.start(
      testAgentConfig(dir, { http: { ...loopbackHttp(), threads: 2 } }),
      pino({ level: 'silent' }),
    );
    try {
      const content = Buffer.alloc(8 * 32 * 1024);
      for (let offset = 0; offset < content.length; offset++) content[offset] = (offset * 7 + (offset >> 9)) & 0xff;
      const file = join(dir, 'eight.bin');
      await writeFile(file, content);
      let infoHash = '';
      await agent.operations.ingest({ sources: [file], options: { pieceLength: 32 * 1024 } }, (r) => {
        infoHash = String(r.infoHash);
      });
      const base = agent.where().httpBaseUrls[0];
      let sent = 0;
      let perThread: number[] = [];
      for (let round = 0; round < 50 && !(perThread.length === 2 && perThread.every((n) => n > 0)); round++) {
        await Promise.all(
          Array.from({ length: 20 }, async (_, index) => {
            const piece = (round + index) % 8;
            const response = await getOnNewConnection(`${base}/pieces/${infoHash}/${piece}`);
            expect(response.status).toBe(200);
            expect(response.body.equals(content.subarray(piece * 32 * 1024, (piece + 1) * 32 * 1024))).toBe(true);
          }),
        );
        sent += 20;
        // Each thread writes its counters every 200 ms: until they add up to what was sent.
        await vi.waitFor(() => expect(agent.status().http?.requests).toBe(sent), { timeout: 20_000, interval: 50 });
        perThread = agent.status().http?.requestsPerThread ?? [];
      }
      expect(perThread).toHaveLength(2);
      expect(perThread[0]).toBeGreaterThan(0);
      expect(perThread[1]).toBeGreaterThan(0);
      expect(agent.status().http?.responses['2xx']).toBe(sent);
    } finally {
      await agent.stop();
    }
  });
});
