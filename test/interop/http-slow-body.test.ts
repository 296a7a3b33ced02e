// The slow-body attack against the HTTP server's default connection caps, with curl as the legitimate client
// alongside: 4,200 sockets from one address, each trickling a request body a byte at a time, must neither
// hold a connection beyond the request timeout nor lock out a client at another address.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS as DEFAULT_HTTP_LIMITS } from '../../src/http/index.ts';
import { run, type ServedSet, SINGLE_FILE, serveObjects, stopServed, webSeedOf } from '../http/interop-fixtures.ts';

const ATTACK_SOCKETS = 4200;
const REQUEST_TIMEOUT_MS = 3000;

interface AttackSocket {
  socket: Socket;
  answer: string;
  /** Settles when the socket closed, whether the server answered, refused or reset it. */
  closed: Promise<void>;
}

/** Opens `count` connections from 127.0.0.1, each sending a request head that promises a long body. */
async function openAttack(port: number, path: string, count: number): Promise<AttackSocket[]> {
  const sockets: AttackSocket[] = [];
  for (let start = 0; start < count; start += 200) {
    const batch = Array.from({ length: Math.min(200, count - start) }, async () => {
      // Not events.once: it rejects on 'error', and a refused socket may see ECONNRESET.
      const socket = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const attack: AttackSocket = { socket, answer: '', closed };
      socket.on('error', () => {});
      attack.socket.on('data', (chunk: Buffer) => {
        attack.answer += chunk.toString('latin1');
      });
      await Promise.race([new Promise((resolve) => socket.once('connect', resolve)), closed]);
      if (!attack.socket.destroyed) {
        attack.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n`);
      }
      sockets.push(attack);
    });
    await Promise.all(batch);
  }
  return sockets;
}

describe('the slow-body attack against the HTTP server', () => {
  let served: ServedSet;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgepeer-http-slow-body-'));
    served = await serveObjects(dir, [SINGLE_FILE], { limits: { requestTimeoutMs: REQUEST_TIMEOUT_MS } });
  });
  afterAll(async () => {
    await stopServed(served);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('caps one address, times out trickled bodies, and keeps serving curl from another address', async () => {
    const object = served.objects[0]!;
    const url = webSeedOf(served.base, object) + encodeURIComponent(SINGLE_FILE.name);
    const path = new URL(url).pathname;
    const legitimate = async () => {
      const started = process.hrtime.bigint();
      const { stdout } = await run('curl', [
        '-sS',
        '--interface',
        '127.0.0.2',
        '-r',
        '0-16383',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        url,
      ]);
      return { status: Number(stdout), ms: Number(process.hrtime.bigint() - started) / 1e6 };
    };
    const before = await legitimate();
    expect(before.status).toBe(206);

    const attack = await openAttack(Number(new URL(served.base).port), path, ATTACK_SOCKETS);
    // Sockets opened early may already have had their 408: what matters is that one address never holds more.
    expect(served.server.stats().connections).toBeLessThanOrEqual(DEFAULT_HTTP_LIMITS.maxConnectionsPerIp);
    const open = () => attack.filter((a) => !a.socket.destroyed);
    // One byte every 500 ms on each open socket: never quiet long enough for an idle timeout.
    const drip = setInterval(() => {
      for (const a of open()) a.socket.write('X');
    }, 500);
    const allClosed = Promise.all(attack.map((a) => a.closed));
    let attackOver = false;
    void allClosed.then(() => {
      attackOver = true;
    });
    try {
      const during: Array<{ status: number; ms: number }> = [];
      while (!attackOver) during.push(await legitimate());
      await allClosed;

      expect(during.length).toBeGreaterThan(0);
      expect(during.map((r) => r.status)).toEqual(during.map(() => 206));
      const answered = attack.filter((a) => a.answer !== '');
      expect(answered.length).toBeGreaterThanOrEqual(DEFAULT_HTTP_LIMITS.maxConnectionsPerIp);
      for (const a of answered) expect(a.answer.slice(0, 40)).toMatch(/^HTTP\/1.1 408 Request Timeout\r\n/);
      // Every other attack socket was closed as it arrived, unanswered.
      expect(served.server.stats().refusedConnections).toBe(ATTACK_SOCKETS - answered.length);
      const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
      console.log(
        `legitimate client: ${during.length} ranges during the attack, median ${median(during.map((r) => r.ms)).toFixed(1)} ms ` +
          `(before: ${before.ms.toFixed(1)} ms); ${answered.length} attack sockets answered 408, the rest refused`,
      );
    } finally {
      clearInterval(drip);
      for (const a of attack) a.socket.destroy();
    }
  });
});
