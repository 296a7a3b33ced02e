import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BencodeError, decodeBencode, encodeBencode } from '../../src/tracker/protocol/bencode.ts';
import { BitmapError, countBits, decodeBitmap, encodeBitmap, setBitRange } from '../../src/tracker/protocol/bitmap.ts';
import {
  bytesToIp,
  decodeCompactPeers,
  encodeCompactPeer,
  ipToBytes,
  normalizeIp,
} from '../../src/tracker/protocol/compact.ts';
import { checkCdnUrl, objectUrl, pieceUrlPattern } from '../../src/tracker/protocol/extension.ts';
import { announceQuery, readAnnounceResult } from '../../src/tracker/protocol/messages.ts';
import { parseQuery, percentEncode, QueryError } from '../../src/tracker/protocol/query.ts';
import { announceRequest, parseAnnounceRequest, parseUrlDataOptions } from '../../src/tracker/protocol/udp.ts';

function bitfieldOf(pieceCount: number, held: (index: number) => boolean): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(pieceCount / 8));
  for (let i = 0; i < pieceCount; i++) if (held(i)) bytes[i >> 3]! |= 0x80 >> (i & 7);
  return bytes;
}

describe('bencode', () => {
  it('round-trips tracker answers with sorted keys', () => {
    const encoded = encodeBencode({ peers: Buffer.from([1, 2, 3, 4, 0, 80]), interval: 1800, 'url-list': ['a', 'b'] });
    expect(encoded.toString('latin1')).toBe('d8:intervali1800e5:peers6:\x01\x02\x03\x04\x00P8:url-listl1:a1:bee');
    const decoded = decodeBencode(encoded) as Record<string, unknown>;
    expect(decoded['interval']).toBe(1800);
    expect((decoded['url-list'] as Buffer[]).map(String)).toEqual(['a', 'b']);
  });

  it.each([
    ['negative string length', 'd-3:abce'],
    ['string past the end', '10:abc'],
    ['leading zero', 'i03e'],
    ['negative zero', 'i-0e'],
    ['no digits', 'ie'],
    ['trailing bytes', 'i1ei2e'],
    ['duplicate key', 'd1:ai1e1:ai2ee'],
    ['non-string key', 'di1ei2ee'],
    ['unterminated list', 'li1e'],
    ['huge integer', 'i99999999999999999999e'],
    ['empty input', ''],
  ])('rejects %s', (_name, text) => {
    expect(() => decodeBencode(Buffer.from(text, 'latin1'))).toThrow(BencodeError);
  });

  it('bounds nesting instead of overflowing the stack', () => {
    expect(() => decodeBencode(Buffer.from(`${'l'.repeat(100_000)}${'e'.repeat(100_000)}`))).toThrow(/nesting/);
  });

  it('keeps "__proto__" as a plain key', () => {
    const decoded = decodeBencode(Buffer.from('d9:__proto__i1ee')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toBe(1);
  });

  it('survives random garbage with a BencodeError', () => {
    for (let i = 0; i < 2000; i++) {
      const garbage = randomBytes(1 + (i % 64));
      try {
        decodeBencode(garbage);
      } catch (err) {
        expect(err).toBeInstanceOf(BencodeError);
      }
    }
  });
});

describe('query strings', () => {
  it('percent-encodes bytes and decodes them back exactly', () => {
    const hash = randomBytes(20);
    const query = `info_hash=${percentEncode(hash)}&port=6881&x`;
    const params = parseQuery(query);
    expect(params.get('info_hash')?.[0]?.equals(hash)).toBe(true);
    expect(params.get('port')?.[0]?.toString()).toBe('6881');
    expect(params.get('x')?.[0]?.length).toBe(0);
  });

  it('keeps repeated names (scrape) and a literal +', () => {
    const params = parseQuery('info_hash=a&info_hash=b&k=1+2');
    expect(params.get('info_hash')?.map(String)).toEqual(['a', 'b']);
    expect(params.get('k')?.[0]?.toString()).toBe('1+2');
  });

  it('rejects malformed escapes and too many parameters', () => {
    expect(() => parseQuery('a=%zz')).toThrow(QueryError);
    expect(() => parseQuery('a=%4')).toThrow(QueryError);
    expect(() => parseQuery(Array.from({ length: 100 }, (_, i) => `p${i}=1`).join('&'))).toThrow(/more than 64/);
  });
});

describe('compact peers and addresses', () => {
  it.each([
    ['::1', '::1'],
    ['2001:db8::8a2e:370:7334', '2001:db8::8a2e:370:7334'],
    ['fe80::1:2', 'fe80::1:2'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('converts %s to bytes and back', (ip, text) => {
    const bytes = ipToBytes(ip)!;
    expect(bytes.length).toBe(16);
    expect(bytesToIp(bytes)).toBe(text);
  });

  it('encodes IPv4 in 6 bytes and IPv6 in 18, and decodes lists', () => {
    const v4 = encodeCompactPeer('10.1.2.3', 6881)!;
    const v6 = encodeCompactPeer('2001:db8::1', 443)!;
    expect(v4.toString('hex')).toBe('0a0102031ae1');
    expect(v6.length).toBe(18);
    expect(decodeCompactPeers(Buffer.concat([v4, v4]), 4)).toEqual([
      { ip: '10.1.2.3', port: 6881 },
      { ip: '10.1.2.3', port: 6881 },
    ]);
    expect(decodeCompactPeers(v6, 16)).toEqual([{ ip: '2001:db8::1', port: 443 }]);
    expect(encodeCompactPeer('not-an-ip', 1)).toBeUndefined();
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('bitmap extension encoding', () => {
  it('uses one character for all and none', () => {
    expect(
      encodeBitmap(
        bitfieldOf(1000, () => true),
        1000,
      ),
    ).toBe('1');
    expect(
      encodeBitmap(
        bitfieldOf(1000, () => false),
        1000,
      ),
    ).toBe('0');
  });

  it('codes a prefix as runs of a few bytes', () => {
    const encoded = encodeBitmap(
      bitfieldOf(20_000, (i) => i < 5000),
      20_000,
    );
    expect(encoded[0]).toBe('r');
    expect(encoded.length).toBeLessThan(8);
  });

  it('compresses a random half-full bitmap no worse than raw', () => {
    const bitfield = bitfieldOf(50_000, () => Math.random() < 0.5);
    const encoded = encodeBitmap(bitfield, 50_000);
    expect(encoded.length).toBeLessThanOrEqual(1 + Math.ceil((bitfield.length * 4) / 3));
  });

  it.each([
    ['all', 77, () => true],
    ['none', 77, () => false],
    ['prefix', 10_001, (i: number) => i < 4000],
    ['suffix', 10_001, (i: number) => i >= 9000],
    ['sparse', 65_536, (i: number) => i % 997 === 0],
    ['alternating', 4097, (i: number) => i % 2 === 0],
    ['random', 33_333, () => Math.random() < 0.3],
    ['one piece', 1, () => true],
    ['last piece', 9, (i: number) => i === 8],
  ])('round-trips %s', (_name, pieceCount, held) => {
    const bitfield = bitfieldOf(pieceCount, held as (i: number) => boolean);
    const decoded = decodeBitmap(encodeBitmap(bitfield, pieceCount), pieceCount);
    expect(Buffer.from(decoded).equals(Buffer.from(bitfield))).toBe(true);
  });

  it('decodes every form explicitly', () => {
    const bitfield = bitfieldOf(20, (i) => i >= 3 && i < 10);
    expect(decodeBitmap(`b${Buffer.from(bitfield).toString('base64url')}`, 20)).toEqual(bitfield);
    expect(decodeBitmap(`z${deflateRawSync(bitfield).toString('base64url')}`, 20)).toEqual(bitfield);
    expect(decodeBitmap(`r${Buffer.from([3, 7]).toString('base64url')}`, 20)).toEqual(bitfield);
  });

  it.each([
    ['unknown form', 'x', /unknown bitmap form/],
    ['empty', '', /unknown bitmap form/],
    ['data after 1', '1AA', /takes no data/],
    ['not base64url', 'b+/==', /base64url/],
    ['raw of the wrong size', `b${Buffer.alloc(2).toString('base64url')}`, /must be 3 bytes/],
    ['spare bits set', `b${Buffer.from([0, 0, 0x0f]).toString('base64url')}`, /past the last piece/],
    ['runs past the end', `r${Buffer.from([10, 20]).toString('base64url')}`, /more than 20 pieces/],
    ['empty run in the middle', `r${Buffer.from([1, 0, 1]).toString('base64url')}`, /empty run/],
    ['run cut short', `r${Buffer.from([0x81]).toString('base64url')}`, /inside a number/],
    ['bad deflate', 'zAAAA', /inflate/],
  ])('rejects %s', (_name, value, message) => {
    expect(() => decodeBitmap(value, 20)).toThrow(BitmapError);
    expect(() => decodeBitmap(value, 20)).toThrow(message);
  });

  it('stops a DEFLATE bomb at the bitmap size', () => {
    const bomb = deflateRawSync(Buffer.alloc(50 * 1024 * 1024));
    expect(() => decodeBitmap(`z${bomb.toString('base64url')}`, 80)).toThrow(BitmapError);
  });

  it('sets bit ranges across byte boundaries', () => {
    const bytes = new Uint8Array(4);
    setBitRange(bytes, 3, 29);
    expect(countBits(bytes)).toBe(26);
    expect(Buffer.from(bytes).toString('hex')).toBe('1ffffff8');
  });
});

describe('announce messages', () => {
  it('puts the extension after the standard parameters, and can leave the bitmap out', () => {
    const params = {
      infoHash: Buffer.alloc(20, 1),
      peerId: Buffer.alloc(20, 0x41),
      port: 6881,
      uploaded: 0,
      downloaded: 0,
      left: 10,
      event: 'started' as const,
      extension: { pieceCount: 8, size: 100, bitmap: 'rAQ', urls: ['http://edge:8080'] },
    };
    const query = announceQuery(params);
    expect(query).toContain('info_hash=%01%01');
    expect(query).toMatch(/&ep=1&ep_pieces=8&ep_size=100&ep_bm=rAQ&ep_url=http%3A%2F%2Fedge%3A8080$/);
    expect(announceQuery(params, false)).not.toContain('ep_bm');
  });

  it('reads dictionary peers, compact peers6, url-list as a string, and BEP 31 retry in', () => {
    const answer = readAnnounceResult(
      decodeBencode(
        encodeBencode({
          peers: [{ ip: '10.0.0.1', port: 1, 'peer id': Buffer.alloc(20) }, { ip: 'x' }],
          peers6: encodeCompactPeer('::1', 2)!,
          'url-list': 'http://a/',
          interval: 60,
        }),
      ) as never,
    );
    expect(answer.peers.map((peer) => `${peer.ip}:${peer.port}`)).toEqual(['10.0.0.1:1', '::1:2']);
    expect(answer.urlList).toEqual(['http://a/']);
    const failure = readAnnounceResult(
      decodeBencode(encodeBencode({ 'failure reason': 'no', 'retry in': 'never' })) as never,
    );
    expect(failure).toMatchObject({ failureReason: 'no', retryIn: 'never' });
  });
});

describe('CDN URIs', () => {
  it('derives the object (BEP 19) and piece URLs from a base URL', () => {
    expect(objectUrl('http://edge:8080/', 'ab')).toBe('http://edge:8080/objects/ab/');
    expect(pieceUrlPattern('http://edge:8080', 'ab')).toBe('http://edge:8080/pieces/ab/{index}');
    expect(checkCdnUrl('http://edge:8080/cdn/')).toBe('http://edge:8080/cdn');
    expect(checkCdnUrl('ftp://edge/')).toBeUndefined();
    expect(checkCdnUrl('http://edge/?q=1')).toBeUndefined();
    expect(checkCdnUrl(`http://e/${'a'.repeat(600)}`)).toBeUndefined();
  });
});

describe('UDP packets', () => {
  it('carries the extension in BEP 41 URL data, split into 255-byte options', () => {
    const urlData = `/announce?ep=1&ep_bm=b${'A'.repeat(600)}`;
    const packet = announceRequest({
      connectionId: Buffer.alloc(8, 7),
      transactionId: 42,
      infoHash: Buffer.alloc(20, 1),
      peerId: Buffer.alloc(20, 2),
      downloaded: 5,
      left: 2 ** 40,
      uploaded: 6,
      event: 'completed',
      ip: 0,
      key: 9,
      numWant: -1,
      port: 6881,
      urlData,
    });
    const parsed = parseAnnounceRequest(packet);
    expect(parsed).toMatchObject({
      transactionId: 42,
      left: 2 ** 40,
      event: 'completed',
      numWant: -1,
      port: 6881,
      urlData,
    });
    expect(parseUrlDataOptions(Buffer.from([1, 1, 2, 2, 0x61, 0x62, 0]))).toBe('ab');
    expect(parseUrlDataOptions(Buffer.from([2, 200, 0x61]))).toBe('a');
    expect(parseUrlDataOptions(Buffer.from([9, 1, 2]))).toBeUndefined();
  });
});
