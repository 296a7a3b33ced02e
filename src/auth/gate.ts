import type { KeyObject } from 'node:crypto';
// The check in front of every object and piece URL when URL tokens are required: finds the token (query
// parameter, header or cookie), checks its key, signature, expiry, path and address, and answers the
// refusal to send (403, or 410 when only the expiry failed) or null. Counts each outcome; logs the reason,
// the path and the client, never the token. Tokens whose signature held are remembered (a web seed asks the
// same URL with many ranges), so a repeated token costs a lookup, not an HMAC.
import { ERRORS } from '../errors/index.ts';
import { type Logger, silentLogger, WarningThrottle } from '../log/index.ts';
import type { KeyRing } from './keys.ts';
import {
  normalAddress,
  type ParsedToken,
  parseToken,
  pathAllowed,
  signatureHolds,
  signToken,
  TOKEN_NAME,
  TOKEN_REFUSALS,
  type TokenRefusal,
} from './token.ts';

/** What the HTTP server sends for a refused request. */
export interface Refusal {
  readonly status: number;
  readonly code: 'EDGEPEER_URL_TOKEN_REFUSED' | 'EDGEPEER_URL_TOKEN_EXPIRED';
  readonly reason: TokenRefusal;
  /** For the client: what is wrong, without echoing anything it sent. */
  readonly message: string;
}

const MESSAGES: Record<TokenRefusal, string> = {
  missing: `a signed token is required (query parameter ${TOKEN_NAME}, header X-Edgepeer-Token or cookie ${TOKEN_NAME})`,
  malformed: 'the token is not one this server reads',
  unknown_key: 'the token is signed with a key this server does not hold',
  bad_signature: 'the token signature does not match',
  expired: 'the token has expired',
  wrong_path: 'the token is not for this path',
  wrong_address: 'the token is not for this client address',
};

/** One constant per reason: a refusal allocates nothing. */
const REFUSALS = Object.fromEntries(
  TOKEN_REFUSALS.map((reason): [TokenRefusal, Refusal] => {
    const code = reason === 'expired' ? 'EDGEPEER_URL_TOKEN_EXPIRED' : 'EDGEPEER_URL_TOKEN_REFUSED';
    return [reason, { status: ERRORS[code].httpStatus, code, reason, message: MESSAGES[reason] }];
  }),
) as Record<TokenRefusal, Refusal>;

/** Tokens remembered at most; the memory is cleared when full (clients reuse a few tokens many times). */
const CHECKED_TOKENS_MAX = 4096;
/**
 * A remembered token further than this from its expiry (by a clock read every COARSE_CLOCK_MS) is not
 * expired: the clock is read for it only near the end (a clock read cost a third of the check). nginx's
 * secure_link compares with a time cached per event-loop turn likewise.
 */
const NEAR_EXPIRY_S = 2;
const COARSE_CLOCK_MS = 100;
function wallSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Lifetime of the token a redirect carries to the edge: long enough to follow it, too short to share. */
export const REDIRECT_TOKEN_TTL_S = 30;

export interface TokenCounters {
  accepted: number;
  refused: Record<TokenRefusal, number>;
}

export interface UrlGateOptions {
  keys: KeyRing;
  logger?: Logger;
  /** Seconds since the epoch; for tests. */
  now?: () => number;
}

export class UrlGate {
  readonly #keys: KeyRing;
  readonly #warnings: WarningThrottle;
  readonly #now: () => number;
  /** Seconds since the epoch as of the last COARSE_CLOCK_MS tick; null when `now` was given (tests). */
  #coarseSeconds: number | null = null;
  readonly #clockTimer: NodeJS.Timeout | null = null;
  /** Tokens whose signature held under the keys of #generation. */
  readonly #checked = new Map<string, ParsedToken>();
  /** Request targets whose query token held and allowed their path, under the keys of #generation. */
  readonly #admitted = new Map<string, ParsedToken>();
  #lastAdmitted: { target: string; parsed: ParsedToken } | null = null;
  #generation: number;
  readonly #counters: TokenCounters = {
    accepted: 0,
    refused: Object.fromEntries(TOKEN_REFUSALS.map((r) => [r, 0])) as Record<TokenRefusal, number>,
  };

  constructor(options: UrlGateOptions) {
    this.#keys = options.keys;
    this.#generation = options.keys.generation;
    this.#warnings = new WarningThrottle(options.logger ?? silentLogger);
    this.#now = options.now ?? wallSeconds;
    if (options.now === undefined) {
      this.#coarseSeconds = wallSeconds();
      // The timer holds the gate weakly: a gate dropped without close() (an agent's, when it stops) is
      // collected and its timer ends.
      const gate = new WeakRef(this);
      const timer: NodeJS.Timeout = setInterval(() => {
        const alive = gate.deref();
        if (alive === undefined) clearInterval(timer);
        else alive.#coarseSeconds = wallSeconds();
      }, COARSE_CLOCK_MS).unref();
      this.#clockTimer = timer;
    }
  }

  /** True if a token with this expiry has expired: exact near the expiry, by the coarse clock before. */
  #expired(expires: number): boolean {
    const coarse = this.#coarseSeconds;
    if (coarse !== null && expires - coarse > NEAR_EXPIRY_S) return false;
    return expires < this.#now();
  }

  /**
   * Null if the request may be served, else the refusal. `target` is the request target as sent (its
   * query may hold the token); `header` the X-Edgepeer-Token field; `cookie` the Cookie field.
   */
  check(
    target: string,
    header: string | undefined,
    cookie: string | undefined,
    address: string | undefined,
  ): Refusal | null {
    const answer = this.admit(target, header, cookie, address);
    return 'status' in answer ? answer : null;
  }

  /** As check(), but a request that may be served gets the token's claims (its subscriber, for QoS classes). */
  admit(
    target: string,
    header: string | undefined,
    cookie: string | undefined,
    address: string | undefined,
  ): Refusal | ParsedToken {
    if (this.#generation !== this.#keys.generation) this.#forget();
    // A target admitted before (its query's token checked, its path allowed): what is left to check is
    // what can change between requests, the client's address and the time.
    // The last one first: comparing two strings costs far less than hashing a long one for the map, and
    // a client (a web seed) asks one URL many times in a row.
    const last = this.#lastAdmitted;
    if (last !== null && last.target.length === target.length && last.target === target) {
      return this.#stillGood(last.parsed, address, target);
    }
    const admitted = this.#admitted.get(target);
    if (admitted !== undefined) {
      this.#lastAdmitted = { target, parsed: admitted };
      return this.#stillGood(admitted, address, target);
    }
    const { path, query } = splitTarget(target);
    const token =
      (query === null ? undefined : paramOf(query, '&')) ??
      header ??
      (cookie === undefined ? undefined : paramOf(cookie, ';'));
    if (token === undefined || token === '') return this.#refuse('missing', path, address, undefined);
    const parsed = this.#verified(token);
    if (typeof parsed === 'string') return this.#refuse(parsed, path, address, undefined);
    if (!pathAllowed(parsed.paths, path)) return this.#refuse('wrong_path', path, address, parsed.keyId);
    if (
      parsed.address !== undefined &&
      (address === undefined || normalAddress(address) !== normalAddress(parsed.address))
    ) {
      return this.#refuse('wrong_address', path, address, parsed.keyId);
    }
    if (parsed.expires < this.#now()) return this.#refuse('expired', path, address, parsed.keyId);
    this.#counters.accepted += 1;
    // Remembered by the whole target only when the token came from it (a query token wins over the
    // header and the cookie, so the target alone decides which token is checked).
    if (query !== null && paramOf(query, '&') === token) {
      if (this.#admitted.size >= CHECKED_TOKENS_MAX) this.#admitted.clear();
      this.#admitted.set(target, parsed);
      this.#lastAdmitted = { target, parsed };
    }
    return parsed;
  }

  /** A remembered target's token: still for this address, and not expired. */
  #stillGood(parsed: ParsedToken, address: string | undefined, target: string): Refusal | ParsedToken {
    if (
      parsed.address !== undefined &&
      (address === undefined || normalAddress(address) !== normalAddress(parsed.address))
    ) {
      return this.#refuse('wrong_address', splitTarget(target).path, address, parsed.keyId);
    }
    if (this.#expired(parsed.expires)) return this.#refuse('expired', splitTarget(target).path, address, parsed.keyId);
    this.#counters.accepted += 1;
    return parsed;
  }

  /** Keys changed (a reload): every token is checked again. */
  #forget(): void {
    this.#checked.clear();
    this.#admitted.clear();
    this.#lastAdmitted = null;
    this.#generation = this.#keys.generation;
  }

  /**
   * A redirect's Location with a fresh short-lived token for its own path (the controller sends clients to
   * an edge that checks tokens with the same keys), bound to the client's address when `address` is given.
   */
  resign(location: string, address?: string): string {
    const url = new URL(location);
    const token = this.tokenFor(url.pathname, address);
    if (token === undefined) return location;
    url.searchParams.delete(TOKEN_NAME);
    // The token's characters are all allowed in a query: no percent-encoding, as curl and the checks expect.
    const query = url.search === '' ? '?' : `${url.search}&`;
    return `${url.origin}${url.pathname}${query}${TOKEN_NAME}=${token}`;
  }

  /**
   * A fresh token for one path, valid REDIRECT_TOKEN_TTL_S, signed with the last key listed (the newest, by
   * the rotation order docs/http.md gives): for redirects, and the controller's own piece fetches from edges.
   */
  tokenFor(path: string, address?: string): string | undefined {
    const keyId = this.#keys.ids().at(-1);
    if (keyId === undefined) return undefined;
    return signToken(
      {
        expires: this.#now() + REDIRECT_TOKEN_TTL_S,
        paths: [path],
        keyId,
        ...(address === undefined ? {} : { address: normalAddress(address) }),
      },
      this.#keys.get(keyId) as KeyObject,
    );
  }

  /** The target with any token in its query replaced by "-", for the access log. */
  redact(target: string): string {
    const at = target.indexOf(`${TOKEN_NAME}=`);
    if (at < 0) return target;
    const end = target.indexOf('&', at);
    return `${target.slice(0, at + TOKEN_NAME.length + 1)}-${end < 0 ? '' : target.slice(end)}`;
  }

  counters(): TokenCounters {
    return { accepted: this.#counters.accepted, refused: { ...this.#counters.refused } };
  }

  close(): void {
    this.#warnings.close();
    if (this.#clockTimer !== null) clearInterval(this.#clockTimer);
  }

  /** The token's claims if its key is held and its signature holds, else why not. */
  #verified(token: string): ParsedToken | TokenRefusal {
    if (this.#generation !== this.#keys.generation) this.#forget();
    const known = this.#checked.get(token);
    if (known !== undefined) return known;
    const parsed = parseToken(token);
    if (parsed === null) return 'malformed';
    const key = this.#keys.get(parsed.keyId);
    if (key === undefined) return 'unknown_key';
    if (!signatureHolds(parsed, key)) return 'bad_signature';
    if (this.#checked.size >= CHECKED_TOKENS_MAX) this.#checked.clear();
    this.#checked.set(token, parsed);
    return parsed;
  }

  #refuse(reason: TokenRefusal, path: string, address: string | undefined, keyId: string | undefined): Refusal {
    this.#counters.refused[reason] += 1;
    this.#warnings.warn(
      `url token ${reason}`,
      { reason, path, client: address, ...(keyId === undefined ? {} : { keyId }) },
      `request refused: ${MESSAGES[reason]}`,
    );
    return REFUSALS[reason];
  }
}

/** The path and query of an origin-form or absolute-form target. */
function splitTarget(target: string): { path: string; query: string | null } {
  let start = 0;
  if (target.charCodeAt(0) !== 47 /* / */) {
    const scheme = target.indexOf('://');
    const slash = scheme < 0 ? -1 : target.indexOf('/', scheme + 3);
    start = slash < 0 ? target.length : slash;
  }
  const q = target.indexOf('?', start);
  if (q < 0) return { path: target.slice(start) || '/', query: null };
  return { path: target.slice(start, q) || '/', query: target.slice(q + 1) };
}

/** The value of `__token__` in a query (`&`-separated) or a Cookie field (`;`-separated), percent-decoded. */
function paramOf(text: string, separator: '&' | ';'): string | undefined {
  const name = `${TOKEN_NAME}=`;
  let at = text.indexOf(name);
  while (at > 0) {
    // Only at the start of a pair: not `x__token__=`.
    const before = text.charCodeAt(at - 1);
    if (before === separator.charCodeAt(0) || before === 32 /* space after ; */) break;
    at = text.indexOf(name, at + 1);
  }
  if (at < 0) return undefined;
  const end = text.indexOf(separator, at);
  const value = text.slice(at + name.length, end < 0 ? text.length : end).trim();
  if (value.indexOf('%') < 0) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
