import { randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { EdgepeerError, isEdgepeerError, SipAuthError, SipError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { AkaSession, isAkaAlgorithm } from './aka.ts';
import {
  authorizationValue,
  type DigestChallenge,
  initialAuthorizationValue,
  isSupportedAlgorithm,
  newCnonce,
  parseDigestChallenge,
  pickChallenge,
} from './digest.ts';
import { headerLines, headerValue, type OutgoingRequest, type SipResponse } from './message.ts';
import { type RegistrationOptions, type ResolvedOptions, resolveOptions } from './options.ts';
import { type NameAddr, parseNameAddrList, quote } from './syntax.ts';
import { TransactionLayer } from './transaction.ts';
import { createChannel, type LocalEndpoint, type TransportName } from './transport.ts';
import { formatHost, formatSipUri, parseSipUri, type SipUri, sameContactUri } from './uri.ts';

// Registration per RFC 3261 section 10 and 3GPP TS 24.229 5.1.1: register, answer digest challenges, keep the
// binding alive by refreshing before it runs out, recover from network and server failures with back-off, and
// deregister on stop.

export type RegistrationStatus = 'idle' | 'registering' | 'registered' | 'retrying' | 'failed' | 'stopped';

/** Plain data for `edgepeer status` and --json. Never holds the password. */
export interface RegistrationState {
  status: RegistrationStatus;
  /** True while a binding the registrar granted has not run out. */
  registered: boolean;
  impu: string;
  impi: string;
  registrar: string;
  transport: TransportName;
  /** Our Contact URI as last registered. */
  contact?: string;
  instanceId: string;
  /** Granted expiry in seconds, from the 200 OK. */
  expires?: number;
  registeredAt?: string;
  expiresAt?: string;
  refreshAt?: string;
  nextRetryAt?: string;
  /** Service-Route of the last 200 OK (TS 24.229 5.1.1.2.2): the route for requests we would originate. */
  serviceRoute: string[];
  /** P-Associated-URI of the last 200 OK: the IMPUs registered with ours (implicit registration set). */
  associatedUris: string[];
  lastError?: { code: string; message: string; status?: number };
  counters: RegistrationCounters;
}

export interface RegistrationCounters {
  /** Successful REGISTERs that created a binding (none was active). */
  registrations: number;
  /** Successful REGISTERs that refreshed an active binding. */
  refreshes: number;
  /** 401s with stale=true, answered without counting as failures. */
  staleNonces: number;
  /** Attempts that ended without a binding (each retry counts). */
  failures: number;
}

export interface RegistrationEvents {
  /** Any change of state(). */
  state: [state: RegistrationState];
  /** A REGISTER succeeded (initial or refresh). */
  registered: [state: RegistrationState];
  /** The binding is gone: expired without refresh, refused, or deregistered. */
  unregistered: [state: RegistrationState];
  /** An attempt failed; `state.status` tells whether a retry is scheduled ('retrying') or not ('failed'). */
  failure: [error: EdgepeerError, state: RegistrationState];
}

export interface StopOutcome {
  /** A REGISTER with Expires: 0 was answered 2xx. */
  deregistered: boolean;
  error?: EdgepeerError;
}

export interface Registration extends EventEmitter<RegistrationEvents> {
  /** Registers; resolves with the state after the first outcome (registered, or the first failure). */
  start(): Promise<RegistrationState>;
  /** Stops refreshing, deregisters (bounded by timer F), closes sockets. Never rejects. */
  stop(): Promise<StopOutcome>;
  state(): RegistrationState;
  /** The last failure as a typed error (state().lastError is its plain-data form). */
  lastError(): EdgepeerError | undefined;
}

export function createRegistration(options: RegistrationOptions): Registration {
  return new SipRegistration(options);
}

interface Grant {
  expires: number;
  registeredAtMs: number;
  contact: string;
  serviceRoute: string[];
  associatedUris: string[];
}

interface CachedChallenge {
  challenge: DigestChallenge;
  cnonce: string;
  nc: number;
  /** The password for this challenge: ours, or the AKA RES (empty when resynchronising). */
  password: string | Buffer;
  /** AKA resynchronisation: the auts parameter to send once. */
  auts?: string;
}

/** At most this many challenge / 423 rounds in one attempt: a registrar that loops is treated as failing. */
const MAX_ROUNDS = 8;

class SipRegistration extends EventEmitter<RegistrationEvents> implements Registration {
  private readonly options: RegistrationOptions;
  private readonly resolved: ResolvedOptions;
  private readonly layer: TransactionLayer;
  private readonly logger: Logger;
  private readonly callId = `${randomBytes(12).toString('hex')}@edgepeer`;
  private readonly fromTag = randomBytes(8).toString('hex');
  private cseq = randomInt(1, 10_000);
  /** Expiry to ask for; raised by a 423's Min-Expires. */
  private requestedExpires: number;
  private readonly challenges = new Map<DigestChallenge['header'], CachedChallenge>();
  private readonly aka: AkaSession | undefined;

  private grant: Grant | undefined;
  private started = false;
  private stopped = false;
  private finalFailure = false;
  private inFlight: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private nextTimer: LongTimeout | undefined;
  private nextKind: 'refresh' | 'retry' | undefined;
  private nextAtMs: number | undefined;
  private expiryTimer: LongTimeout | undefined;
  private consecutiveFailures = 0;
  private error: EdgepeerError | undefined;
  private errorStatus: number | undefined;
  private lastContact: string | undefined;
  private readonly counters: RegistrationCounters = { registrations: 0, refreshes: 0, staleNonces: 0, failures: 0 };

  constructor(options: RegistrationOptions) {
    super();
    this.options = options;
    this.resolved = resolveOptions(options);
    this.requestedExpires = this.resolved.expires;
    this.aka = this.resolved.aka === undefined ? undefined : new AkaSession(this.resolved.aka);
    this.logger = options.logger ?? silentLogger;
    const remote = { host: this.resolved.registrarHost, port: this.resolved.registrarPort };
    const channelOptions = {
      remote,
      localPort: options.localPort,
      connectTimeoutMs: 64 * (options.timers?.t1Ms ?? 500),
      tls: options.tls,
    };
    this.layer = new TransactionLayer({
      primary: createChannel(this.resolved.transport, channelOptions),
      largeRequestChannel: () => createChannel('tcp', channelOptions),
      timers: options.timers,
      udpMaxRequestBytes: options.udpMaxRequestBytes,
      logger: this.logger,
    });
    this.layer.on('failure', (error, channel, primary) => this.onChannelFailure(error, primary && channel.reliable));
  }

  async start(): Promise<RegistrationState> {
    if (this.stopped) throw new SipError('EDGEPEER_SIP_UNREACHABLE', 'registration was stopped; create a new one');
    if (!this.started) {
      this.started = true;
      await this.cycle();
    } else if (this.inFlight) {
      await this.inFlight;
    }
    return this.state();
  }

  state(): RegistrationState {
    const grant = this.grant;
    const state: RegistrationState = {
      status: this.status(),
      registered: grant !== undefined,
      impu: this.resolved.impu,
      impi: this.resolved.impi,
      registrar: this.options.registrar,
      transport: this.resolved.transport,
      ...(this.lastContact === undefined ? {} : { contact: this.lastContact }),
      instanceId: this.resolved.instanceId,
      serviceRoute: grant?.serviceRoute ?? [],
      associatedUris: grant?.associatedUris ?? [],
      counters: { ...this.counters },
    };
    if (grant) {
      state.expires = grant.expires;
      state.registeredAt = new Date(grant.registeredAtMs).toISOString();
      state.expiresAt = new Date(grant.registeredAtMs + grant.expires * 1000).toISOString();
    }
    if (this.nextAtMs !== undefined) {
      if (this.nextKind === 'refresh') state.refreshAt = new Date(this.nextAtMs).toISOString();
      else state.nextRetryAt = new Date(this.nextAtMs).toISOString();
    }
    if (this.error) {
      state.lastError = {
        code: this.error.code,
        message: this.error.message,
        ...(this.errorStatus === undefined ? {} : { status: this.errorStatus }),
      };
    }
    return state;
  }

  lastError(): EdgepeerError | undefined {
    return this.error;
  }

  private status(): RegistrationStatus {
    if (this.stopped) return 'stopped';
    if (this.grant) return 'registered';
    if (this.finalFailure) return 'failed';
    if (this.inFlight) return 'registering';
    if (this.nextKind === 'retry') return 'retrying';
    return 'idle';
  }

  private changed(): void {
    this.emit('state', this.state());
  }

  /** One attempt (register or refresh) and what follows it; concurrent triggers share the attempt in flight. */
  private cycle(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.inFlight) {
      this.clearNext();
      this.inFlight = this.attempt().finally(() => {
        this.inFlight = undefined;
        this.changed();
      });
      this.changed();
    }
    return this.inFlight;
  }

  private async attempt(): Promise<void> {
    await Promise.resolve(); // let cycle() record the attempt before anything can fail
    const wasRegistered = this.grant !== undefined;
    const abort = new AbortController();
    this.abort = abort;
    try {
      const grant = await this.exchange(this.requestedExpires, abort.signal);
      if (this.stopped) return;
      this.onGranted(grant, wasRegistered);
    } catch (err) {
      if (this.stopped) return;
      this.onFailed(toEdgepeerError(err));
    } finally {
      if (this.abort === abort) this.abort = undefined;
    }
  }

  private onGranted(grant: Grant, wasRegistered: boolean): void {
    if (grant.expires <= 0) {
      // The registrar accepted the REGISTER but lists no binding for us: as good as refused.
      this.onFailed(new SipError('EDGEPEER_SIP_REJECTED', 'the registrar answered 200 OK but granted no binding'));
      return;
    }
    this.grant = grant;
    this.consecutiveFailures = 0;
    this.finalFailure = false;
    this.error = undefined;
    this.errorStatus = undefined;
    if (wasRegistered) this.counters.refreshes++;
    else this.counters.registrations++;
    this.expiryTimer?.cancel();
    this.expiryTimer = setLongTimeout(() => this.onExpired(), grant.expires * 1000);
    this.schedule('refresh', refreshDelayMs(grant.expires));
    this.logger.info({ impu: this.resolved.impu, expires: grant.expires }, 'ims registered');
    this.emit('registered', this.state());
  }

  private onFailed(error: EdgepeerError): void {
    this.error = error;
    this.errorStatus = typeof error.details.status === 'number' ? error.details.status : undefined;
    this.counters.failures++;
    if (isRetryable(error)) {
      this.consecutiveFailures++;
      const retryAfterMs = typeof error.details.retryAfterMs === 'number' ? error.details.retryAfterMs : undefined;
      this.schedule('retry', this.backoffMs(retryAfterMs));
    } else {
      // Final (403, refused credentials, unsupported challenge, other 4xx): retrying would not help.
      this.finalFailure = true;
      this.dropGrant();
    }
    this.logger.warn({ code: error.code, reason: error.message }, 'ims registration failed');
    this.emit('failure', error, this.state());
  }

  private onExpired(): void {
    if (!this.grant) return;
    this.logger.warn({ impu: this.resolved.impu }, 'ims binding expired before it could be refreshed');
    this.dropGrant();
    this.changed();
  }

  private dropGrant(): void {
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    if (!this.grant) return;
    this.grant = undefined;
    this.emit('unregistered', this.state());
  }

  private onChannelFailure(error: SipError, contactFlow: boolean): void {
    // A dropped TCP/TLS connection our Contact names takes its flow with it (RFC 5626 4.4): register again at
    // once. UDP ICMP errors, and the loss of a TCP connection opened only for a large request, matter only to the
    // transaction they failed.
    if (!contactFlow || this.stopped || this.finalFailure || this.inFlight || this.nextKind === 'retry') return;
    this.logger.info({ reason: error.message }, 'ims connection lost; registering again');
    this.schedule('retry', 0);
  }

  private backoffMs(retryAfterMs: number | undefined): number {
    const { retryBaseMs, retryMaxMs } = this.resolved;
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, retryMaxMs);
    const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(this.consecutiveFailures - 1, 30));
    return Math.round(ceiling * (0.5 + Math.random() / 2));
  }

  private schedule(kind: 'refresh' | 'retry', delayMs: number): void {
    this.clearNext();
    this.nextKind = kind;
    this.nextAtMs = Date.now() + delayMs;
    this.nextTimer = setLongTimeout(() => {
      this.nextTimer = undefined;
      void this.cycle();
    }, delayMs);
  }

  private clearNext(): void {
    this.nextTimer?.cancel();
    this.nextTimer = undefined;
    this.nextKind = undefined;
    this.nextAtMs = undefined;
  }

  /** REGISTER until a final answer: answers challenges and 423, raises typed errors for the rest. */
  private async exchange(expires: number, signal: AbortSignal): Promise<Grant> {
    const local = await this.layer.localEndpoint();
    const contactUri = this.contactUri(local);
    this.lastContact = formatSipUri(contactUri);
    let requested = expires;
    let answeredFreshChallenge = false;
    let resyncs = 0;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const response = await this.layer.request(this.buildRegister(requested, contactUri), { signal });
      const { status } = response;
      if (status >= 200 && status < 300) return this.readGrant(response, contactUri, requested);
      if (status === 401 || status === 407) {
        const challenge = this.pickChallenge(response);
        const cached = this.prepare(challenge);
        if (cached.auts !== undefined) {
          // AKA sequence number out of sync: the answer carries AUTS and the network challenges afresh.
          if (++resyncs > 1) {
            throw new SipAuthError('IMS AKA resynchronisation failed: the network sent a stale sequence number twice', {
              subject: this.resolved.impi,
              status,
            });
          }
        } else if (challenge.stale) {
          // Our credentials were right, only the nonce had run out (RFC 7616 3.3): not a failure.
          this.counters.staleNonces++;
        } else if (answeredFreshChallenge) {
          throw new SipAuthError(
            `registrar refused the credentials of ${this.resolved.impi}: ${status} again after answering its challenge`,
            { subject: this.resolved.impi, status },
          );
        } else {
          answeredFreshChallenge = true;
        }
        this.challenges.set(challenge.header, cached);
        continue;
      }
      if (status === 423 && requested > 0) {
        const minExpires = Number(headerValue(response, 'min-expires'));
        if (!Number.isInteger(minExpires) || minExpires <= requested) {
          throw new SipError('EDGEPEER_SIP_REJECTED', `registrar answered 423 without a usable Min-Expires`, {
            subject: this.options.registrar,
            status,
          });
        }
        this.logger.info({ requested, minExpires }, 'ims expiry too brief; asking for Min-Expires');
        requested = minExpires;
        this.requestedExpires = minExpires;
        continue;
      }
      if (status === 403) {
        throw new SipAuthError(
          `registrar refused ${this.resolved.impi} for ${this.resolved.impu}: 403 ${response.reason}`,
          {
            subject: this.resolved.impi,
            status,
          },
        );
      }
      throw this.responseError(response);
    }
    throw new SipError('EDGEPEER_SIP_SERVER_ERROR', `registration did not complete within ${MAX_ROUNDS} requests`, {
      subject: this.options.registrar,
    });
  }

  private pickChallenge(response: SipResponse): DigestChallenge {
    const header = response.status === 407 ? 'proxy-authenticate' : 'www-authenticate';
    const challenges: DigestChallenge[] = [];
    for (const line of headerLines(response, header)) {
      try {
        const challenge = parseDigestChallenge(line, header);
        if (challenge) challenges.push(challenge);
      } catch (err) {
        this.logger.warn({ reason: (err as Error).message }, 'ims challenge ignored');
      }
    }
    const hasPassword = this.options.password !== undefined && this.options.password !== '';
    const chosen = pickChallenge(challenges, (c) =>
      isAkaAlgorithm(c.algorithm) ? this.aka !== undefined : hasPassword && isSupportedAlgorithm(c.algorithm),
    );
    if (!chosen) {
      const offered = headerLines(response, header).join(' | ') || 'none';
      throw new SipError(
        'EDGEPEER_SIP_AUTH_UNSUPPORTED',
        `registrar asks for authentication we cannot give: ${offered}`,
        {
          subject: this.options.registrar,
          status: response.status,
        },
      );
    }
    return chosen;
  }

  private responseError(response: SipResponse): SipError {
    const { status, reason } = response;
    const retryAfter = /^\s*(\d{1,9})/.exec(headerValue(response, 'retry-after') ?? '');
    const details = {
      subject: this.options.registrar,
      status,
      ...(retryAfter ? { retryAfterMs: Number(retryAfter[1]) * 1000 } : {}),
    };
    const text = `registrar answered ${status} ${reason}`.trim();
    // 408/480 and 5xx are passing conditions (RFC 3261 21.4.9, 21.4.18, 21.5); 6xx and other 4xx are final.
    if (status >= 500 && status < 600) return new SipError('EDGEPEER_SIP_SERVER_ERROR', text, details);
    if (status === 408 || status === 480) return new SipError('EDGEPEER_SIP_SERVER_ERROR', text, details);
    return new SipError('EDGEPEER_SIP_REJECTED', text, details);
  }

  private contactUri(local: LocalEndpoint): SipUri {
    const params = new Map<string, string>();
    if (this.resolved.transport !== 'udp') params.set('transport', this.resolved.transport);
    const host = this.options.contactHost ?? local.address;
    return {
      scheme: 'sip',
      user: this.resolved.impuUri.user,
      host: host.replace(/^\[|\]$/g, ''),
      port: this.options.contactPort ?? local.port,
      params,
    };
  }

  private buildRegister(expires: number, contactUri: SipUri): OutgoingRequest {
    const { domain, impu, instanceId, impi } = this.resolved;
    const requestUri = `sip:${formatHost(domain)}`;
    const contactParams = `;+sip.instance=${quote(`<${instanceId}>`)}${expires === 0 ? ';expires=0' : ''}`;
    const headers: Array<[string, string]> = [
      ['Max-Forwards', '70'],
      ['From', `<${impu}>;tag=${this.fromTag}`],
      ['To', `<${impu}>`],
      ['Call-ID', this.callId],
      ['CSeq', `${this.cseq++} REGISTER`],
      ['Contact', `<${formatSipUri(contactUri)}>${contactParams}`],
      ['Expires', String(expires)],
    ];
    const www = this.challenges.get('www-authenticate');
    if (www) headers.push(['Authorization', this.answer(www, requestUri)]);
    else if (this.options.initialAuthorization !== false) {
      headers.push(['Authorization', initialAuthorizationValue(impi, domain, requestUri)]);
    }
    const proxy = this.challenges.get('proxy-authenticate');
    if (proxy) headers.push(['Proxy-Authorization', this.answer(proxy, requestUri)]);
    headers.push(['Supported', 'path'], ['User-Agent', this.options.userAgent ?? 'edgepeer']);
    headers.push(...(this.options.extraHeaders ?? []));
    return { method: 'REGISTER', uri: requestUri, headers };
  }

  /** Works out the password for a new challenge: ours, or what AKA makes of the nonce. */
  private prepare(challenge: DigestChallenge): CachedChallenge {
    const base = { challenge, cnonce: newCnonce(), nc: 0 };
    if (!isAkaAlgorithm(challenge.algorithm)) return { ...base, password: this.options.password ?? '' };
    const outcome = this.aka!.answer(challenge.nonce);
    if (outcome.kind === 'mac-failure') {
      throw new SipAuthError(
        'the network failed IMS AKA authentication (AUTN did not verify): wrong K/OP or not our network',
        {
          subject: this.options.registrar,
        },
      );
    }
    if (outcome.kind === 'resync') return { ...base, password: '', auts: outcome.auts };
    return { ...base, password: outcome.res };
  }

  private answer(cached: CachedChallenge, uri: string): string {
    cached.nc++;
    const extra: Array<[string, string]> = cached.auts === undefined ? [] : [['auts', quote(cached.auts)]];
    cached.auts = undefined;
    return authorizationValue(
      cached.challenge,
      { username: this.resolved.impi, password: cached.password },
      { method: 'REGISTER', uri, cnonce: cached.cnonce, nc: cached.nc, extra },
    );
  }

  private readGrant(response: SipResponse, contactUri: SipUri, requested: number): Grant {
    const listed = this.safeList(response, 'contact');
    // Our exact Contact first: after a TCP reconnect an older binding with our +sip.instance may still be listed.
    const ours =
      listed.find((entry) => this.sameUri(entry, contactUri)) ??
      listed.find((entry) => entry.params.get('+sip.instance')?.replace(/^<|>$/g, '') === this.resolved.instanceId);
    const fromContact = ours === undefined ? Number.NaN : Number(ours.params.get('expires'));
    const fromHeader = Number(headerValue(response, 'expires'));
    if (listed.length > 0 && ours === undefined && requested > 0) {
      // RFC 3261 10.2.4 lists every binding; a front end that rewrites Contact hides ours. Trust the 200 OK.
      this.logger.warn(
        {
          contact: formatSipUri(contactUri),
        },
        'ims 200 OK does not list our Contact; using its Expires',
      );
    }
    let expires: number;
    if (Number.isInteger(fromContact) && fromContact >= 0) expires = fromContact;
    else if (requested === 0) expires = 0;
    else if (Number.isInteger(fromHeader) && fromHeader >= 0) expires = fromHeader;
    else expires = requested;
    return {
      expires,
      registeredAtMs: Date.now(),
      contact: formatSipUri(contactUri),
      serviceRoute: this.safeList(response, 'service-route').map((entry) => entry.uri),
      associatedUris: this.safeList(response, 'p-associated-uri').map((entry) => entry.uri),
    };
  }

  private safeList(response: SipResponse, header: string): NameAddr[] {
    try {
      return parseNameAddrList(headerLines(response, header)).filter((entry) => entry.uri !== '*');
    } catch (err) {
      this.logger.warn({ reason: (err as Error).message }, `ims ${header} of the 200 OK ignored`);
      return [];
    }
  }

  private sameUri(entry: NameAddr, contactUri: SipUri): boolean {
    try {
      return sameContactUri(parseSipUri(entry.uri), contactUri);
    } catch {
      return false;
    }
  }

  async stop(): Promise<StopOutcome> {
    if (this.stopped) return { deregistered: false };
    const attemptInFlight = this.inFlight !== undefined;
    this.stopped = true;
    this.clearNext();
    this.abort?.abort(new SipError('EDGEPEER_SIP_UNREACHABLE', 'registration stopped'));
    await this.inFlight?.catch(() => undefined);
    let outcome: StopOutcome = { deregistered: false };
    // An attempt cut short may have created a binding we never heard of: remove it too.
    if (this.grant || attemptInFlight) outcome = await this.deregister();
    if (outcome.error) {
      this.error = outcome.error;
      this.errorStatus = typeof outcome.error.details.status === 'number' ? outcome.error.details.status : undefined;
    }
    this.dropGrant();
    await this.layer.close();
    this.changed();
    return outcome;
  }

  private async deregister(): Promise<StopOutcome> {
    try {
      const grant = await this.exchange(0, AbortSignal.timeout(this.layer.timers.timerFMs + 1000));
      this.logger.info({ impu: this.resolved.impu, remaining: grant.expires }, 'ims deregistered');
      return { deregistered: true };
    } catch (err) {
      const error = toEdgepeerError(err);
      this.logger.warn({ code: error.code, reason: error.message }, 'ims deregistration failed');
      return { deregistered: false, error };
    }
  }
}

/** When to refresh a binding of `expires` seconds: TS 24.229 5.1.1.4.1 (600 s early if over 1200 s, else halfway). */
export function refreshDelayMs(expires: number): number {
  const seconds = expires > 1200 ? expires - 600 : expires / 2;
  return Math.round(seconds * 1000);
}

interface LongTimeout {
  cancel(): void;
}

/** setTimeout for delays beyond its 24.8-day limit (expiries may be up to 2^31-1 seconds). */
function setLongTimeout(callback: () => void, delayMs: number): LongTimeout {
  const limit = 2 ** 31 - 1;
  let timer: NodeJS.Timeout;
  const arm = (remaining: number) => {
    timer = setTimeout(() => (remaining > limit ? arm(remaining - limit) : callback()), Math.min(remaining, limit));
  };
  arm(Math.max(0, delayMs));
  return { cancel: () => clearTimeout(timer) };
}

function isRetryable(error: EdgepeerError): boolean {
  return (
    error.code === 'EDGEPEER_SIP_TIMEOUT' ||
    error.code === 'EDGEPEER_SIP_UNREACHABLE' ||
    error.code === 'EDGEPEER_SIP_SERVER_ERROR'
  );
}

function toEdgepeerError(err: unknown): EdgepeerError {
  if (isEdgepeerError(err)) return err;
  if (err instanceof DOMException && err.name === 'TimeoutError') {
    return new SipError('EDGEPEER_SIP_TIMEOUT', 'no answer from the registrar in time', { cause: err });
  }
  return new SipError('EDGEPEER_SIP_UNREACHABLE', `registration failed: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

export { EdgepeerError };
