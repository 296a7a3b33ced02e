// What the mainstream-client tests (clients-*.test.ts) share: an agent announcing to edgepeer's tracker on
// one address, content ingested into it, and checks of a client's downloaded copy.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { expect } from 'vitest';
import { Agent, DEFAULT_AGENT_CONFIG } from '../../src/agent/index.ts';
import type { Metainfo } from '../../src/metainfo/index.ts';
import { createTracker, type Tracker } from '../../src/tracker/index.ts';

export interface Content {
  metainfo: Metainfo;
  files: Array<{ path: string; bytes: Buffer }>;
}

export interface AgentAndTracker {
  agent: Agent;
  tracker: Tracker;
  announceUrl: string;
  close(): Promise<void>;
}

/** Edgepeer's tracker (HTTP) and an agent announcing to it, both listening on `host`, its store in `dir`. */
export async function startAgentAndTracker(dir: string, host: string): Promise<AgentAndTracker> {
  const tracker = createTracker({ host, udp: false, intervalS: 60 });
  const { announceUrl } = await tracker.listen();
  let agent: Agent;
  try {
    agent = await Agent.start(
      {
        ...DEFAULT_AGENT_CONFIG,
        dataDir: join(dir, 'store'),
        peer: { port: 0, host },
        http: { ...DEFAULT_AGENT_CONFIG.http!, port: 0, host },
        trackers: [announceUrl],
        admin: null,
        scrub: { ...DEFAULT_AGENT_CONFIG.scrub, bytesPerSecond: 0 },
      },
      pino({ level: 'silent' }),
    );
  } catch (err) {
    await tracker.close();
    throw err;
  }
  return {
    agent,
    tracker,
    announceUrl,
    close: async () => {
      await agent.stop();
      await tracker.close();
    },
  };
}

/** Deterministic bytes that differ from one seed to another. */
export function testContentBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i += 1) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * Ingests `files` (256 KiB pieces) as object `name`: a single-file object when the one file's path is
 * `name`, else a folder. Resolves once the tracker has taken the agent's announce, so a client's first
 * announce already gets the agent as a peer (else it would wait a whole interval).
 */
export async function ingestContent(
  agent: Agent,
  dir: string,
  name: string,
  files: Content['files'],
): Promise<Content> {
  const source = join(dir, 'sources', name);
  for (const file of files) {
    await mkdir(join(source, file.path, '..'), { recursive: true });
    await writeFile(join(source, file.path), file.bytes);
  }
  const sourcePath = files.length === 1 && files[0]!.path === name ? join(source, name) : source;
  let infoHash = '';
  await agent.operations.ingest({ sources: [sourcePath], options: { pieceLength: 256 * 1024 } }, (result) => {
    infoHash = result.infoHash ?? '';
  });
  await agent.announceNow(infoHash);
  return { metainfo: agent.store.get(infoHash)!.metainfo, files };
}

/** Expects the copy of `content` a client saved under `save` (as `<name>` or `<name>/<path>`) to be whole. */
export async function expectSavedCopy(save: string, content: Content): Promise<void> {
  for (const file of content.files) {
    const path = content.metainfo.multiFile ? join(save, content.metainfo.name, file.path) : join(save, file.path);
    expect((await readFile(path)).equals(file.bytes), `${path} differs from what was ingested`).toBe(true);
  }
}
