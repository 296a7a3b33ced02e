// Accounting records streamed to a collector (the admin API's GET /v1/accounting/stream): NDJSON, each
// line a record as written to disk, whole (what an HTTP line leaves out put back: record.ts), only once
// durable. Resumable: `since` (a seq of this run) sends what is already on disk after it first, then every
// batch as it is written. A collector that reads too slowly is cut off rather than buffered without bound;
// it reconnects with the last seq it holds.
import type { Writable } from 'node:stream';
import type { AccountingLog } from './log.ts';
import { readRecords } from './summary.ts';

/** Bytes queued for a collector before it is cut off. */
export const STREAM_MAX_QUEUED_BYTES = 8 * 1024 * 1024;

export interface StreamTarget extends Pick<Writable, 'write' | 'end' | 'destroy' | 'once' | 'off'> {
  readonly writableLength: number;
  readonly destroyed: boolean;
}

/**
 * Streams `log`'s records with seq > `since` (this run's) to `out` until `signal` aborts or `out` closes.
 * Resolves when the stream ends.
 */
export async function streamRecords(
  log: AccountingLog,
  since: number,
  out: StreamTarget,
  signal: AbortSignal,
  maxQueuedBytes = STREAM_MAX_QUEUED_BYTES,
): Promise<void> {
  let lastSent = since;
  let live = false;
  const held: Array<{ lines: string; firstSeq: number }> = [];
  const send = (lines: string, firstSeq: number): void => {
    if (out.destroyed) return;
    let text = lines;
    // Drop lines already sent (a batch caught up from disk and also heard live).
    if (firstSeq <= lastSent) {
      const parts = lines.split('\n');
      text = parts.slice(lastSent - firstSeq + 1).join('\n');
    }
    const count = countLines(lines);
    if (firstSeq + count - 1 > lastSent) lastSent = firstSeq + count - 1;
    if (text === '') return;
    out.write(text);
    if (out.writableLength > maxQueuedBytes)
      out.destroy(new Error('accounting stream: the collector reads too slowly'));
  };
  // Followed first, so that nothing written while the files are read is missed; held until they are.
  const unfollow = log.follow((lines, firstSeq) => (live ? send(lines, firstSeq) : held.push({ lines, firstSeq })));
  try {
    const { records } = await readRecords(log.dir);
    const mine = records.filter((r) => r.run === log.run && r.seq > since).sort((a, b) => a.seq - b.seq);
    for (const record of mine) {
      if (record.seq <= lastSent) continue;
      send(`${JSON.stringify(record)}\n`, record.seq);
    }
    for (const batch of held) send(batch.lines, batch.firstSeq);
    held.length = 0;
    live = true;
    if (signal.aborted || out.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        out.off('close', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      out.once('close', done);
    });
  } finally {
    unfollow();
  }
}

function countLines(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}
