// Property: whatever a remote peer sends (random and mutated peer-wire messages after a valid handshake,
// mutated handshakes), the wire server never crashes or leaves a rejection unhandled, closes or ignores
// what it cannot take, keeps serving a valid peer byte for byte, and keeps its log bounded (one
// malformed connection must not mean one warning line: anyone can open thousands).
// Seeded (mulberry32), so a failing input replays; bounded in count and time; loopback only.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import bencode from 'bencode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeerWireServer, type PeerWireServer } from '../../src/wire/index.ts';
import { captureLog } from '../helpers/log.ts';
import {
  connectPeer,
  handshakeBytes,
  hold,
  MemoryStore,
  makeObject,
  message,
  pieceBytes,
  pieceCacheOf,
  rawConnect,
  requestBlock,
  waitFor,
} from './helpers.ts';

const PIECE = 32 * 1024;
const CASES = 1500;
const PARALLEL = 6; // below the per-address connection limit (8)

function randomSource(seed: number): (below: number) => number {
  let state = seed;
  return (below) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

type Random = (below: number) => number;

const object = makeObject('fuzz.bin', 4 * PIECE + 100, PIECE);
const pieces = Math.ceil(object.content.length / PIECE);

function bytes(random: Random, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = random(256);
  return out;
}

/** A number that is sometimes right, sometimes just off, sometimes absurd. */
function edgy(random: Random, right: number): number {
  switch (random(6)) {
    case 0:
      return right;
    case 1:
      return right + 1;
    case 2:
      return Math.max(0, right - 1);
    case 3:
      return 0;
    case 4:
      return 0xffffffff;
    default:
      return random(2 ** 20);
  }
}

/** ut_metadata and extended-handshake payloads: bencoded dicts with plausible and wrong fields. */
function extendedPayload(random: Random): Buffer {
  const choice = random(4);
  if (choice === 0) return bytes(random, random(40));
  const dict: Record<string, unknown> = {};
  if (random(2)) dict.msg_type = edgy(random, random(3));
  if (random(2)) dict.piece = edgy(random, 0);
  if (random(2)) dict.total_size = edgy(random, 100);
  if (random(2)) dict.m = random(2) ? { ut_metadata: edgy(random, 3) } : 'x';
  const encoded = Buffer.from(bencode.encode(dict));
  return choice === 1 ? encoded.subarray(0, random(encoded.length + 1)) : encoded;
}

/** One message: well-formed, wrongly sized, unknown, or torn. */
function randomMessage(random: Random): Buffer {
  switch (random(12)) {
    case 0:
      return Buffer.alloc(4); // keep-alive
    case 1:
      return message(random(4)); // choke, unchoke, interested, not interested
    case 2:
      return message(4, edgy(random, random(pieces))); // have
    case 3:
      return message(5, bytes(random, edgy(random, 1) % 64)); // bitfield, any size
    case 4:
    case 5:
      return message(6 + 2 * random(2), edgy(random, random(pieces)), edgy(random, 0), edgy(random, 16_384)); // request, cancel
    case 6:
      return message(7, edgy(random, 0), edgy(random, 0), bytes(random, random(64))); // piece to a seeder
    case 7:
      return message(13 + random(5), ...(random(2) ? [edgy(random, 0)] : [])); // fast extension messages
    case 8:
      return message(20, Buffer.from([random(4)]), extendedPayload(random)); // extended
    case 9:
      return message(21 + random(235), bytes(random, random(32))); // unknown id
    case 10: {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(edgy(random, 13), 0);
      return Buffer.concat([length, bytes(random, random(20))]); // length prefix that lies
    }
    default:
      return bytes(random, 1 + random(30)); // noise
  }
}

function mutateHandshake(random: Random): Buffer {
  const handshake = handshakeBytes(random(4) === 0 ? '11'.repeat(20) : object.infoHash, {
    fast: random(2) === 0,
    extended: random(2) === 0,
  });
  const mutations = 1 + random(3);
  let out = Buffer.from(handshake);
  for (let i = 0; i < mutations; i++) {
    switch (random(3)) {
      case 0:
        out[random(out.length)] = random(256);
        break;
      case 1:
        out = out.subarray(0, random(out.length));
        break;
      default:
        out = Buffer.concat([out, bytes(random, random(40))]);
    }
  }
  return out;
}

/** Sends one fuzz case on its own connection, ends it, and resolves once both sides have closed. */
async function runCase(port: number, random: Random): Promise<void> {
  const socket: Socket = await rawConnect(port);
  socket.resume(); // what the server answers is read and dropped, so its end is seen
  const gone = once(socket, 'close');
  const chunks: Buffer[] = [];
  if (random(4) === 0) chunks.push(mutateHandshake(random));
  else {
    chunks.push(handshakeBytes(object.infoHash, { fast: random(2) === 0, extended: random(2) === 0 }));
    const count = 1 + random(8);
    for (let i = 0; i < count; i++) chunks.push(randomMessage(random));
  }
  // Sometimes all at once, sometimes split at random points.
  const all = Buffer.concat(chunks);
  let at = 0;
  while (at < all.length) {
    const size = random(2) ? all.length - at : 1 + random(all.length - at);
    socket.write(all.subarray(at, at + size));
    at += size;
  }
  socket.end();
  await gone;
}

describe('peer wire message fuzz', () => {
  const log = captureLog('info');
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  let store: MemoryStore;
  let server: PeerWireServer;
  let port: number;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    store = new MemoryStore();
    await hold(store, object);
    server = createPeerWireServer({
      store,
      cache: pieceCacheOf(store),
      port: 0,
      host: '127.0.0.1',
      logger: log.logger,
      limits: { handshakeTimeoutMs: 2000 },
    });
    port = (await server.listen()).port;
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await server.close(0);
  });

  it(`survives ${CASES} random and mutated message streams, then serves a valid peer`, async () => {
    const random = randomSource(Number(process.env.FUZZ_SEED ?? 0x5eed));
    let next = 0;
    const worker = async () => {
      while (next < CASES) {
        next++;
        await runCase(port, random);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));

    expect(unhandled).toEqual([]);
    const stats = server.stats();
    expect(stats.protocolErrors).toBeGreaterThan(50); // the fuzz did reach the message parser

    const peer = await connectPeer(port, object.infoHash);
    try {
      await waitFor(peer.wire, 'have-all');
      const unchoke = waitFor(peer.wire, 'unchoke');
      peer.wire.interested();
      await unchoke;
      for (let index = 0; index < pieces; index++) {
        const length = Math.min(PIECE, object.content.length - index * PIECE);
        const blocks = [];
        for (let begin = 0; begin < length; begin += 16_384) {
          blocks.push(requestBlock(peer.wire, index, begin, Math.min(16_384, length - begin)));
        }
        expect(Buffer.concat(await Promise.all(blocks)).equals(pieceBytes(object, index)), `piece ${index}`).toBe(true);
      }
    } finally {
      peer.close();
    }

    // Bounded log: a few warnings per kind per minute and a summary, not one line per bad connection.
    const warnings = log.lines.filter((line) => line.level >= 40);
    expect(warnings.length).toBeLessThanOrEqual(20);
    expect(log.bytes()).toBeLessThan(16 * 1024);
  });
});
