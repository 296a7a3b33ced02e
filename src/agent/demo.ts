import { createCipheriv } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DEFAULT_AGENT_CONFIG } from '../config/index.ts';
import { objectUrls } from '../http/index.ts';
import type { IngestResult } from '../ingest/index.ts';
import { magnetLink, pieceHash } from '../metainfo/index.ts';
import { createTracker, type Tracker, type TrackerAddress } from '../tracker/index.ts';
import { Agent } from './agent.ts';

export interface DemoOptions {
  dataDir: string;
  sampleBytes: number;
  logger: Logger;
}

export interface DemoReady {
  dataDir: string;
  tracker: TrackerAddress;
  peer: string;
  httpBaseUrl: string;
  adminUrl: string | null;
  sample: {
    path: string;
    infoHash: string;
    name: string;
    length: number;
    pieces: number;
    /** Piece 0's SHA-1 from the metainfo, hex: what `curl <piece 0 URL> | sha1sum` prints. */
    piece0Sha1: string;
  };
  magnet: string;
  httpUrl: string;
  webSeed: string;
  pieceUrlTemplate: string;
}

export interface Demo {
  ready: DemoReady;
  stop(): Promise<void>;
}

const SAMPLE_NAME = 'edgepeer-sample.bin';

/**
 * The embedded default: the reference tracker and an agent on loopback, serving a generated sample that
 * aria2c, libtorrent or curl can fetch at once. The sample's bytes depend only on its size, so its info
 * hash is the same on every machine.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const tracker: Tracker = createTracker({ host: '127.0.0.1', port: 0, intervalS: 60 });
  const trackerAddress = await tracker.listen();
  let agent: Agent | undefined;
  try {
    agent = await Agent.start(
      {
        ...DEFAULT_AGENT_CONFIG,
        dataDir: join(options.dataDir, 'store'),
        peer: { port: 0, host: '127.0.0.1' },
        http: { ...DEFAULT_AGENT_CONFIG.http!, port: 0, host: '127.0.0.1' },
        admin: { host: '127.0.0.1', port: 0 },
        trackers: [trackerAddress.announceUrl],
      },
      options.logger,
    );
    const samplePath = await writeSample(join(options.dataDir, 'sample'), options.sampleBytes);
    const result = await ingestOne(agent, samplePath);
    // Ready means fetchable: the tracker already lists the agent when the magnet link is printed.
    await agent.announceNow(result.infoHash as string);
    const where = agent.where();
    const httpBaseUrl = where.httpBaseUrls[0] as string;
    const object = agent.store.get(result.infoHash as string);
    if (!object) throw new Error('the sample did not reach the store');
    const urls = objectUrls(httpBaseUrl, object);
    const running = agent;
    return {
      ready: {
        dataDir: options.dataDir,
        tracker: trackerAddress,
        peer: `127.0.0.1:${where.peerPort}`,
        httpBaseUrl,
        adminUrl: where.adminUrl,
        sample: {
          path: samplePath,
          infoHash: object.infoHash,
          name: object.name,
          length: object.length,
          pieces: object.bitfield.length,
          piece0Sha1: pieceHash(object.metainfo, 0).toString('hex'),
        },
        magnet: magnetLink(object.metainfo, { trackers: [trackerAddress.announceUrl], webSeeds: [urls.webSeed] }),
        httpUrl: urls.files[0] as string,
        webSeed: urls.webSeed,
        pieceUrlTemplate: urls.pieceUrlTemplate,
      },
      async stop() {
        await running.stop();
        await tracker.close();
      },
    };
  } catch (err) {
    await agent?.stop();
    await tracker.close();
    throw err;
  }
}

async function ingestOne(agent: Agent, path: string): Promise<IngestResult> {
  let result: IngestResult | undefined;
  await agent.operations.ingest({ sources: [path], options: { pieceLength: 256 * 1024 } }, (r) => {
    result = r;
  });
  if (!result || result.error) throw new Error(`ingesting the sample failed: ${result?.error?.message ?? 'no result'}`);
  return result;
}

/** Deterministic pseudo-random bytes (AES-CTR of zeros under a fixed key), written in 1 MiB chunks. */
async function writeSample(folder: string, length: number): Promise<string> {
  await mkdir(folder, { recursive: true });
  const path = join(folder, SAMPLE_NAME);
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 0x65), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(1024 * 1024);
  const file = await open(path, 'w');
  try {
    for (let written = 0; written < length; written += zeros.length) {
      const chunk = cipher.update(zeros.subarray(0, Math.min(zeros.length, length - written)));
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
  return path;
}
