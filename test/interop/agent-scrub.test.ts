// The background scrub in a real agent: turned on by a reload, it finds a piece that rotted on disk in an
// object nobody downloads, drops it, and says so in status and metrics.
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type AgentConfig, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-scrub-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('agent scrub', () => {
  it('finds rot in cold content once a reload turns the scrub on, and reports it', async () => {
    const config: AgentConfig = {
      ...DEFAULT_AGENT_CONFIG,
      dataDir: join(dir, 'store'),
      peer: { port: 0, host: '127.0.0.1' },
      http: null,
      admin: null,
      announce: false,
      scrub: { bytesPerSecond: 0, passIntervalMs: 3_600_000, window: null },
    };
    const agent = await Agent.start(config, pino({ level: 'silent' }));
    try {
      expect(agent.status().scrub).toMatchObject({ state: 'off' });
      const file = join(dir, 'cold.bin');
      await writeFile(file, Buffer.alloc(3 * 262_144, 7));
      let infoHash = '';
      await agent.operations.ingest({ sources: [file], options: { pieceLength: 262_144 } }, (result) => {
        infoHash = result.infoHash ?? '';
      });
      const data = await open(join(config.dataDir, 'objects', infoHash, 'data', 'cold.bin'), 'r+');
      await data.write(Buffer.from([8]), 0, 1, 262_144 + 10);
      await data.close();

      const removed = new Promise((resolve) => agent.store.once('pieces-removed', (...args) => resolve(args)));
      const applied = await agent.reload({ ...config, scrub: { ...config.scrub, bytesPerSecond: 1024 ** 3 } });
      expect(applied.applied).toContain('scrub');
      expect(await removed).toEqual([infoHash, [1], 'corrupt']);
      await expect.poll(() => agent.status().scrub?.passes).toBe(1);
      expect(agent.status().scrub).toMatchObject({ piecesChecked: 3, corruptPieces: 1, bytesChecked: 3 * 262_144 });
      const metrics = await agent.metrics!.metrics();
      expect(metrics).toContain('edgepeer_scrub_pieces_total{result="corrupt"} 1');
      expect(metrics).toContain('edgepeer_scrub_pieces_total{result="ok"} 2');
      expect(metrics).toContain(`edgepeer_scrub_bytes_total ${3 * 262_144}`);
    } finally {
      await agent.stop();
    }
  });
});
