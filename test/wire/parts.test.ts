import bencode from 'bencode';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors/index.ts';
import { allowedFastSet, DEFAULT_LIMITS, resolveLimits, threadShareOfLimits } from '../../src/wire/index.ts';
import { MalformedMessageError, metadataReply } from '../../src/wire/metadata.ts';
import { RequestQueue } from '../../src/wire/request-queue.ts';
import { readUint32 } from '../../src/wire/serving-wire.ts';

describe('allowedFastSet (BEP 6)', () => {
  const infoHash = Buffer.alloc(20, 0xaa);
  it('matches the test vectors of BEP 6', () => {
    expect(allowedFastSet('80.4.4.200', infoHash, 1313, 7)).toEqual([1059, 431, 808, 1217, 287, 376, 1188]);
    expect(allowedFastSet('80.4.4.200', infoHash, 1313, 9)).toEqual([1059, 431, 808, 1217, 287, 376, 1188, 353, 508]);
  });
  it('is the same for the whole /24, and for IPv4-mapped addresses', () => {
    expect(allowedFastSet('::ffff:80.4.4.7', infoHash, 1313, 7)).toEqual(
      allowedFastSet('80.4.4.200', infoHash, 1313, 7),
    );
  });
  it('is empty for IPv6 and capped at the piece count', () => {
    expect(allowedFastSet('2001:db8::1', infoHash, 1313, 7)).toEqual([]);
    expect(allowedFastSet('10.0.0.1', infoHash, 3, 10).sort()).toEqual([0, 1, 2]);
  });
});

describe('RequestQueue', () => {
  it('is a bounded FIFO that wraps around', () => {
    const q = new RequestQueue(3);
    for (let i = 0; i < 3; i++) expect(q.push(i, i * 10, 16)).toBe(true);
    expect(q.push(9, 0, 16)).toBe(false);
    q.shift();
    expect(q.push(3, 30, 16)).toBe(true);
    const seen: number[][] = [];
    while (q.size > 0) {
      seen.push([q.headPiece(), q.headBegin(), q.headLength()]);
      q.shift();
    }
    expect(seen).toEqual([
      [1, 10, 16],
      [2, 20, 16],
      [3, 30, 16],
    ]);
  });
  it('removes one request (cancel), requests of given pieces, or those a predicate picks, in order', () => {
    const q = new RequestQueue(8);
    for (const [p, b] of [
      [1, 0],
      [2, 0],
      [1, 16],
      [3, 0],
      [2, 16],
    ]) {
      q.push(p!, b!, 16);
    }
    expect(q.remove(1, 16, 16)).toBe(true);
    expect(q.remove(1, 16, 16)).toBe(false);
    const removed: number[] = [];
    q.removePieces(new Set([2]), (p, b) => removed.push(p * 100 + b));
    expect(removed).toEqual([200, 216]);
    expect(q.nextPiecesOtherThan(1, 1)).toEqual([3]);
    expect(q.nextPiecesOtherThan(3, 4)).toEqual([1]);
    q.removeWhere(
      (p) => p === 1,
      () => {},
    );
    expect(q.size).toBe(1);
    expect(q.headPiece()).toBe(3);
    q.drain();
    expect(q.size).toBe(0);
    expect(q.nextPiecesOtherThan(1, 4)).toEqual([]);
  });
});

describe('metadataReply (BEP 9)', () => {
  const info = Buffer.alloc(40_000, 7);
  const request = (piece: unknown) => bencode.encode({ msg_type: 0, piece });
  it('answers a request with the 16 KiB piece and total_size', () => {
    const reply = metadataReply(info, request(2))!;
    const head = bencode.decode(reply) as Record<string, number>;
    expect(head).toEqual({ msg_type: 1, piece: 2, total_size: 40_000 });
    expect(reply.length - bencode.byteLength(head)).toBe(40_000 - 32 * 1024);
  });
  it('rejects a piece out of range', () => {
    expect(bencode.decode(metadataReply(info, request(3))!)).toEqual({ msg_type: 2, piece: 3 });
    expect(bencode.decode(metadataReply(info, request(-1))!)).toEqual({ msg_type: 2, piece: -1 });
  });
  it('ignores data, reject and unknown message types', () => {
    expect(metadataReply(info, bencode.encode({ msg_type: 1, piece: 0, total_size: 5 }))).toBeNull();
    expect(metadataReply(info, bencode.encode({ msg_type: 7 }))).toBeNull();
  });
  it('calls garbage malformed', () => {
    for (const bad of [Buffer.from('xyz'), bencode.encode([1, 2]), bencode.encode({ piece: 0 }), request('zero')]) {
      expect(() => metadataReply(info, bad)).toThrow(MalformedMessageError);
    }
    expect(() => metadataReply(info, Buffer.from('l'.repeat(100_000)))).toThrow(MalformedMessageError);
  });
});

describe('resolveLimits', () => {
  it('fills in defaults', () => {
    expect(resolveLimits({ uploadSlots: 4 })).toEqual({ ...DEFAULT_LIMITS, uploadSlots: 4 });
  });
  it('names the limit that is out of range or unknown', () => {
    expect(() => resolveLimits({ maxBlockLength: 256 * 1024 })).toThrow(
      /maxBlockLength must be an integer from 1024 to 131072/,
    );
    expect(() => resolveLimits({ maxConnections: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => resolveLimits({ nonsense: 1 } as never)).toThrow(/unknown peer wire limit nonsense/);
    expect(() => resolveLimits({ keepAliveIntervalMs: 10_000, idleTimeoutMs: 5_000 })).toThrow(/keepAliveIntervalMs/);
  });
});

describe('readUint32', () => {
  it('reads values above 2^31 as unsigned', () => {
    expect(readUint32(Uint8Array.from([0xff, 0xff, 0xff, 0xfe]), 0)).toBe(0xfffffffe);
  });
});

describe('threadShareOfLimits (peer.threads)', () => {
  it('divides the regular upload slots and the connection cap among the threads, at least 1 each', () => {
    expect(threadShareOfLimits({ uploadSlots: 16, maxConnections: 2001 }, 2)).toMatchObject({
      uploadSlots: 8,
      maxConnections: 1001,
      optimisticSlots: DEFAULT_LIMITS.optimisticSlots,
      maxConnectionsPerIp: DEFAULT_LIMITS.maxConnectionsPerIp,
    });
    expect(threadShareOfLimits({ uploadSlots: 3 }, 4).uploadSlots).toBe(1);
    expect(threadShareOfLimits({ uploadSlots: 5 }, 1)).toEqual(resolveLimits({ uploadSlots: 5 }));
  });
});
