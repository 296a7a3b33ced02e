// The agent's storage control seams: `policy explain` through Agent.explainPolicy (the admin route's
// handler) and the status, with storage control off and with a tracker nobody answers for.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type AgentConfig, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import { DEFAULT_SETTINGS } from '../../src/policy/index.ts';
import { captureLog } from '../helpers/log.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-agent-policy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const config = (name: string, storageControl: AgentConfig['storageControl']): AgentConfig => ({
  ...DEFAULT_AGENT_CONFIG,
  dataDir: join(dir, name),
  peer: { port: 0, host: '127.0.0.1' },
  http: null,
  admin: null,
  announce: false,
  hashThreads: 1,
  scrub: { bytesPerSecond: 0, passIntervalMs: 3_600_000, window: null },
  storageControl,
});

/** Storage control following a tracker nobody answers for. */
const unreachableTracker: AgentConfig['storageControl'] = {
  settings: DEFAULT_SETTINGS,
  statsUrl: 'http://127.0.0.1:1/stats',
  objects: null,
  intervalMs: 200,
  catalogue: null,
  topUpBytesPerSecond: 0,
};

describe('agent storage control', () => {
  it('explains nothing when it is off (not found, exit code 4)', async () => {
    const agent = await Agent.start(config('off', null), pino({ level: 'silent' }));
    try {
      expect(() => agent.explainPolicy('0'.repeat(40))).toThrow(
        expect.objectContaining({ code: 'EDGEPEER_NOT_FOUND', exitCode: 4 }),
      );
      expect(agent.status().storageControl).toBeNull();
    } finally {
      await agent.stop();
    }
  });

  it('reads back what it ingested before a restart, from the data dir', async () => {
    const dataDir = join(dir, 'restore');
    await mkdir(join(dataDir, 'storage-control'), { recursive: true });
    const record = {
      version: 1,
      swarms: { ['ab'.repeat(20)]: { pieceCount: 2, ingestedAt: { 1: 1_700_000_000_000 } } },
    };
    await writeFile(join(dataDir, 'storage-control', 'ingested.json'), JSON.stringify(record));
    const log = captureLog('info');
    const agent = await Agent.start(config('restore', unreachableTracker), log.logger);
    try {
      expect(log.lines.find((line) => line.msg.startsWith('storage control: restored'))).toMatchObject({ swarms: 1 });
    } finally {
      await agent.stop();
    }
  });

  it('holds its decisions while the tracker cannot be reached, and explains them by name', async () => {
    const log = captureLog('info');
    const agent = await Agent.start(config('on', unreachableTracker), log.logger);
    try {
      const file = join(dir, 'video.bin');
      await writeFile(file, Buffer.alloc(2 * 262_144, 3));
      await agent.operations.ingest({ sources: [file], options: { pieceLength: 262_144 } }, () => {});
      await log.waitFor((line) => line.msg.includes('holding decisions') && line.stats === 'unreachable');
      const explained = agent.explainPolicy('video.bin');
      expect(explained).toMatchObject({ name: 'video.bin', stats: 'unreachable', ingest: [], purge: [] });
      expect(explained.pieces.map((p) => `${p.held} ${p.action} ${p.reason}`)).toEqual([
        'true hold stats-unreachable',
        'true hold stats-unreachable',
      ]);
      expect(agent.status().storageControl).toMatchObject({ swarms: 1, holding: 1, piecesPurged: 0 });
    } finally {
      await agent.stop();
    }
  });
});
