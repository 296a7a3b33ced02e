// Signed CDN URI tokens, in the style of Akamai's EdgeAuth (Auth Token 2.0) and nginx's secure_link:
//   [ip=ADDR~]exp=UNIX~acl=PREFIX[!PREFIX...]~[sub=SUBSCRIBER~]kid=ID~hmac=HEX
// hmac is HMAC-SHA256, keyed by the key named `kid`, over everything before "~hmac=". `acl` holds path
// prefixes (an object's URL, all of its pieces `/pieces/<info hash>/`, or both); `exp` is in seconds since
// the epoch; `ip`, when present, is the only client address the token is good for.
// Plain functions over strings and bytes: no I/O, no state (keys.ts holds keys, gate.ts checks requests).
import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';

/** The one name of the token as a query parameter and a cookie (Akamai's default). */
export const TOKEN_NAME = '__token__';
/** The request header that may carry it instead. */
export const TOKEN_HEADER = 'x-edgepeer-token';

export interface TokenClaims {
  /** Expiry, seconds since the epoch. */
  expires: number;
  /** Path prefixes the token opens. */
  paths: string[];
  /** The client address it is bound to, if any. */
  address?: string;
  /** Who the token was issued to (an IMS public identity, an account): for accounting records. */
  subscriber?: string;
  keyId: string;
}

/** Why a token was not accepted: each is counted and logged, never the token itself. */
export type TokenRefusal =
  | 'missing'
  | 'malformed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'wrong_path'
  | 'wrong_address';

export const TOKEN_REFUSALS: readonly TokenRefusal[] = [
  'missing',
  'malformed',
  'unknown_key',
  'bad_signature',
  'expired',
  'wrong_path',
  'wrong_address',
];

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** A subscriber as a token carries it: an IMS public identity (sip:user@host, tel:+1...) or an account name. */
const SUBSCRIBER = /^[A-Za-z0-9._@:+-]{1,128}$/;

export function isSubscriber(text: string): boolean {
  return SUBSCRIBER.test(text);
}
/** A path prefix as it travels in a token: no separator of the token's own, no spaces or controls. */
const PATH_PREFIX = /^\/[^~!\s\x00-\x1f\x7f]*$/;

export function isKeyId(text: string): boolean {
  return KEY_ID.test(text);
}

/** Null if `prefix` can go in a token, else what is wrong with it. */
export function pathPrefixProblem(prefix: string): string | null {
  if (!PATH_PREFIX.test(prefix))
    return `path prefix "${prefix}" must start with "/" and hold no "~", "!", spaces or controls`;
  return null;
}

/** The token for `claims`, signed with `key` (the key named claims.keyId). */
export function signToken(claims: TokenClaims, key: Uint8Array | KeyObject): string {
  const ip = claims.address === undefined ? '' : `ip=${claims.address}~`;
  const sub = claims.subscriber === undefined ? '' : `sub=${claims.subscriber}~`;
  const body = `${ip}exp=${claims.expires}~acl=${claims.paths.join('!')}~${sub}kid=${claims.keyId}`;
  return `${body}~hmac=${createHmac('sha256', key).update(body).digest('hex')}`;
}

/** A token taken apart (not yet checked): the signed part, its hmac, and its fields. */
export interface ParsedToken extends TokenClaims {
  signed: string;
  hmac: Buffer;
}

/** Splits a token into its fields; null if it is not one (wrong fields, order or values). */
export function parseToken(token: string): ParsedToken | null {
  const at = token.lastIndexOf('~hmac=');
  if (at <= 0) return null;
  const hex = token.slice(at + 6);
  if (hex.length !== 64 || !/^[0-9a-f]{64}$/.test(hex)) return null;
  const signed = token.slice(0, at);
  let address: string | undefined;
  let expires = Number.NaN;
  let paths: string[] | undefined;
  let keyId: string | undefined;
  let subscriber: string | undefined;
  for (const field of signed.split('~')) {
    const eq = field.indexOf('=');
    if (eq <= 0) return null;
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (name === 'ip' && address === undefined) address = value;
    else if (name === 'exp' && Number.isNaN(expires) && /^\d{1,12}$/.test(value)) expires = Number(value);
    else if (name === 'acl' && paths === undefined) paths = value.split('!');
    else if (name === 'kid' && keyId === undefined && KEY_ID.test(value)) keyId = value;
    else if (name === 'sub' && subscriber === undefined && SUBSCRIBER.test(value)) subscriber = value;
    else return null;
  }
  if (Number.isNaN(expires) || paths === undefined || keyId === undefined) return null;
  if (paths.some((p) => pathPrefixProblem(p) !== null)) return null;
  return {
    signed,
    hmac: Buffer.from(hex, 'hex'),
    expires,
    paths,
    keyId,
    ...(address === undefined ? {} : { address }),
    ...(subscriber === undefined ? {} : { subscriber }),
  };
}

/** True if `parsed` was signed with `key`, compared in constant time. */
export function signatureHolds(parsed: ParsedToken, key: Uint8Array | KeyObject): boolean {
  const expected = createHmac('sha256', key).update(parsed.signed).digest();
  return timingSafeEqual(expected, parsed.hmac);
}

/** True if the request path lies under one of the token's prefixes. */
export function pathAllowed(paths: readonly string[], path: string): boolean {
  for (const prefix of paths) if (path.startsWith(prefix)) return true;
  return false;
}

/** An address as tokens compare it: IPv4-mapped IPv6 (::ffff:1.2.3.4) as plain IPv4, IPv6 lower-cased. */
export function normalAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && lower.indexOf('.') > 0 ? lower.slice(7) : lower;
}
