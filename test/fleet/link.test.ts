// An edge's link against the controller's real edge API on loopback: heartbeats and commands on its
// channel, plain calls and a long poll behind a proxy that does not pass the upgrade, and a controller that
// goes silent on an open channel found out and left.
import { EventEmitter, once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEdgeApi, type EdgeApi } from '../../src/controller/edge-api.ts';
import { EdgeRegistry, FleetCatalog, MemoryFleetState } from '../../src/controller/index.ts';
import { type EdgeCommand, EdgeLink, type EdgeLinkOptions } from '../../src/fleet/index.ts';

const HEARTBEAT_MS = 50;
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });

let dir: string;
let fleet: MemoryFleetState;
let registry: EdgeRegistry;
let api: EdgeApi;
let apiUrl: string;
const links: EdgeLink[] = [];
const servers: Server[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-link-'));
  fleet = await MemoryFleetState.open();
  const catalog = new FleetCatalog(fleet, silent);
  registry = new EdgeRegistry({ fleet, catalog, heartbeatMs: HEARTBEAT_MS, logger: silent });
  api = createEdgeApi({ registry, host: '127.0.0.1', port: 0, logger: silent });
  apiUrl = await api.listen();
});

afterEach(async () => {
  for (const link of links.splice(0)) await link.stop();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
  registry.stop();
  await api.close();
  await fleet.close();
  await rm(dir, { recursive: true, force: true });
});

/** An edge holding nothing, its commands told to `ran`. */
async function startLink(controllerUrl: string, ran: EdgeCommand[] = []): Promise<EdgeLink> {
  const { token } = await registry.createToken(60_000, 'edge1');
  const emptyCatalog = Object.assign(new EventEmitter(), {
    list: () => [],
    get: () => undefined,
    metainfoOf: () => undefined,
  });
  const link = new EdgeLink({
    controllerUrls: [controllerUrl],
    credentialFile: join(dir, `credential-${links.length}.json`),
    enrolToken: token,
    catalog: emptyCatalog as unknown as EdgeLinkOptions['catalog'],
    address: () => ({ httpBaseUrl: 'http://127.0.0.1:8080', peerPort: 6881 }),
    load: () => ({ connections: 0, uploadedBytes: 0 }),
    space: async () => ({ capacityBytes: 1_000_000, freeBytes: 500_000 }),
    runCommand: async (command, report) => {
      ran.push(command);
      report({ kind: 'result', result: { ran: command.id } });
    },
    logger: silent,
  });
  links.push(link);
  await link.start();
  return link;
}

/** Resolves once the registry has counted `count` more heartbeats than now. */
async function heartbeats(count: number): Promise<void> {
  const target = registry.stats().heartbeats + count;
  while (registry.stats().heartbeats < target) await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS));
}

/**
 * A reverse proxy to the controller's edge API for plain requests; upgrades go to `onUpgrade` (the raw
 * socket and the request's head as text) to refuse, hang, or `forwardUpgrade` them.
 */
async function proxy(onUpgrade: (socket: Socket, head: string) => void): Promise<string> {
  const server = createServer(async (req, res) => {
    const body: Buffer[] = [];
    for await (const chunk of req) body.push(chunk);
    const { authorization, 'content-type': contentType } = req.headers;
    const answer = await request(`${apiUrl}${req.url}`, {
      method: req.method as 'GET',
      headers: { ...(authorization ? { authorization } : {}), ...(contentType ? { 'content-type': contentType } : {}) },
      body: body.length > 0 ? Buffer.concat(body) : undefined,
    });
    res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'text/plain') });
    res.end(Buffer.from(await answer.body.arrayBuffer()));
  });
  server.on('upgrade', (req, socket: Socket) => {
    const lines = [
      `GET ${req.url} HTTP/1.1`,
      ...Object.entries(req.headers).map(([name, value]) => `${name}: ${value}`),
    ];
    onUpgrade(socket, `${lines.join('\r\n')}\r\n\r\n`);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Passes an upgrade on to the controller, bytes both ways. */
function forwardUpgrade(socket: Socket, head: string): void {
  const upstream = new URL(apiUrl);
  const controller = connect(Number(upstream.port), upstream.hostname, () => {
    controller.write(head);
    socket.pipe(controller).pipe(socket);
  });
  controller.on('error', () => socket.destroy());
  socket.on('error', () => controller.destroy());
}

describe('edge link', () => {
  it('heartbeats on its channel and runs a command the moment it is dispatched', async () => {
    const ran: EdgeCommand[] = [];
    const link = await startLink(apiUrl, ran);
    await heartbeats(3);
    const { edgeId } = link.status();
    expect(link.status()).toMatchObject({ connected: true, statesSent: 1 });
    const events: unknown[] = [];
    await registry.dispatch(edgeId as string, 'purge', { infoHashes: [] }, (event) => events.push(event));
    expect(ran).toEqual([{ id: expect.any(String), kind: 'purge', body: { infoHashes: [] } }]);
    expect(events).toEqual([{ kind: 'result', result: { ran: ran[0]?.id } }]);
  });

  it('falls back to plain heartbeats and the long poll behind a proxy that does not pass the upgrade', async () => {
    const ran: EdgeCommand[] = [];
    const refusing = await proxy((socket) => socket.end('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n'));
    const link = await startLink(refusing, ran);
    await heartbeats(3);
    expect(link.status()).toMatchObject({ connected: true, statesSent: 1 });
    await registry.dispatch(link.status().edgeId as string, 'purge', { infoHashes: [] }, () => {});
    expect(ran).toHaveLength(1);
  });

  it('leaves a channel on which the controller stays silent, for one that answers', async () => {
    // A controller that took the upgrade and then hangs: a fault the real one cannot be made to show.
    let upgrades = 0;
    const url = await proxy((socket, head) => {
      upgrades += 1;
      if (upgrades > 1) return forwardUpgrade(socket, head);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: edgepeer-edge/1\r\n\r\n');
      socket.resume(); // heartbeats read, never answered
    });
    const link = await startLink(url);
    await heartbeats(3);
    expect(upgrades).toBe(2);
    expect(link.status()).toMatchObject({ connected: true, statesSent: 1 });
  });
});
