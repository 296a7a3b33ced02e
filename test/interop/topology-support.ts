// Shared by the topology interop tests: loopback networks as PIDs (Linux routes all of 127/8 to lo, so a
// client bound to 127.0.2.x is "in" 127.0.2.0/24), ALTO map files, and announces sent from a chosen source
// address.

import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { decodeBencode } from '../../src/tracker/index.ts';
import type { BencodeValue } from '../../src/tracker/protocol/bencode.ts';

/** PID name -> its /24 of loopback. */
export const PIDS = { a: '127.0.1', b: '127.0.2', c: '127.0.3' } as const;
export type Pid = keyof typeof PIDS;

export function networkMapJson(prefixes: Record<string, string[]>, tag = 'v1'): string {
  return JSON.stringify({
    meta: { vtag: { 'resource-id': 'loopback', tag } },
    'network-map': Object.fromEntries(Object.entries(prefixes).map(([pid, ipv4]) => [pid, { ipv4 }])),
  });
}

export function costMapJson(costs: Record<string, Record<string, number>>, tag = 'v1'): string {
  return JSON.stringify({
    meta: {
      'dependent-vtags': [{ 'resource-id': 'loopback', tag }],
      'cost-type': { 'cost-mode': 'numerical', 'cost-metric': 'routingcost' },
    },
    'cost-map': costs,
  });
}

/** The three loopback PIDs, a at distance 5 from b and 10 from c (b-c 5). */
export async function writeLoopbackMaps(networkPath: string, costPath: string): Promise<void> {
  await writeFile(networkPath, networkMapJson({ a: ['127.0.1.0/24'], b: ['127.0.2.0/24'], c: ['127.0.3.0/24'] }));
  await writeFile(
    costPath,
    costMapJson({ a: { a: 1, b: 5, c: 10 }, b: { a: 5, b: 1, c: 5 }, c: { a: 10, b: 5, c: 1 } }),
  );
}

/** An HTTP GET from `sourceIp`; resolves with status and body. */
export function getFrom(url: string, sourceIp: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: sourceIp }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface AnnounceAnswer {
  /** Listed peers as "ip:port". */
  peers: string[];
  urlList: string[];
}

/** A plain announce (or, with `edgeUrl`, a network peer's holding the whole object) from `ip`. */
export async function announceFrom(
  announceUrl: string,
  infoHash: string,
  ip: string,
  options: { port?: number; numWant?: number; edgeUrl?: string } = {},
): Promise<AnnounceAnswer> {
  const hash = Buffer.from(infoHash, 'hex');
  const peerId = Buffer.from(`-TP0001-${ip.replaceAll('.', '').padStart(12, '0')}`.slice(0, 20));
  const query = [
    `info_hash=${escapeBytes(hash)}`,
    `peer_id=${escapeBytes(peerId)}`,
    `port=${options.port ?? 6881}`,
    'uploaded=0',
    'downloaded=0',
    `left=${options.edgeUrl === undefined ? 1000 : 0}`,
    'compact=1',
    `numwant=${options.numWant ?? 50}`,
    ...(options.edgeUrl === undefined ? [] : ['ep=1', `ep_url=${encodeURIComponent(options.edgeUrl)}`]),
  ].join('&');
  const { body } = await getFrom(`${announceUrl}?${query}`, ip);
  const answer = decodeBencode(body) as Record<string, BencodeValue>;
  if (answer['failure reason'] !== undefined) throw new Error(String(answer['failure reason']));
  const compact = (answer.peers as Buffer | undefined) ?? Buffer.alloc(0);
  const peers: string[] = [];
  for (let i = 0; i + 6 <= compact.length; i += 6) {
    peers.push(`${compact[i]}.${compact[i + 1]}.${compact[i + 2]}.${compact[i + 3]}:${compact.readUInt16BE(i + 4)}`);
  }
  const urlList = ((answer['url-list'] as Buffer[] | undefined) ?? []).map((url) => url.toString());
  return { peers, urlList };
}

function escapeBytes(bytes: Buffer): string {
  return Array.from(bytes, (byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}

/** The PID of a loopback "ip[:port]" or URL, by its third byte. */
export function pidOf(address: string): Pid | null {
  const match = /127\.0\.(\d+)\./.exec(address);
  const third = match === null ? null : `127.0.${match[1]}`;
  const entry = Object.entries(PIDS).find(([, prefix]) => prefix === third);
  return entry === undefined ? null : (entry[0] as Pid);
}
