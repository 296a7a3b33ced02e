// The peer gate (`peerAuth: tracker`): a peer the allow-list does not name for the object is never
// unchoked and gets no piece byte, whatever it asks (allowed-fast included); counted and logged once per
// peer; once the list names it, it is unchoked at the next sweep, served, and its session carries the
// subscriber.
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log/index.ts';
import { AllowList } from '../../src/peer-auth/index.ts';
import { createPeerWireServer } from '../../src/wire/index.ts';
import {
  connectPeer,
  hold,
  MemoryStore,
  makeObject,
  message,
  pieceBytes,
  pieceCacheOf,
  requestBlock,
  waitFor,
} from './helpers.ts';

/** Resolves once `check` holds, asked at each turn of the event loop. */
function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const ask = (): void => (check() ? resolve() : void setImmediate(ask));
    ask();
  });
}

const PIECE = 32 * 1024;
const BLOCK = 16 * 1024;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(allowedFastSetSize: number) {
  const store = new MemoryStore();
  const object = makeObject('gated.bin', 4 * PIECE, PIECE);
  await hold(store, object);
  const allowList = new AllowList(60_000);
  const warnings: Array<{ obj: object; msg: string }> = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (obj, msg) => warnings.push({ obj, msg }),
    error: () => {},
  };
  const ended: Array<{ subscriber?: string; uploadedBytes: number }> = [];
  const server = createPeerWireServer({
    store,
    cache: pieceCacheOf(store),
    port: 0,
    host: '127.0.0.1',
    logger,
    // A short rechoke interval makes the sweep (which asks the gate again) run every 10 ms.
    limits: { allowedFastSetSize, rechokeIntervalMs: 40 },
    peerGate: allowList,
    onSessionEnd: (peer) => ended.push(peer),
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close(0));
  return { server, port, object, allowList, warnings, ended };
}

describe('peer wire: the peer gate (peerAuth: tracker)', () => {
  it('never unchokes a peer not on the allow-list and rejects its requests, counting and logging it once', async () => {
    const h = await start(0);
    const p = await connectPeer(h.port, h.object.infoHash);
    cleanups.push(() => p.close());
    p.wire.interested();
    await waitFor(p.wire, 'have-all');
    // Requests sent as they are (the client library sends none while choked), each rejected (BEP 6).
    for (const index of [0, 1, 2]) p.socket.write(message(6, index, 0, BLOCK));
    await until(() => h.server.stats().requestsRejected === 3);
    const stats = h.server.stats();
    expect(p.wire.peerChoking).toBe(true);
    expect(stats.unchoked).toBe(0);
    expect(stats.uploadedBytes).toBe(0);
    expect(stats.requestsRejected).toBe(3);
    expect(stats.unauthorisedPeers).toBe(1);
    const logged = h.warnings.filter((w) => /allow-list/.test(w.msg));
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0]!.obj)).toContain('127.0.0.1');
  });

  it('rejects allowed-fast pieces (BEP 6) too while the peer is choked and unknown', async () => {
    const h = await start(4);
    const p = await connectPeer(h.port, h.object.infoHash);
    cleanups.push(() => p.close());
    const [fastPiece] = await waitFor<[number]>(p.wire, 'allowed-fast');
    await expect(requestBlock(p.wire, fastPiece, 0, BLOCK)).rejects.toThrow(/rejected/);
    expect(h.server.stats().uploadedBytes).toBe(0);
  });

  it('unchokes and serves a peer once the list names it for the object; its session record carries the subscriber', async () => {
    const h = await start(0);
    h.allowList.grant('127.0.0.1', 'f'.repeat(40), 'sip:other@ims.example'); // another object: no
    const p = await connectPeer(h.port, h.object.infoHash);
    p.wire.interested();
    await waitFor(p.wire, 'have-all');
    p.socket.write(message(6, 0, 0, BLOCK));
    await until(() => h.server.stats().requestsRejected === 1);
    const unchoke = waitFor(p.wire, 'unchoke');
    h.allowList.grant('::ffff:127.0.0.1', h.object.infoHash, 'sip:alice@ims.example');
    await unchoke;
    const block = await requestBlock(p.wire, 0, 0, BLOCK);
    expect(block.equals(pieceBytes(h.object, 0).subarray(0, BLOCK))).toBe(true);
    expect(h.server.peers()[0]?.subscriber).toBe('sip:alice@ims.example');
    expect(h.server.stats().unauthorisedPeers).toBe(1);
    p.close();
    await waitFor(p.wire, 'close').catch(() => {});
    await until(() => h.ended.length > 0);
    expect(h.ended[0]).toMatchObject({ subscriber: 'sip:alice@ims.example', uploadedBytes: BLOCK });
  });
});
