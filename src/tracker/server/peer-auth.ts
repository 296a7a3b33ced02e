// Passkeys and the allow-list, on the reference tracker's side (docs/auth.md): an announce is answered only
// when its passkey (`/<passkey>/announce`, or `passkey=` in the query) names a subscriber, and each answered
// one puts (announcer's address, info hash, subscriber) on the allow-list, which agents with
// `peerAuth: tracker` follow at GET /peer-auth/allowed (long poll, behind the admin token). Kept apart from
// the HTTP layer: tracker.ts only routes here.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, silentLogger, WarningThrottle } from '../../log/index.ts';
import { type AllowList, allowListPoll, type PasskeySource } from '../../peer-auth/index.ts';
import { normalizeIp } from '../protocol/compact.ts';
import { parseQuery, QueryError } from '../protocol/query.ts';
import { failureAnswer, sendJson } from './answers.ts';

export const ALLOWED_PATH = '/peer-auth/allowed';
/** `/<passkey>/announce` and `/<passkey>/scrape`, as private trackers write them. */
const PASSKEY_PATH = /^\/([A-Za-z0-9_-]{16,128})\/(announce|scrape)$/;
/** A bencoded failure starts so (keys are sorted; "failure reason" sorts first of a failure's keys). */
const FAILURE_PREFIX = Buffer.from('d14:failure reason');

export interface TrackerPeerAuthOptions {
  passkeys: PasskeySource;
  allowList: AllowList;
  /** Bearer token of GET /peer-auth/allowed (the tracker's admin token). */
  adminToken: string;
  logger?: Logger;
}

export interface PeerAuthCounters {
  /** Announces (and scrapes) refused: no passkey, or one no subscriber has. */
  unknownPasskeys: number;
  /** Announces refused because the passkey hook failed. */
  hookFailures: number;
  /** Announces answered for a subscriber. */
  authorised: number;
}

export class TrackerPeerAuth {
  readonly allowList: AllowList;
  readonly counters: PeerAuthCounters = { unknownPasskeys: 0, hookFailures: 0, authorised: 0 };
  readonly #passkeys: PasskeySource;
  readonly #expected: Buffer;
  readonly #logger: Logger;
  readonly #refusals: WarningThrottle;

  constructor(options: TrackerPeerAuthOptions) {
    this.#passkeys = options.passkeys;
    this.allowList = options.allowList;
    this.#expected = Buffer.from(`Bearer ${options.adminToken}`);
    this.#logger = options.logger ?? silentLogger;
    this.#refusals = new WarningThrottle(this.#logger);
  }

  /** The passkey in `/<passkey>/announce` and what it asks for, or null when `path` is not of that form. */
  static passkeyPath(path: string): { passkey: string; action: 'announce' | 'scrape' } | null {
    const match = PASSKEY_PATH.exec(path);
    return match === null ? null : { passkey: match[1] as string, action: match[2] as 'announce' | 'scrape' };
  }

  /**
   * The subscriber of the request's passkey (from the path, else the query), or a bencoded failure to send.
   * The passkey is never logged: the announcer's address is.
   */
  async subscriberOf(pathPasskey: string | undefined, query: string, remote: string): Promise<string | Buffer> {
    let passkey = pathPasskey;
    if (passkey === undefined) {
      try {
        passkey = parseQuery(query).get('passkey')?.[0]?.toString('latin1');
      } catch (err) {
        if (err instanceof QueryError) return failureAnswer(err.message);
        throw err;
      }
    }
    let subscriber: string | undefined;
    if (passkey !== undefined) {
      try {
        subscriber = await this.#passkeys.lookup(passkey);
      } catch (err) {
        this.counters.hookFailures += 1;
        this.#logger.warn({ err: (err as Error).message }, 'tracker: the passkey hook failed; announce refused');
        return failureAnswer('passkey cannot be checked now: try again later', 1);
      }
    }
    if (subscriber === undefined) {
      this.counters.unknownPasskeys += 1;
      const address = normalizeIp(remote);
      this.#refusals.warn(
        `passkey:${address}`,
        { from: address, passkey: passkey === undefined ? 'missing' : 'unknown' },
        'tracker: announce refused, passkey missing or unknown',
      );
      return failureAnswer(
        passkey === undefined ? 'this tracker needs a passkey in the announce URL' : 'unknown passkey',
      );
    }
    return subscriber;
  }

  /** After an announce was answered: its announcer may fetch the object (unless the answer was a failure). */
  answered(answer: Buffer, query: string, remote: string, subscriber: string): void {
    if (answer.subarray(0, FAILURE_PREFIX.length).equals(FAILURE_PREFIX)) return;
    const infoHash = parseQuery(query).get('info_hash')?.[0];
    if (infoHash === undefined || infoHash.length !== 20) return;
    this.counters.authorised += 1;
    this.allowList.grant(normalizeIp(remote), infoHash.toString('hex'), subscriber);
  }

  /** GET /peer-auth/allowed[?since=V&wait=S]: the allow-list; with `since` equal to its version, a long poll. */
  async allowed(req: IncomingMessage, res: ServerResponse, query: string, closing: AbortSignal): Promise<void> {
    if (req.method !== 'GET') return sendJson(res, { error: 'the allow-list is read with GET' }, 405);
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== this.#expected.length || !timingSafeEqual(given, this.#expected)) {
      res.setHeader('www-authenticate', 'Bearer realm="edgepeer"');
      return sendJson(res, { error: 'missing or wrong bearer token', code: 'EDGEPEER_UNAUTHORIZED' }, 401);
    }
    const { since, waitMs } = allowListPoll(new URLSearchParams(query));
    if (since !== null) {
      const gone = new AbortController();
      const onClose = (): void => gone.abort();
      req.socket.once('close', onClose);
      await this.allowList.wait(since, waitMs, AbortSignal.any([gone.signal, closing]));
      req.socket.off('close', onClose);
      if (gone.signal.aborted) return;
    }
    sendJson(res, { ...this.allowList.snapshot(), counters: this.counters });
  }

  close(): void {
    this.#refusals.close();
  }
}
