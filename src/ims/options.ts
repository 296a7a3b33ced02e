import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { InvalidArgumentError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { type AkaKeys, akaKeys } from './aka.ts';
import type { TimerSettings } from './transaction.ts';
import type { TlsOptions, TransportName } from './transport.ts';
import { parseSipUri, type SipUri } from './uri.ts';

/** What a registration needs. The agent fills it from config/flags; `edgepeer ims register` from flags. */
export interface RegistrationOptions {
  /** The P-CSCF / registrar to send REGISTER to: sip:HOST[:PORT][;transport=tcp], or sips: for TLS. */
  registrar: string;
  /** Private user identity (IMPI), the digest username, e.g. alice@ims.example.net. */
  impi: string;
  /** Public user identity (IMPU) to register, a SIP URI, e.g. sip:alice@ims.example.net. */
  impu: string;
  /** Digest password of the IMPI (optional with `aka`). Never logged, never part of state(). */
  password?: string;
  /** IMS AKA (AKAv1-MD5, RFC 3310) with Milenage: K and OP or OPc, 32 hex digits each. Never logged. */
  aka?: { k: string; op?: string; opc?: string };
  /** Transport; default: the registrar URI's transport parameter, TLS for sips:, else UDP. */
  transport?: TransportName;
  /** Home network domain (Request-URI, digest realm of the first REGISTER); default: the IMPU's host. */
  domain?: string;
  /** Requested expiry in seconds; default 600000 as TS 24.229 5.1.1.2.1 has the UE ask. */
  expires?: number;
  /** Host and port the Contact names, when the local socket address is not reachable (NAT, wildcard bind). */
  contactHost?: string;
  contactPort?: number;
  /** Local UDP port to bind; default any. */
  localPort?: number;
  /** +sip.instance URN; default a stable urn:uuid derived from the host name and the IMPU. */
  instanceId?: string;
  userAgent?: string;
  /** RFC 3261 timers; shorten them in tests. */
  timers?: Partial<TimerSettings>;
  /** Back-off after a failed attempt (RFC 5626 4.5): base, doubling per failure up to max, 50-100% jitter. */
  retry?: { baseMs?: number; maxMs?: number };
  tls?: TlsOptions;
  logger?: Logger;
  /** Requests larger than this go over TCP when the transport is UDP; default 1300 (RFC 3261 18.1.1). */
  udpMaxRequestBytes?: number;
  /** Extra headers for every REGISTER (e.g. P-Access-Network-Info). */
  extraHeaders?: Array<[name: string, value: string]>;
  /** Send the TS 24.229 Authorization with empty nonce in the first REGISTER; default true. */
  initialAuthorization?: boolean;
}

/** Options checked and filled in. */
export interface ResolvedOptions {
  registrarUri: SipUri;
  registrarHost: string;
  registrarPort: number;
  transport: TransportName;
  impi: string;
  impu: string;
  impuUri: SipUri;
  domain: string;
  expires: number;
  instanceId: string;
  retryBaseMs: number;
  retryMaxMs: number;
  aka?: AkaKeys;
}

const TRANSPORTS: readonly TransportName[] = ['udp', 'tcp', 'tls'];
const MAX_EXPIRES = 2 ** 31 - 1;

function invalid(field: string, why: string, value?: unknown): InvalidArgumentError {
  const shown = value === undefined ? '' : ` (${JSON.stringify(value)})`;
  return new InvalidArgumentError(`ims ${field}${shown}: ${why}`, { subject: field });
}

export function resolveOptions(options: RegistrationOptions): ResolvedOptions {
  const registrarUri = parseSipUri(options.registrar ?? '', 'registrar');
  const uriTransport = registrarUri.params.get('transport')?.toLowerCase();
  const transport = (options.transport ??
    uriTransport ??
    (registrarUri.scheme === 'sips' ? 'tls' : 'udp')) as TransportName;
  if (!TRANSPORTS.includes(transport)) throw invalid('transport', 'must be udp, tcp or tls', transport);

  const impuUri = parseSipUri(options.impu ?? '', 'IMPU');
  if (impuUri.user === undefined) throw invalid('impu', 'must name a user, as in sip:user@domain', options.impu);

  const impi = options.impi ?? '';
  if (impi === '' || /[\s"\\]/.test(impi)) throw invalid('impi', 'must be non-empty, without spaces or quotes', impi);
  if (options.aka === undefined && (typeof options.password !== 'string' || options.password === '')) {
    throw invalid('password', 'is empty (and no aka keys are given)');
  }
  const aka = options.aka === undefined ? undefined : akaKeys(options.aka);

  const domain = options.domain ?? impuUri.host;
  if (!/^[A-Za-z0-9.\-:[\]]+$/.test(domain)) throw invalid('domain', 'is not a host name', domain);

  const expires = options.expires ?? 600_000;
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRES) {
    throw invalid('expires', `must be a whole number of seconds from 1 to ${MAX_EXPIRES}`, expires);
  }
  if (options.contactPort !== undefined && !validPort(options.contactPort)) {
    throw invalid('contactPort', 'must be 1-65535', options.contactPort);
  }
  if (options.localPort !== undefined && options.localPort !== 0 && !validPort(options.localPort)) {
    throw invalid('localPort', 'must be 0-65535', options.localPort);
  }
  const instanceId = options.instanceId ?? defaultInstanceId(options.impu);
  if (!/^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[^\s"<>]+$/.test(instanceId)) {
    throw invalid('instanceId', 'must be a URN such as urn:uuid:...', instanceId);
  }
  const retryBaseMs = options.retry?.baseMs ?? 30_000;
  const retryMaxMs = options.retry?.maxMs ?? 1_800_000;
  if (!(retryBaseMs > 0 && retryMaxMs >= retryBaseMs)) throw invalid('retry', 'needs 0 < baseMs <= maxMs');

  return {
    registrarUri,
    registrarHost: registrarUri.host,
    registrarPort: registrarUri.port ?? (transport === 'tls' ? 5061 : 5060),
    transport,
    impi,
    impu: options.impu,
    impuUri,
    domain,
    expires,
    instanceId,
    retryBaseMs,
    retryMaxMs,
    ...(aka === undefined ? {} : { aka }),
  };
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/**
 * A +sip.instance that stays the same across restarts of the same server with the same identity (RFC 5626
 * 4.1 wants it persistent), without storing anything: a name-based UUID (version 5 layout) of host and IMPU.
 */
export function defaultInstanceId(impu: string, host = hostname()): string {
  const bytes = createHash('sha1').update(`edgepeer:${host}:${impu}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
