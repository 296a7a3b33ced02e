// Lines of a channel's socket (src/fleet/protocol.ts): one JSON message per newline-ended line.
import type { Socket } from 'node:net';

/**
 * Calls `onLine` with each newline-ended, non-empty line of `socket` (UTF-8), in order. A line growing past
 * `maxBytes` is not kept: `onLine('', true)` is called once and no more lines are read.
 */
export function readLines(socket: Socket, maxBytes: number, onLine: (line: string, tooLong: boolean) => void): void {
  let partial: Buffer[] = [];
  let partialBytes = 0;
  const onData = (chunk: Buffer) => {
    let from = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, from)) {
      const part = chunk.subarray(from, newline);
      const line = partialBytes === 0 ? part : Buffer.concat([...partial, part]);
      partial = [];
      partialBytes = 0;
      from = newline + 1;
      if (line.length > 0) onLine(line.toString('utf8'), false);
      if (socket.destroyed) return;
    }
    if (from < chunk.length) {
      partial.push(chunk.subarray(from));
      partialBytes += chunk.length - from;
      if (partialBytes > maxBytes) {
        socket.off('data', onData);
        partial = [];
        onLine('', true);
      }
    }
  };
  socket.on('data', onData);
}
