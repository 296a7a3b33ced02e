// Spans lent by a cache (PieceSource.releaseSpan: views of the serving threads' slab) to a socket's writes
// are given back once the socket no longer reads them. A callback on each write would say when, but costs
// a closure and a tick per response (Node's stream schedules one per write that has its own callback); most
// writes go out at once, and then nothing is left to wait for.

/** What whenWritten needs of a socket (net.Socket, tls.TLSSocket). */
export interface WritingSocket {
  readonly writableLength: number;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  write(chunk: Uint8Array, callback: (err?: Error | null) => void): boolean;
  once(event: 'close' | 'finish', listener: () => void): unknown;
}

const NOTHING = new Uint8Array(0);
const DESTROYED = new Error('the socket was destroyed before its writes completed');

/**
 * Calls `done` once the socket no longer needs any byte written to it so far (call it after the writes, once
 * uncorked): at once when the stream holds none (its writes completed: the bytes are the kernel's), else
 * once an empty write queued behind them completes, which the stream does in order. With an error when
 * they failed or the socket was destroyed: a destroyed socket's handle is closed and reads no buffer again.
 */
export function whenWritten(socket: WritingSocket, done: (err?: Error | null) => void): void {
  if (socket.destroyed) done(DESTROYED);
  else if (socket.writableLength === 0) done();
  else if (socket.writableEnded) {
    // Ending: no write may follow (it would destroy the socket). Finished: all flushed; closed first: failed.
    let called = false;
    const once = (err?: Error) => {
      if (called) return;
      called = true;
      done(err);
    };
    socket.once('finish', () => once());
    socket.once('close', () => once(DESTROYED));
  } else socket.write(NOTHING, done);
}
