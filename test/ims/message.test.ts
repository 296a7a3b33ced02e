import { describe, expect, it } from 'vitest';
import { SipError } from '../../src/errors/index.ts';
import {
  headerLines,
  headerValue,
  parseMessage,
  type SipResponse,
  SipStreamDecoder,
  serializeRequest,
  tryParse,
} from '../../src/ims/message.ts';
import { parseChallenge, parseNameAddrList, parseVia, splitList } from '../../src/ims/syntax.ts';

const OK = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport=5070;received=127.0.0.1',
  'From: <sip:alice@ims.test>;tag=1',
  'To: <sip:alice@ims.test>;tag=2',
  'Call-ID: c1@edgepeer',
  'CSeq: 7 REGISTER',
  'Contact: <sip:alice@127.0.0.1:5070>;expires=60;+sip.instance="<urn:uuid:1>", "Other, Inc" <sip:x@h>;expires=10',
  'Service-Route: <sip:orig@scscf.test;lr>',
  'P-Associated-URI: <sip:alice@ims.test>, <tel:+15550100>',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

function expectMalformed(data: Buffer | string, why?: RegExp): void {
  const result = tryParse(Buffer.from(data), true);
  expect(result).toBeInstanceOf(SipError);
  expect((result as SipError).code).toBe('EDGEPEER_SIP_MALFORMED');
  if (why) expect((result as SipError).message).toMatch(why);
}

describe('parseMessage', () => {
  it('parses a registrar 200 OK', () => {
    const message = parseMessage(Buffer.from(OK)) as SipResponse;
    expect(message).toMatchObject({ kind: 'response', status: 200, reason: 'OK' });
    expect(headerValue(message, 'CSeq')).toBe('7 REGISTER');
    const contacts = parseNameAddrList(headerLines(message, 'contact'));
    expect(contacts.map((c) => c.uri)).toEqual(['sip:alice@127.0.0.1:5070', 'sip:x@h']);
    expect(contacts[0]!.params.get('+sip.instance')).toBe('<urn:uuid:1>');
    expect(contacts[1]!.display).toBe('Other, Inc');
    expect(parseNameAddrList(headerLines(message, 'p-associated-uri')).map((c) => c.uri)).toEqual([
      'sip:alice@ims.test',
      'tel:+15550100',
    ]);
  });

  it('expands compact names, unfolds continuation lines, accepts bare LF and leading CRLF', () => {
    const text =
      '\r\n\r\nSIP/2.0 401 Unauthorized\nv: SIP/2.0/TCP [::1]:5;branch=z9hG4bKx\nf: <sip:a@b>;tag=1\nt: <sip:a@b>\ni: x\n' +
      'CSeq: 1 REGISTER\nWWW-Authenticate: Digest realm="b",\n  nonce="n1"\nl: 0\n\n';
    const message = parseMessage(Buffer.from(text));
    expect(headerValue(message, 'via')).toBe('SIP/2.0/TCP [::1]:5;branch=z9hG4bKx');
    expect(headerValue(message, 'www-authenticate')).toBe('Digest realm="b", nonce="n1"');
    expect(parseVia(headerValue(message, 'v')!)).toMatchObject({ transport: 'TCP', host: '::1', port: 5 });
  });

  it('cuts a datagram body at Content-Length and takes the rest when it is missing', () => {
    const withBody = OK.replace('Content-Length: 0', 'Content-Length: 3') + 'abcdef';
    expect(parseMessage(Buffer.from(withBody)).body.toString()).toBe('abc');
    const noLength = OK.replace('Content-Length: 0\r\n', '') + 'xyz';
    expect(parseMessage(Buffer.from(noLength)).body.toString()).toBe('xyz');
  });

  it('parses requests (OPTIONS keep-alives from the registrar)', () => {
    const text = OK.replace('SIP/2.0 200 OK', 'OPTIONS sip:alice@127.0.0.1:5070 SIP/2.0').replace(
      '7 REGISTER',
      '1 OPTIONS',
    );
    expect(parseMessage(Buffer.from(text))).toMatchObject({ kind: 'request', method: 'OPTIONS' });
  });

  it.each([
    ['', /empty/],
    ['\r\n\r\n', /empty/],
    ['SIP/2.0 200 OK\r\nVia: x', /no blank line/],
    ['HTTP/1.1 200 OK\r\n\r\n', /start line/],
    ['SIP/2.0 99 Low\r\n\r\n', /start line/],
    ['SIP/2.0 700 High\r\n\r\n', /start line/],
  ])('drops %j', (text, why) => expectMalformed(text, why));

  it('drops messages missing core headers, with bad CSeq or Content-Length, or truncated bodies', () => {
    expectMalformed(OK.replace(/Call-ID: .*\r\n/, ''), /call-id/);
    expectMalformed(OK.replace('CSeq: 7 REGISTER', 'CSeq: seven REGISTER'), /CSeq/);
    expectMalformed(OK.replace('CSeq: 7 REGISTER', 'CSeq: 99999999999 REGISTER'), /CSeq/);
    expectMalformed(OK.replace('Content-Length: 0', 'Content-Length: -1'), /Content-Length/);
    expectMalformed(OK.replace('Content-Length: 0', 'Content-Length: 10'), /truncated/);
    expectMalformed(OK.replace('Content-Length: 0', 'Content-Length: 0\r\nl: 0'), /more than one/);
    expectMalformed(OK.replace('Call-ID: c1@edgepeer', 'Call-ID c1'), /header line/);
    expectMalformed(`SIP/2.0 200 OK\r\n folded-first\r\n\r\n`, /continuation/);
    expectMalformed(Buffer.alloc(70_000, 0x41), /more than/);
    expectMalformed(
      OK.replace('CSeq: 7 REGISTER', Array.from({ length: 300 }, (_, i) => `X-${i}: y`).join('\r\n')),
      /headers/,
    );
  });

  it('serialises a request with Via first and a Content-Length, and refuses header injection', () => {
    const data = serializeRequest(
      { method: 'REGISTER', uri: 'sip:ims.test', headers: [['To', '<sip:a@b>']] },
      'SIP/2.0/UDP h',
    );
    expect(data.toString()).toBe(
      'REGISTER sip:ims.test SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:a@b>\r\nContent-Length: 0\r\n\r\n',
    );
    expect(() =>
      serializeRequest({ method: 'REGISTER', uri: 'sip:x', headers: [['X', 'a\r\nEvil: 1']] }, 'SIP/2.0/UDP h'),
    ).toThrow(SipError);
  });
});

describe('header value grammar', () => {
  it('splits lists outside quotes and brackets', () => {
    expect(splitList('<sip:a;x=1,2>, "b,c" <sip:b>, sip:c')).toEqual(['<sip:a;x=1,2>', '"b,c" <sip:b>', 'sip:c']);
    expect(() => splitList('"open')).toThrow(SipError);
  });

  it('reads challenges with quoted commas and escapes', () => {
    const c = parseChallenge('Digest realm="a,b", nonce="x\\"y" , qop="auth,auth-int",algorithm=MD5');
    expect(c.scheme).toBe('digest');
    expect(Object.fromEntries(c.params)).toEqual({
      realm: 'a,b',
      nonce: 'x"y',
      qop: 'auth,auth-int',
      algorithm: 'MD5',
    });
    expect(() => parseChallenge('Digest realm')).toThrow(SipError);
    expect(() => parseChallenge('Digest realm="x')).toThrow(SipError);
  });

  it('rejects bad Via and name-addr', () => {
    expect(() => parseVia('SIP/2.0 host')).toThrow(SipError);
    expect(() => parseVia('SIP/2.0/UDP host:99999')).toThrow(SipError);
    expect(() => parseNameAddrList(['<sip:a'])).toThrow(SipError);
    expect(() => parseNameAddrList(['<>'])).toThrow(SipError);
  });
});

describe('SipStreamDecoder', () => {
  it('frames messages split at every byte, skipping CRLF keep-alives', () => {
    const stream = Buffer.from(`\r\n\r\n${OK}\r\n${OK.replace('Content-Length: 0', 'Content-Length: 2')}hi`);
    const decoder = new SipStreamDecoder();
    const out = [];
    for (let i = 0; i < stream.length; i++) out.push(...decoder.push(stream.subarray(i, i + 1)));
    expect(out.map((m) => (m as SipResponse).status)).toEqual([200, 200]);
    expect((out[1] as SipResponse).body.toString()).toBe('hi');
    expect(decoder.pending).toBe(0);
  });

  it('hands back a well-framed bad message as an error and goes on', () => {
    const bad = OK.replace(/Call-ID: .*\r\n/, '');
    const out = new SipStreamDecoder().push(Buffer.from(bad + OK));
    expect(out[0]).toBeInstanceOf(SipError);
    expect((out[1] as SipResponse).status).toBe(200);
  });

  it('throws when the stream cannot be framed', () => {
    expect(() => new SipStreamDecoder().push(Buffer.from(OK.replace('Content-Length: 0\r\n', '')))).toThrow(
      /Content-Length/,
    );
    expect(() => new SipStreamDecoder().push(Buffer.alloc(70_000, 0x41))).toThrow(/too long/);
    expect(() =>
      new SipStreamDecoder().push(Buffer.from(OK.replace('Content-Length: 0', 'Content-Length: 99999'))),
    ).toThrow(/too large/);
  });
});

describe('fuzz: hostile input never crashes the parser', () => {
  // A seeded generator keeps failures reproducible.
  function rng(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const NASTY = [
    '\r\n',
    '\n',
    '\r',
    ':',
    ';',
    ',',
    '"',
    '\\',
    '<',
    '>',
    '=',
    ' ',
    '\t',
    '\0',
    '[',
    ']',
    '@',
    'é',
    '\u2028',
  ];

  function mutate(base: Buffer, random: () => number): Buffer {
    let data = Buffer.from(base);
    const edits = 1 + Math.floor(random() * 8);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(random() * (data.length + 1));
      const kind = Math.floor(random() * 5);
      if (kind === 0)
        data = data.subarray(0, at); // truncate
      else if (kind === 1 && data.length > 0) data[Math.min(at, data.length - 1)] = Math.floor(random() * 256);
      else if (kind === 2) {
        const insert = Buffer.from(NASTY[Math.floor(random() * NASTY.length)]!.repeat(1 + Math.floor(random() * 40)));
        data = Buffer.concat([data.subarray(0, at), insert, data.subarray(at)]);
      } else if (kind === 3) {
        const len = Math.floor(random() * 30);
        data = Buffer.concat([data.subarray(0, at), data.subarray(Math.min(data.length, at + len))]);
      } else {
        const chunk = data.subarray(at, at + Math.floor(random() * 200));
        data = Buffer.concat([data.subarray(0, at), chunk, chunk, data.subarray(at)]);
      }
    }
    return data;
  }

  it('20000 mutated responses: parse, read every header, frame as a stream', () => {
    const random = rng(6);
    const seeds = [
      Buffer.from(OK),
      Buffer.from(OK.replace('SIP/2.0 200 OK', 'SIP/2.0 401 Unauthorized') + ''),
      Buffer.from(
        OK.replace(
          'Content-Length: 0',
          'WWW-Authenticate: Digest realm="ims.test", nonce="abc", qop="auth", stale=true\r\nContent-Length: 0',
        ),
      ),
    ];
    let parsed = 0;
    const started = Date.now();
    for (let i = 0; i < 20_000; i++) {
      const data = mutate(seeds[i % seeds.length]!, random);
      const result = tryParse(data, true);
      if (!(result instanceof SipError)) {
        parsed++;
        for (const name of ['contact', 'service-route', 'p-associated-uri', 'www-authenticate', 'via']) {
          for (const line of headerLines(result, name)) {
            for (const read of [() => parseNameAddrList([line]), () => parseChallenge(line), () => parseVia(line)]) {
              try {
                read();
              } catch (err) {
                expect(err).toBeInstanceOf(SipError);
              }
            }
          }
        }
      }
      try {
        new SipStreamDecoder().push(data);
      } catch (err) {
        expect(err).toBeInstanceOf(SipError);
      }
    }
    // Some mutations must survive as valid messages, or the fuzzer tests nothing past the first line.
    expect(parsed).toBeGreaterThan(1000);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('random bytes are rejected as SipError', () => {
    const random = rng(42);
    for (let i = 0; i < 2000; i++) {
      const data = Buffer.from(Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256)));
      const result = tryParse(data, random() < 0.5);
      expect(result).toBeInstanceOf(SipError);
    }
  });
});
