import { createHash, randomBytes } from 'node:crypto';
import { SipError } from '../errors/index.ts';
import { parseChallenge, quote } from './syntax.ts';

// HTTP digest authentication as SIP uses it (RFC 3261 22.4, RFC 2617, RFC 7616): the client half.

const HASHES = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  'SHA-512-256': 'sha512-256',
} as const;

type BaseAlgorithm = keyof typeof HASHES;

/** Algorithms we answer, strongest first (RFC 7616 3.7: prefer the strongest offered). */
export const SUPPORTED_ALGORITHMS = [
  'SHA-512-256',
  'SHA-512-256-sess',
  'SHA-256',
  'SHA-256-sess',
  'MD5',
  'MD5-sess',
] as const;

export type DigestAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

export interface DigestChallenge {
  /** Where it came from: a 401's WWW-Authenticate or a 407's Proxy-Authenticate. */
  header: 'www-authenticate' | 'proxy-authenticate';
  realm: string;
  nonce: string;
  opaque?: string;
  /** As the server wrote it, e.g. 'MD5' (the default when absent) or 'AKAv1-MD5'. */
  algorithm: string;
  /** qop options offered, lowercased; empty for an RFC 2069 challenge. */
  qop: string[];
  stale: boolean;
  userhash: boolean;
}

/** Parses one challenge header value; undefined when it is not a Digest challenge. */
export function parseDigestChallenge(
  value: string,
  header: DigestChallenge['header'] = 'www-authenticate',
): DigestChallenge | undefined {
  const { scheme, params } = parseChallenge(value);
  if (scheme !== 'digest') return undefined;
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || nonce === undefined) {
    throw new SipError('EDGEPEER_SIP_MALFORMED', 'digest challenge without realm or nonce');
  }
  const opaque = params.get('opaque');
  return {
    header,
    realm,
    nonce,
    ...(opaque === undefined ? {} : { opaque }),
    algorithm: params.get('algorithm') ?? 'MD5',
    qop: (params.get('qop') ?? '')
      .split(',')
      .map((q) => q.trim().toLowerCase())
      .filter((q) => q !== ''),
    stale: (params.get('stale') ?? '').toLowerCase() === 'true',
    userhash: (params.get('userhash') ?? '').toLowerCase() === 'true',
  };
}

export function isSupportedAlgorithm(algorithm: string): algorithm is DigestAlgorithm {
  return (SUPPORTED_ALGORITHMS as readonly string[]).includes(canonicalAlgorithm(algorithm));
}

/** Algorithm names are case-insensitive; gives our spelling. */
export function canonicalAlgorithm(algorithm: string): string {
  return SUPPORTED_ALGORITHMS.find((a) => a.toLowerCase() === algorithm.toLowerCase()) ?? algorithm;
}

/** The strongest challenge we can answer, or undefined. `extra` lets AKA add its algorithm names. */
export function pickChallenge(
  challenges: DigestChallenge[],
  accepts: (challenge: DigestChallenge) => boolean = (c) => isSupportedAlgorithm(c.algorithm),
): DigestChallenge | undefined {
  const usable = challenges.filter((c) => accepts(c) && (c.qop.length === 0 || c.qop.some(isSupportedQop)));
  const rank = (c: DigestChallenge) => {
    const i = (SUPPORTED_ALGORITHMS as readonly string[]).indexOf(canonicalAlgorithm(c.algorithm));
    return i < 0 ? -1 : i; // AKA (not in the list) first: a server offering it wants it.
  };
  return usable.sort((a, b) => rank(a) - rank(b))[0];
}

function isSupportedQop(qop: string): boolean {
  return qop === 'auth' || qop === 'auth-int';
}

export interface DigestInput {
  algorithm: string;
  username: string;
  /** The password; for AKA the RES octets. */
  password: string | Buffer;
  realm: string;
  nonce: string;
  cnonce: string;
  nc: number;
  /** Chosen qop, or undefined for an RFC 2069 challenge without qop. */
  qop?: 'auth' | 'auth-int';
  method: string;
  uri: string;
  body?: Buffer;
}

function baseOf(algorithm: string): { hash: string; sess: boolean } {
  const canonical = canonicalAlgorithm(algorithm);
  // AKAv1-MD5 / AKAv2-MD5 (RFC 3310, 4169) are MD5 digest with the AKA result as password.
  if (/^akav[12]-md5$/i.test(algorithm)) return { hash: 'md5', sess: false };
  const sess = canonical.endsWith('-sess');
  const base = (sess ? canonical.slice(0, -5) : canonical) as BaseAlgorithm;
  const hash = HASHES[base];
  if (!hash) throw new SipError('EDGEPEER_SIP_AUTH_UNSUPPORTED', `digest algorithm ${algorithm} is not supported`);
  return { hash, sess };
}

function hex(hash: string, ...parts: Array<string | Buffer>): string {
  const h = createHash(hash);
  parts.forEach((part, i) => {
    if (i > 0) h.update(':');
    h.update(part);
  });
  return h.digest('hex');
}

export function formatNc(nc: number): string {
  return nc.toString(16).padStart(8, '0');
}

/** The request-digest (RFC 7616 3.4.1, RFC 2617 3.2.2.1), lowercase hex. */
export function digestResponse(input: DigestInput): string {
  const { hash, sess } = baseOf(input.algorithm);
  let ha1 = hex(hash, input.username, input.realm, input.password);
  if (sess) ha1 = hex(hash, ha1, input.nonce, input.cnonce);
  const ha2 =
    input.qop === 'auth-int'
      ? hex(hash, input.method, input.uri, hex(hash, input.body ?? Buffer.alloc(0)))
      : hex(hash, input.method, input.uri);
  if (input.qop === undefined) return hex(hash, ha1, input.nonce, ha2);
  return hex(hash, ha1, input.nonce, formatNc(input.nc), input.cnonce, input.qop, ha2);
}

/** The username as sent: hashed with the realm when the server asked for userhash (RFC 7616 3.4.4). */
export function userhash(algorithm: string, username: string, realm: string): string {
  return hex(baseOf(algorithm).hash, username, realm);
}

export function newCnonce(): string {
  return randomBytes(12).toString('base64url');
}

export interface Credentials {
  username: string;
  password: string | Buffer;
}

export interface AuthorizationParams {
  method: string;
  uri: string;
  cnonce: string;
  nc: number;
  body?: Buffer;
  /** Extra parameters, unquoted-or-quoted as given (AKA's auts). */
  extra?: Array<[string, string]>;
}

/** The Authorization / Proxy-Authorization value answering `challenge`. */
export function authorizationValue(
  challenge: DigestChallenge,
  credentials: Credentials,
  request: AuthorizationParams,
): string {
  const qop = challenge.qop.includes('auth') ? 'auth' : challenge.qop.includes('auth-int') ? 'auth-int' : undefined;
  const response = digestResponse({
    algorithm: challenge.algorithm,
    username: credentials.username,
    password: credentials.password,
    realm: challenge.realm,
    nonce: challenge.nonce,
    cnonce: request.cnonce,
    nc: request.nc,
    qop,
    method: request.method,
    uri: request.uri,
    body: request.body,
  });
  const username = challenge.userhash
    ? userhash(challenge.algorithm, credentials.username, challenge.realm)
    : credentials.username;
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(request.uri)}`,
    `response=${quote(response)}`,
    `algorithm=${challenge.algorithm}`,
  ];
  if (qop !== undefined) parts.push(`cnonce=${quote(request.cnonce)}`, `qop=${qop}`, `nc=${formatNc(request.nc)}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  if (challenge.userhash) parts.push('userhash=true');
  for (const [name, value] of request.extra ?? []) parts.push(`${name}=${value}`);
  return `Digest ${parts.join(', ')}`;
}

/**
 * The Authorization of an initial REGISTER before any challenge (TS 24.229 5.1.1.2.1): it carries the private
 * identity so the S-CSCF knows whom to challenge, with empty nonce and response.
 */
export function initialAuthorizationValue(username: string, realm: string, uri: string): string {
  return `Digest username=${quote(username)}, realm=${quote(realm)}, uri=${quote(uri)}, nonce="", response=""`;
}
