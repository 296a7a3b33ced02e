// An edge's channel on the controller's edge API (an HTTP/1.1 upgrade, then one JSON message per line):
// refused without the protocol or a credential, heartbeats answered only on change or every few, commands
// handed over at once, bad lines and removed edges answered with an error and the channel closed.
import { once } from 'node:events';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEdgeApi, type EdgeApi } from '../../src/controller/edge-api.ts';
import { EdgeRegistry, FleetCatalog, MemoryFleetState } from '../../src/controller/index.ts';
import { CHANNEL_ACK_EVERY, EDGE_CHANNEL_PROTOCOL, readLines } from '../../src/fleet/index.ts';
import { makeObject } from '../wire/helpers.ts';

const HEARTBEAT_MS = 100;
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });
const address = { httpBaseUrl: 'http://edge1.cdn.example:8080', peerPort: 6881 };
const object = makeObject('first.bin', 4 * 16384, 16384);

let fleet: MemoryFleetState;
let registry: EdgeRegistry;
let api: EdgeApi;
let base: URL;

beforeEach(async () => {
  fleet = await MemoryFleetState.open();
  const catalog = new FleetCatalog(fleet, silent);
  registry = new EdgeRegistry({ fleet, catalog, heartbeatMs: HEARTBEAT_MS, logger: silent });
  api = createEdgeApi({ registry, host: '127.0.0.1', port: 0, logger: silent });
  base = new URL(await api.listen());
});

afterEach(async () => {
  registry.stop();
  await api.close();
  await fleet.close();
});

async function enrol(): Promise<{ edgeId: string; auth: string }> {
  const { token } = await registry.createToken(60_000, 'edge1');
  const enrolled = await registry.enrol({ token, name: 'edge1', address });
  return { edgeId: enrolled.edgeId, auth: `Bearer ${enrolled.edgeId}.${enrolled.key}` };
}

/** A channel's lines as they come, each parsed. */
class Channel {
  readonly socket: Socket;
  // biome-ignore lint/suspicious/noExplicitAny: messages are read field by field
  readonly #lines: any[] = [];
  #wake: (() => void) | null = null;

  constructor(socket: Socket) {
    this.socket = socket;
    readLines(socket, 1 << 20, (line) => {
      this.#lines.push(JSON.parse(line));
      this.#wake?.();
    });
    socket.on('close', () => this.#wake?.());
  }

  beat(seq = 0): void {
    const heartbeat = {
      session: 'a1b2c3d4e5f60718',
      seq,
      address,
      capacityBytes: 1_000_000,
      freeBytes: 400_000,
      load: { connections: 0, uploadBytesPerSecond: 0 },
    };
    this.socket.write(`${JSON.stringify({ heartbeat })}\n`);
  }

  /** The next line; undefined once the channel closed with none left. */
  // biome-ignore lint/suspicious/noExplicitAny: messages are read field by field
  async next(): Promise<any> {
    while (this.#lines.length === 0 && !this.socket.destroyed) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
    return this.#lines.shift();
  }
}

/** The upgraded channel, or the HTTP answer that refused it. */
async function open(
  headers: Record<string, string>,
  path = '/v1/edge/channel',
): Promise<Channel | { status: number; body: string }> {
  const req = request({ host: base.hostname, port: base.port, path, headers: { connection: 'Upgrade', ...headers } });
  req.end();
  const outcome = await Promise.race([once(req, 'upgrade'), once(req, 'response')]);
  if (outcome.length === 3) {
    // What the controller sent right after its 101 (commands queued for the edge) came with it.
    const [, socket, head] = outcome as [unknown, Socket, Buffer];
    if (head.length > 0) socket.unshift(head);
    return new Channel(socket);
  }
  const response = outcome[0] as import('node:http').IncomingMessage;
  let body = '';
  for await (const chunk of response) body += chunk;
  return { status: response.statusCode ?? 0, body };
}

async function openChannel(auth: string): Promise<Channel> {
  const channel = await open({ upgrade: EDGE_CHANNEL_PROTOCOL, authorization: auth });
  if (!(channel instanceof Channel)) throw new Error(`channel refused: ${channel.status} ${channel.body}`);
  return channel;
}

describe('edge channel', () => {
  it('is refused without the protocol (426), without a good credential (401), and on another path (404)', async () => {
    const edge = await enrol();
    expect(await open({ upgrade: 'websocket', authorization: edge.auth })).toMatchObject({ status: 426 });
    const refused = await open({ upgrade: EDGE_CHANNEL_PROTOCOL, authorization: `${edge.auth.slice(0, -2)}xx` });
    expect(refused).toMatchObject({ status: 401 });
    expect(JSON.parse((refused as { body: string }).body).error.code).toBe('EDGEPEER_UNAUTHORIZED');
    expect(await open({ upgrade: EDGE_CHANNEL_PROTOCOL })).toMatchObject({ status: 401 });
    expect(
      await open({ upgrade: EDGE_CHANNEL_PROTOCOL, authorization: edge.auth }, '/v1/edge/heartbeat'),
    ).toMatchObject({
      status: 404,
    });
  });

  it('answers the first heartbeat, then only a changed answer or every few heartbeats', async () => {
    const edge = await enrol();
    const channel = await openChannel(edge.auth);
    channel.beat();
    // No holdings yet: the controller asks for the whole state.
    expect(await channel.next()).toEqual({ heartbeat: { resync: true, heartbeatMs: HEARTBEAT_MS, draining: false } });
    await registry.state(await registry.authenticate(edge.auth), {
      session: 'a1b2c3d4e5f60718',
      seq: 0,
      objects: [{ infoHash: object.infoHash, pieceCount: 4, bitfield: Buffer.from([0xf0]).toString('base64') }],
    });
    const before = registry.stats().heartbeats;
    for (let beat = 0; beat < CHANNEL_ACK_EVERY; beat++) channel.beat();
    // The third is answered (the acknowledgement), the two before are not: the next line is that answer.
    expect(await channel.next()).toEqual({ heartbeat: { resync: false, heartbeatMs: HEARTBEAT_MS, draining: false } });
    expect(registry.stats().heartbeats - before).toBe(CHANNEL_ACK_EVERY);
    await fleet.setDraining(edge.edgeId, true);
    channel.beat();
    expect(await channel.next()).toEqual({ heartbeat: { resync: false, heartbeatMs: HEARTBEAT_MS, draining: true } });
    // A delta lost on the way: the heartbeat's seq is ahead, the answer (a resync) comes at once.
    channel.beat(5);
    expect((await channel.next()).heartbeat.resync).toBe(true);
    channel.socket.destroy();
  });

  it('hands commands over at once, those queued before the channel opened first', async () => {
    const edge = await enrol();
    const first = await openChannel(edge.auth);
    first.beat();
    await first.next();
    first.socket.destroy();
    await once(first.socket, 'close');
    // Queued while no channel is open (the edge is still up): delivered when the next one opens.
    const queued = registry.dispatch(edge.edgeId, 'purge', { infoHashes: [object.infoHash] }, () => {});
    const channel = await openChannel(edge.auth);
    const delivered = await channel.next();
    expect(delivered.commands).toEqual([
      { id: expect.any(String), kind: 'purge', body: { infoHashes: [object.infoHash] } },
    ]);
    const direct = registry.dispatch(edge.edgeId, 'ingest', { sources: ['http://origin/x'] }, () => {});
    expect((await channel.next()).commands).toEqual([
      { id: expect.any(String), kind: 'ingest', body: { sources: ['http://origin/x'] } },
    ]);
    registry.report(await registry.authenticate(edge.auth), delivered.commands[0].id, [{ kind: 'done' }]);
    await expect(queued).resolves.toBeUndefined();
    channel.socket.destroy();
    await registry.leave(await registry.authenticate(edge.auth));
    await expect(direct).rejects.toThrow(/did not finish/);
  });

  it('answers a bad line with an error naming it, counts it, and closes', async () => {
    const edge = await enrol();
    const channel = await openChannel(edge.auth);
    channel.socket.write('{"heartbeat":{"session":"zz"}}\n');
    const answer = await channel.next();
    expect(answer.error).toMatchObject({
      code: 'EDGEPEER_INVALID_ARGUMENT',
      message: expect.stringContaining('session'),
    });
    expect(await channel.next()).toBeUndefined();
    expect(registry.stats().badMessages).toBe(1);

    const again = await openChannel(edge.auth);
    again.socket.write(`${'x'.repeat(70 * 1024)}`);
    expect((await again.next()).error.message).toMatch(/longer than/);
  });

  it('closes the channel of an edge removed meanwhile at its next heartbeat, saying why', async () => {
    const edge = await enrol();
    const channel = await openChannel(edge.auth);
    channel.beat();
    await channel.next();
    await fleet.removeEdge(edge.edgeId);
    channel.beat();
    expect((await channel.next()).error.code).toBe('EDGEPEER_UNAUTHORIZED');
    expect(await channel.next()).toBeUndefined();
  });
});
