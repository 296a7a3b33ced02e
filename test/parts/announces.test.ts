// The announces part's log, as an operator reads it: a tracker that is down is one warning however many
// objects are announced to it, and one line when it answers again; refusals are warned of, throttled.
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/cli/logger.ts';
import { AnnouncesPart } from '../../src/parts/index.ts';
import { MemoryStore } from '../../src/store/index.ts';
import { createTracker } from '../../src/tracker/index.ts';
import { makeObject } from '../wire/helpers.ts';

/** Log lines as they come; `until` resolves at the first one matching. */
function logLines() {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (line: Record<string, unknown>) => boolean; resolve: () => void }> = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    for (let at = partial.indexOf('\n'); at !== -1; at = partial.indexOf('\n')) {
      const line = JSON.parse(partial.slice(0, at)) as Record<string, unknown>;
      partial = partial.slice(at + 1);
      lines.push(line);
      for (const waiter of [...waiters]) if (waiter.match(line)) waiter.resolve();
    }
  });
  return {
    logger: createLogger('debug', { format: 'json', destination: stream }),
    lines,
    until: (match: (line: Record<string, unknown>) => boolean) =>
      new Promise<void>((resolve) => {
        if (lines.some(match)) resolve();
        else waiters.push({ match, resolve });
      }),
  };
}

/** The part announcing `store` to one tracker as soon as announces are due (the controller's timing, not
 * the client's 10 s grid), logging to `log`. */
function startPart(
  store: MemoryStore,
  log: ReturnType<typeof logLines>,
  announceUrl: string,
  timing: { backoffInitialMs?: number; requestTimeoutMs?: number },
): AnnouncesPart {
  const part = new AnnouncesPart({
    catalog: store,
    peerId: Buffer.alloc(20, 1),
    where: () => ({ peerPort: 6881, httpBaseUrls: [] }),
    transferStats: () => undefined,
    logger: log.logger,
    timing: { changeDelayMs: 0, batchWindowMs: 0, batchLingerMs: 0, ...timing },
  });
  part.start([announceUrl]);
  return part;
}

describe('announces part', () => {
  it('logs a tracker going down once for all objects, and once when it answers again', async () => {
    // A port nothing listens on, for the tracker that will come up there later.
    const probe = createTracker({ port: 0, host: '127.0.0.1' });
    const { port } = new URL((await probe.listen()).announceUrl);
    await probe.close();
    const announceUrl = `http://127.0.0.1:${port}/announce`;

    const store = new MemoryStore();
    const objects = [
      makeObject('a.bin', 40_000, 16_384),
      makeObject('b.bin', 40_000, 16_384),
      makeObject('c.bin', 40_000, 16_384),
    ];
    for (const object of objects) await store.addObject(object.metainfo);
    const log = logLines();
    const part = startPart(store, log, announceUrl, { backoffInitialMs: 200 });
    try {
      const warning = 'tracker unreachable; announces retry with backoff';
      await log.until((line) => line.msg === warning);
      // The other objects, tried while it is still down: debug lines, no second warning.
      for (const object of objects.slice(1)) await part.announceNow(object.metainfo.infoHash, 1000).catch(() => {});
      expect(log.lines.filter((line) => line.msg === warning)).toEqual([
        expect.objectContaining({ level: 40, tracker: announceUrl, reason: expect.stringContaining('ECONNREFUSED') }),
      ]);

      const tracker = createTracker({ port: Number(port), host: '127.0.0.1' });
      await tracker.listen();
      try {
        await part.announceNow(objects[0]!.metainfo.infoHash);
        await log.until((line) => line.msg === 'tracker answering again');
        expect(log.lines.filter((line) => line.msg === 'tracker answering again')).toEqual([
          expect.objectContaining({ level: 30, tracker: announceUrl }),
        ]);
      } finally {
        await part.stop();
        await tracker.close();
      }
    } finally {
      await part.stop();
    }
  });

  it('logs a tracker that takes requests and never answers as unreachable, not as refusing', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.resume();
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    const announceUrl = `http://127.0.0.1:${port}/announce`;
    const store = new MemoryStore();
    await store.addObject(makeObject('a.bin', 40_000, 16_384).metainfo);
    const log = logLines();
    const part = startPart(store, log, announceUrl, { requestTimeoutMs: 300 });
    try {
      await log.until((line) => line.level === 40);
      expect(log.lines.filter((line) => line.level === 40)).toEqual([
        expect.objectContaining({
          msg: 'tracker unreachable; announces retry with backoff',
          tracker: announceUrl,
          reason: expect.stringContaining('no answer within 300 ms'),
        }),
      ]);
    } finally {
      await part.stop({ handOver: true });
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
