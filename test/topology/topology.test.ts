import { once } from 'node:events';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PidTraffic, Topology, UNKNOWN_COST } from '../../src/topology/index.ts';

const networkMap = (a: string[], b: string[], tag = 'v1') =>
  JSON.stringify({
    meta: { vtag: { 'resource-id': 'net', tag } },
    'network-map': { a: { ipv4: a }, b: { ipv4: b } },
  });
const costMap = (ab: number, tag = 'v1') =>
  JSON.stringify({
    meta: {
      'dependent-vtags': [{ 'resource-id': 'net', tag }],
      'cost-type': { 'cost-mode': 'numerical', 'cost-metric': 'routingcost' },
    },
    'cost-map': { a: { a: 1, b: ab }, b: { a: ab, b: 1 } },
  });

let dir: string;
const open: Topology[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ep-topology-'));
});
afterEach(async () => {
  for (const topology of open.splice(0)) topology.close();
  await rm(dir, { recursive: true, force: true });
});

async function openFiles(network: string, cost?: string, watchFiles = false): Promise<Topology> {
  await writeFile(join(dir, 'net.json'), network);
  if (cost !== undefined) await writeFile(join(dir, 'cost.json'), cost);
  const topology = await Topology.open({
    networkMap: join(dir, 'net.json'),
    ...(cost === undefined ? {} : { costMap: join(dir, 'cost.json') }),
    watchFiles,
  });
  open.push(topology);
  return topology;
}

describe('Topology from files', () => {
  it('gives costs from the cost map, and defaults without one', async () => {
    const topology = await openFiles(networkMap(['10.1.0.0/16'], ['10.2.0.0/16']), costMap(7));
    expect(topology.cost('a', 'b')).toBe(7);
    expect(topology.cost('a', 'a')).toBe(1);
    expect(topology.cost(null, 'b')).toBe(0);
    expect(topology.cost('a', null)).toBe(UNKNOWN_COST);
    const fromA = topology.costsFrom('a');
    expect([fromA('a'), fromA('b'), fromA(null), topology.costsFrom(null)('b')]).toEqual([1, 7, UNKNOWN_COST, 0]);
    expect(topology.status().costMap).toMatchObject({ mode: 'numerical', entries: 4, matchesNetworkMap: true });
    const plain = await openFiles(networkMap(['10.1.0.0/16'], ['10.2.0.0/16']));
    expect([plain.cost('a', 'a'), plain.cost('a', 'b')]).toEqual([0, 1]);
  });

  it('numbers PIDs and gives cost rows by number, both renewed when a map is loaded', async () => {
    const topology = await openFiles(networkMap(['10.1.0.0/16'], ['10.2.0.0/16']), costMap(7));
    const compact = (ip: string) => String.fromCharCode(...ip.split('.').map(Number), 0x1a, 0xe1);
    expect([topology.pidNumber('a'), topology.pidNumber('b'), topology.pidNumber(null)]).toEqual([0, 1, -1]);
    expect(topology.pidNumberOfCompact(compact('10.2.3.4'))).toBe(1);
    expect(topology.pidNumberOfCompact(compact('192.0.2.1'))).toBe(-1);
    expect([...topology.costRow('a')]).toEqual([1, 7, UNKNOWN_COST]);
    expect([...topology.costRow(null)]).toEqual([0, 0, 0]);
    const { generation, fingerprint } = topology;
    expect(fingerprint).toMatch(/^[0-9a-f]{8}$/);
    await writeFile(join(dir, 'cost.json'), costMap(3));
    await topology.reload();
    expect([...topology.costRow('a')]).toEqual([1, 3, UNKNOWN_COST]);
    expect([topology.generation, topology.fingerprint]).toEqual([generation, fingerprint]);
    await writeFile(join(dir, 'net.json'), networkMap(['10.2.0.0/16'], ['10.1.0.0/16'], 'v2'));
    await topology.reload();
    expect(topology.pidNumberOfCompact(compact('10.2.3.4'))).toBe(0);
    expect(topology.generation).toBe(generation + 1);
    expect(topology.fingerprint).not.toBe(fingerprint);
  });

  it('fails to open on a malformed map, naming it', async () => {
    await writeFile(join(dir, 'net.json'), '{"network-map":{"a":{"ipv4":["10.0.0.0/99"]}}}');
    await expect(Topology.open({ networkMap: join(dir, 'net.json'), watchFiles: false })).rejects.toMatchObject({
      code: 'EDGEPEER_TOPOLOGY_MAP_INVALID',
      message: expect.stringContaining('"10.0.0.0/99" is not an address prefix'),
    });
    await expect(Topology.open({ networkMap: join(dir, 'missing.json') })).rejects.toMatchObject({
      code: 'EDGEPEER_TOPOLOGY_MAP_UNREACHABLE',
    });
  });

  it('reloads a changed map, and keeps the old one when the new one is malformed', async () => {
    const topology = await openFiles(networkMap(['10.1.0.0/16'], ['10.2.0.0/16']), costMap(5));
    expect(topology.pidOf('10.1.0.1')).toBe('a');
    await writeFile(join(dir, 'net.json'), networkMap(['10.2.0.0/16'], ['10.1.0.0/16'], 'v2'));
    expect(await topology.reload()).toEqual({ networkMap: 'loaded', costMap: 'unchanged' });
    expect(topology.pidOf('10.1.0.1')).toBe('b');
    expect(topology.status().costMap?.matchesNetworkMap).toBe(false);
    await writeFile(join(dir, 'net.json'), networkMap(['10.1.0.0/16'], ['10.1.0.0/16/8'], 'v3'));
    await writeFile(join(dir, 'cost.json'), costMap(-2));
    expect(await topology.reload()).toEqual({ networkMap: 'refused', costMap: 'refused' });
    expect(topology.pidOf('10.1.0.1')).toBe('b');
    expect(topology.cost('a', 'b')).toBe(5);
    const status = topology.status();
    expect(status.networkMap.lastError?.message).toContain('"network-map"."b"."ipv4"[0]: "10.1.0.0/16/8"');
    expect(status.costMap?.lastError?.message).toContain('"cost-map"."a"."b": -2');
    expect(status.networkMap.tag).toBe('v2');
  });

  it('reloads by itself when the file is replaced', async () => {
    const topology = await openFiles(networkMap(['10.1.0.0/16'], ['10.2.0.0/16']), undefined, true);
    const reloaded = new Promise<void>((resolve) => topology.onReload(resolve));
    await writeFile(join(dir, 'next.json'), networkMap(['10.2.0.0/16'], ['10.1.0.0/16'], 'v2'));
    await rename(join(dir, 'next.json'), join(dir, 'net.json'));
    await reloaded;
    expect(topology.pidOf('10.1.0.1')).toBe('b');
  });
});

describe('Topology from an ALTO server', () => {
  let server: Server;
  let body = networkMap(['10.1.0.0/16'], ['10.2.0.0/16']);
  let etag = '"n1"';
  const seen: IncomingMessage['headers'][] = [];
  beforeEach(async () => {
    seen.length = 0;
    server = createServer((req, res) => {
      seen.push(req.headers);
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/alto-networkmap+json', etag }).end(body);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  afterEach(() => {
    server.close();
  });

  it('asks with the RFC 7285 media type, then with If-None-Match, and takes a 304 as unchanged', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/networkmap`;
    const topology = await Topology.open({ networkMap: url, refreshS: 3600 });
    open.push(topology);
    expect(topology.pidOf('10.2.0.1')).toBe('b');
    expect(seen[0]?.accept).toContain('application/alto-networkmap+json');
    expect(seen[0]?.['if-none-match']).toBeUndefined();
    expect(await topology.reload()).toEqual({ networkMap: 'unchanged', costMap: 'none' });
    expect(seen[1]?.['if-none-match']).toBe('"n1"');
    body = networkMap(['10.2.0.0/16'], ['10.1.0.0/16'], 'v2');
    etag = '"n2"';
    expect((await topology.reload()).networkMap).toBe('loaded');
    expect(topology.pidOf('10.2.0.1')).toBe('a');
    body = '{"network-map": {"a": {"ipv4": ["nonsense"]}}}';
    etag = '"n3"';
    expect((await topology.reload()).networkMap).toBe('refused');
    expect(topology.pidOf('10.2.0.1')).toBe('a');
    server.close();
    server.closeAllConnections();
    expect((await topology.reload()).networkMap).toBe('refused');
    expect(topology.status().networkMap.lastError?.code).toBe('EDGEPEER_TOPOLOGY_MAP_UNREACHABLE');
  });
});

describe('PidTraffic', () => {
  it('counts within, across and unmapped', () => {
    const traffic = new PidTraffic();
    traffic.add('a', 'a', 10);
    traffic.add('a', 'b', 3);
    traffic.add(null, 'b');
    expect(traffic.toJSON()).toEqual({ within: 10, across: 3, unmapped: 1 });
  });
});
