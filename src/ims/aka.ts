import { createCipheriv, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../errors/index.ts';

// IMS AKA for digest (RFC 3310 AKAv1-MD5) with the Milenage functions of 3GPP TS 35.206: what an ISIM does
// with K and OPc, done in software. The nonce carries RAND and AUTN; the digest password is RES.

export interface MilenageOutput {
  /** f1: network authentication code. */
  macA: Buffer;
  /** f1*: resynchronisation authentication code. */
  macS: Buffer;
  /** f2 */
  res: Buffer;
  /** f3 */
  ck: Buffer;
  /** f4 */
  ik: Buffer;
  /** f5: anonymity key. */
  ak: Buffer;
  /** f5*: anonymity key for resynchronisation. */
  akStar: Buffer;
}

function aes(k: Buffer, block: Buffer): Buffer {
  const cipher = createCipheriv('aes-128-ecb', k, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Cyclic left rotation by whole bytes (Milenage's r constants are multiples of 8 bits). */
function rotate(block: Buffer, bits: number): Buffer {
  const bytes = bits / 8;
  return Buffer.concat([block.subarray(bytes), block.subarray(0, bytes)]);
}

function constant(lastByte: number): Buffer {
  const c = Buffer.alloc(16);
  c[15] = lastByte;
  return c;
}

/** OPc = AES_K(OP) xor OP (TS 35.206 4.1). */
export function opcFromOp(k: Buffer, op: Buffer): Buffer {
  return xor(aes(k, op), op);
}

/** Milenage f1-f5* (TS 35.206 4.1) with the standard constants r1..r5 and c1..c5. */
export function milenage(k: Buffer, opc: Buffer, rand: Buffer, sqn: Buffer, amf: Buffer): MilenageOutput {
  const temp = aes(k, xor(rand, opc));
  const in1 = Buffer.concat([sqn, amf, sqn, amf]);
  const out1 = xor(aes(k, xor(xor(temp, rotate(xor(in1, opc), 64)), constant(0))), opc);
  const out = (r: number, c: number) => xor(aes(k, xor(rotate(xor(temp, opc), r), constant(c))), opc);
  const out2 = out(0, 1);
  const out3 = out(32, 2);
  const out4 = out(64, 4);
  const out5 = out(96, 8);
  return {
    macA: out1.subarray(0, 8),
    macS: out1.subarray(8, 16),
    res: out2.subarray(8, 16),
    ck: out3,
    ik: out4,
    ak: out2.subarray(0, 6),
    akStar: out5.subarray(0, 6),
  };
}

export interface AkaKeys {
  k: Buffer;
  opc: Buffer;
}

/** Checks and decodes hex K with OP or OPc (32 hex digits each). */
export function akaKeys(config: { k: string; op?: string; opc?: string }): AkaKeys {
  const hex = (name: string, value: string | undefined) => {
    if (value === undefined || !/^[0-9a-fA-F]{32}$/.test(value)) {
      throw new InvalidArgumentError(`ims aka.${name} must be 32 hex digits (128 bits)`, { subject: `aka.${name}` });
    }
    return Buffer.from(value, 'hex');
  };
  const k = hex('k', config.k);
  if ((config.op === undefined) === (config.opc === undefined)) {
    throw new InvalidArgumentError('ims aka needs exactly one of op and opc', { subject: 'aka' });
  }
  const opc = config.opc !== undefined ? hex('opc', config.opc) : opcFromOp(k, hex('op', config.op));
  return { k, opc };
}

export type AkaOutcome =
  /** The network is authentic and the challenge fresh: answer with RES as the digest password. */
  | { kind: 'answer'; res: Buffer; ck: Buffer; ik: Buffer }
  /** SQN out of range: answer with auts (base64) and an empty password to resynchronise (RFC 3310 3.4). */
  | { kind: 'resync'; auts: string }
  /** AUTN did not verify: not our network, or wrong K/OPc. */
  | { kind: 'mac-failure' };

/**
 * The ISIM side of AKA. Keeps the highest SQN accepted (in memory) to refuse replays; the first challenge after a
 * restart is accepted whatever its SQN, which a persistent ISIM would not do.
 */
export class AkaSession {
  private readonly keys: AkaKeys;
  private highestSqn: Buffer | undefined;

  constructor(keys: AkaKeys, highestSqn?: Buffer) {
    this.keys = keys;
    this.highestSqn = highestSqn;
  }

  /** Runs AKA on a digest nonce: base64 of RAND (16) || AUTN (16) [|| server data]. */
  answer(nonce: string): AkaOutcome {
    const data = Buffer.from(nonce, 'base64');
    if (data.length < 32) return { kind: 'mac-failure' };
    const rand = data.subarray(0, 16);
    const autn = data.subarray(16, 32);
    const sqnXorAk = autn.subarray(0, 6);
    const amf = autn.subarray(6, 8);
    const mac = autn.subarray(8, 16);
    const { ak } = milenage(this.keys.k, this.keys.opc, rand, Buffer.alloc(6), amf);
    const sqn = xor(sqnXorAk, ak);
    const out = milenage(this.keys.k, this.keys.opc, rand, sqn, amf);
    if (!timingSafeEqual(out.macA, mac)) return { kind: 'mac-failure' };
    if (this.highestSqn !== undefined && Buffer.compare(sqn, this.highestSqn) <= 0) {
      // Resynchronisation (TS 33.102 6.3.5): AUTS = (SQN_MS xor AK*) || MAC-S, with the dummy AMF 0000.
      const resync = milenage(this.keys.k, this.keys.opc, rand, this.highestSqn, Buffer.alloc(2));
      const auts = Buffer.concat([xor(this.highestSqn, resync.akStar), resync.macS]);
      return { kind: 'resync', auts: auts.toString('base64') };
    }
    this.highestSqn = Buffer.from(sqn);
    return { kind: 'answer', res: out.res, ck: out.ck, ik: out.ik };
  }
}

export function isAkaAlgorithm(algorithm: string): boolean {
  return /^akav1-md5$/i.test(algorithm);
}
