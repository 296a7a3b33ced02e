// whenWritten, on real loopback sockets: a lent span is given back only once the socket no longer reads it.
// At once when the write went out, only after the client read it when the write is still pending, and
// with an error (nothing reads it any more) when the socket was destroyed.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { whenWritten } from '../../src/store/index.ts';

let server: Server;
let serverSide: Socket;
let client: Socket;

beforeEach(async () => {
  server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection');
  client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  [serverSide] = (await accepted) as [Socket];
});

afterEach(async () => {
  client.destroy();
  serverSide.destroy();
  server.close();
  await once(server, 'close');
});

/** A few turns of the event loop: time for a callback that should not come yet to come. */
async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** Calls of `done` so far: undefined (none yet), or the error it was given (null: written). */
function recorder() {
  const calls: Array<Error | null> = [];
  return { calls, done: (err?: Error | null) => calls.push(err ?? null) };
}

describe('whenWritten', () => {
  it('calls back at once, without an error, when the socket took the write', () => {
    serverSide.write(Buffer.alloc(16 * 1024, 1));
    expect(serverSide.writableLength).toBe(0);
    const { calls, done } = recorder();
    whenWritten(serverSide, done);
    expect(calls).toEqual([null]);
  });

  it('waits for a write the client has not read yet, and calls back once it is written', async () => {
    client.pause();
    // More than the loopback's socket buffers hold: the stream keeps the rest.
    const bytes = Buffer.alloc(32 * 1024 * 1024, 2);
    serverSide.write(bytes);
    expect(serverSide.writableLength).toBeGreaterThan(0);
    const { calls, done } = recorder();
    whenWritten(serverSide, done);
    await turns(20);
    expect(calls).toEqual([]);
    let received = 0;
    client.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    client.resume();
    while (calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([null]);
    // Called once the stream no longer held any of it: the kernel had it all.
    expect(serverSide.writableLength).toBe(0);
    expect(received).toBeLessThanOrEqual(bytes.length);
  });

  it('calls back with an error when the socket is destroyed with the write pending, and at once after', async () => {
    client.pause();
    serverSide.write(Buffer.alloc(32 * 1024 * 1024, 3));
    const pending = recorder();
    whenWritten(serverSide, pending.done);
    serverSide.destroy();
    while (pending.calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(pending.calls).toHaveLength(1);
    const after = recorder();
    whenWritten(serverSide, after.done);
    expect(after.calls).toHaveLength(1);
    expect(after.calls[0]).toBeInstanceOf(Error);
  });

  it('waits for an ending socket to finish (no write may follow its end)', async () => {
    client.pause();
    serverSide.write(Buffer.alloc(32 * 1024 * 1024, 4));
    serverSide.end();
    const { calls, done } = recorder();
    whenWritten(serverSide, done);
    await turns(20);
    expect(calls).toEqual([]);
    expect(serverSide.destroyed).toBe(false);
    client.resume();
    while (calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([null]);
  });
});
