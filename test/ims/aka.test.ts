import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AkaSession, akaKeys, milenage, opcFromOp } from '../../src/ims/aka.ts';
import { digestResponse } from '../../src/ims/digest.ts';
import { createRegistration, type Registration, type RegistrationState } from '../../src/ims/index.ts';
import { headerValue, type SipRequest } from '../../src/ims/message.ts';
import { parseChallenge, parseNameAddr } from '../../src/ims/syntax.ts';
import { type FakeRegistrar, respond, startFakeRegistrar } from './fake-registrar.ts';

const hex = (text: string) => Buffer.from(text.replace(/\s/g, ''), 'hex');

// 3GPP TS 35.208 section 4, test sets 1 and 2.
const SETS = [
  {
    k: '465b5ce8b199b49faa5f0a2ee238a6bc',
    rand: '23553cbe9637a89d218ae64dae47bf35',
    sqn: 'ff9bb4d0b607',
    amf: 'b9b9',
    op: 'cdc202d5123e20f62b6d676ac72cb318',
    opc: 'cd63cb71954a9f4e48a5994e37a02baf',
    f1: '4a9ffac354dfafb3',
    f1star: '01cfaf9ec4e871e9',
    f2: 'a54211d5e3ba50bf',
    f5: 'aa689c648370',
    f3: 'b40ba9a3c58b2a05bbf0d987b21bf8cb',
    f4: 'f769bcd751044604127672711c6d3441',
    f5star: '451e8beca43b',
  },
  {
    k: '0396eb317b6d1c36f19c1c84cd6ffd16',
    rand: 'c00d603103dcee52c4478119494202e8',
    sqn: 'fd8eef40df7d',
    amf: 'af17',
    op: 'ff53bade17df5d4e793073ce9d7579fa',
    opc: '53c15671c60a4b731c55b4a441c0bde2',
    f1: '5df5b31807e258b0',
    f1star: 'a8c016e51ef4a343',
    f2: 'd3a628ed988620f0',
    f5: 'c47783995f72',
    f3: '58c433ff7a7082acd424220f2b67c556',
    f4: '21a8c1f929702adb3e738488b9f5c5da',
    f5star: '30f1197061c1',
  },
];

describe('Milenage (TS 35.206) against the TS 35.208 test sets', () => {
  it.each(SETS.map((set, i) => [i + 1, set] as const))('test set %i', (_n, set) => {
    expect(opcFromOp(hex(set.k), hex(set.op)).toString('hex')).toBe(set.opc);
    const out = milenage(hex(set.k), hex(set.opc), hex(set.rand), hex(set.sqn), hex(set.amf));
    expect(out.macA.toString('hex')).toBe(set.f1);
    expect(out.macS.toString('hex')).toBe(set.f1star);
    expect(out.res.toString('hex')).toBe(set.f2);
    expect(out.ck.toString('hex')).toBe(set.f3);
    expect(out.ik.toString('hex')).toBe(set.f4);
    expect(out.ak.toString('hex')).toBe(set.f5);
    expect(out.akStar.toString('hex')).toBe(set.f5star);
  });

  it('checks keys', () => {
    expect(() => akaKeys({ k: 'abc', opc: SETS[0]!.opc })).toThrow(/aka\.k/);
    expect(() => akaKeys({ k: SETS[0]!.k })).toThrow(/exactly one/);
    expect(akaKeys({ k: SETS[0]!.k, op: SETS[0]!.op }).opc.toString('hex')).toBe(SETS[0]!.opc);
  });
});

/** The network side (HSS + S-CSCF) of AKA: nonce = base64(RAND || AUTN), XRES. */
function vector(set: (typeof SETS)[0], sqn: Buffer) {
  const rand = randomBytes(16);
  const amf = hex('8000');
  const out = milenage(hex(set.k), hex(set.opc), rand, sqn, amf);
  const sqnXorAk = Buffer.from(sqn.map((b, i) => b ^ out.ak[i]!));
  const autn = Buffer.concat([sqnXorAk, amf, out.macA]);
  return { rand, nonce: Buffer.concat([rand, autn]).toString('base64'), xres: out.res };
}

describe('AkaSession (the ISIM side)', () => {
  const keys = akaKeys({ k: SETS[0]!.k, opc: SETS[0]!.opc });

  it('answers with RES, refuses a bad MAC, asks to resynchronise on an old SQN', () => {
    const session = new AkaSession(keys);
    const v = vector(SETS[0]!, hex('000000000010'));
    const first = session.answer(v.nonce);
    expect(first.kind).toBe('answer');
    expect(first.kind === 'answer' && first.res.equals(v.xres)).toBe(true);

    const other = akaKeys({ k: SETS[1]!.k, opc: SETS[1]!.opc });
    expect(new AkaSession(other).answer(v.nonce).kind).toBe('mac-failure');
    expect(session.answer('dG9vIHNob3J0').kind).toBe('mac-failure');

    const replay = vector(SETS[0]!, hex('000000000010'));
    const outcome = session.answer(replay.nonce);
    expect(outcome.kind).toBe('resync');
    // The network recovers SQN_MS from AUTS with f5* and checks MAC-S with f1* (TS 33.102 6.3.5).
    const auts = Buffer.from(outcome.kind === 'resync' ? outcome.auts : '', 'base64');
    const net = milenage(keys.k, keys.opc, replay.rand, Buffer.alloc(6), Buffer.alloc(2));
    const sqnMs = Buffer.from(auts.subarray(0, 6).map((b, i) => b ^ net.akStar[i]!));
    expect(sqnMs.toString('hex')).toBe('000000000010');
    expect(milenage(keys.k, keys.opc, replay.rand, sqnMs, Buffer.alloc(2)).macS.equals(auts.subarray(6))).toBe(true);
  });
});

describe('registration with IMS AKA (AKAv1-MD5, RFC 3310)', () => {
  let fake: FakeRegistrar | undefined;
  let registration: Registration | undefined;
  afterEach(async () => {
    await registration?.stop();
    await fake?.close();
  });

  it('registers, then resynchronises when the network replays an old SQN, answering with RES', async () => {
    const set = SETS[0]!;
    let current: { nonce: string; xres: Buffer } | undefined;
    let registered = 0;
    let autsSeen = 0;
    fake = await startFakeRegistrar('127.0.0.1', (request: SipRequest, reply) => {
      const params = parseChallenge(headerValue(request, 'authorization')!).params;
      const challenge = (sqn: Buffer) => {
        current = vector(set, sqn);
        reply(
          respond(request, '401 Unauthorized', [
            `WWW-Authenticate: Digest realm="ims.test", nonce="${current.nonce}", algorithm=AKAv1-MD5, qop="auth,auth-int"`,
          ]),
        );
      };
      const auts = params.get('auts');
      if (auts) {
        // Resynchronise (TS 33.102 6.3.5): recover SQN_MS with f5*, check MAC-S, go on from SQN_MS + 1.
        autsSeen++;
        const data = Buffer.from(auts, 'base64');
        const rand = Buffer.from(params.get('nonce')!, 'base64').subarray(0, 16);
        const net = milenage(hex(set.k), hex(set.opc), rand, Buffer.alloc(6), Buffer.alloc(2));
        const sqnMs = Buffer.from(data.subarray(0, 6).map((b, i) => b ^ net.akStar[i]!));
        const check = milenage(hex(set.k), hex(set.opc), rand, sqnMs, Buffer.alloc(2)).macS;
        if (!check.equals(data.subarray(6))) return reply(respond(request, '403 Bad AUTS'));
        return challenge(hex((BigInt(`0x${sqnMs.toString('hex')}`) + 1n).toString(16).padStart(12, '0')));
      }
      if (!current || params.get('nonce') !== current.nonce) return challenge(hex('000000000005'));
      const good = digestResponse({
        algorithm: 'AKAv1-MD5',
        username: 'edge1@ims.test',
        password: current.xres,
        realm: 'ims.test',
        nonce: current.nonce,
        cnonce: params.get('cnonce')!,
        nc: Number.parseInt(params.get('nc')!, 16),
        qop: 'auth',
        method: 'REGISTER',
        uri: params.get('uri')!,
      });
      if (params.get('response') !== good) return reply(respond(request, '403 Forbidden'));
      // After the first registration, challenge the refresh with a replayed (older) SQN.
      if (registered === 1 && autsSeen === 0) return challenge(hex('000000000003'));
      registered++;
      const uri = parseNameAddr(headerValue(request, 'contact')!).uri;
      reply(respond(request, '200 OK', [`Contact: <${uri}>;expires=1`]));
    });
    registration = createRegistration({
      registrar: `sip:127.0.0.1:${fake.port}`,
      impi: 'edge1@ims.test',
      impu: 'sip:edge1@ims.test',
      aka: { k: set.k, op: set.op },
      timers: { t1Ms: 20 },
    });
    expect((await registration.start()).registered).toBe(true);
    const refreshed = await new Promise<RegistrationState>((resolve) => registration!.once('registered', resolve));
    expect(refreshed.counters).toMatchObject({ registrations: 1, refreshes: 1, failures: 0 });
    expect(autsSeen).toBe(1);
  });

  it('fails for good when the network does not authenticate (MAC mismatch)', async () => {
    fake = await startFakeRegistrar('127.0.0.1', (request, reply) => {
      const v = vector(SETS[1]!, hex('000000000001')); // another subscriber's keys
      reply(
        respond(request, '401 Unauthorized', [
          `WWW-Authenticate: Digest realm="r", nonce="${v.nonce}", algorithm=AKAv1-MD5, qop="auth"`,
        ]),
      );
    });
    registration = createRegistration({
      registrar: `sip:127.0.0.1:${fake.port}`,
      impi: 'edge1@ims.test',
      impu: 'sip:edge1@ims.test',
      aka: { k: SETS[0]!.k, opc: SETS[0]!.opc },
      timers: { t1Ms: 20 },
    });
    const state = await registration.start();
    expect(state).toMatchObject({ status: 'failed', lastError: { code: 'EDGEPEER_SIP_AUTH_REFUSED' } });
    expect(state.lastError?.message).toMatch(/AUTN/);
  });
});
