import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors/index.ts';

/** A parsed sip: or sips: URI (RFC 3261 19.1). Only what a registration client needs. */
export interface SipUri {
  scheme: 'sip' | 'sips';
  user?: string;
  /** Host name or IP address, IPv6 without brackets. */
  host: string;
  port?: number;
  /** URI parameters, names lowercased; a parameter without value maps to ''. */
  params: Map<string, string>;
}

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;
const USER = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$/;
const PARAM_NAME = /^[A-Za-z0-9\-_.!~*'()[\]/:&+$%]+$/;

/** Parses a sip:/sips: URI; `what` names it in the error (e.g. "--registrar"). */
export function parseSipUri(text: string, what = 'SIP URI'): SipUri {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(text)} is not a valid SIP URI: ${why}`, {
      subject: text,
    });
  };
  const match = /^(sips?):(.*)$/i.exec(text.trim());
  if (!match) return fail('it must start with sip: or sips:');
  const scheme = match[1]!.toLowerCase() as 'sip' | 'sips';
  let rest = match[2]!;
  const query = rest.indexOf('?');
  if (query >= 0) rest = rest.slice(0, query);

  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    // user:password is deprecated (RFC 3261 19.1.1); drop the password part rather than keep a secret.
    const colon = user.indexOf(':');
    if (colon >= 0) user = user.slice(0, colon);
    if (user === '' || !USER.test(user)) fail('bad user part');
  }

  const semi = rest.indexOf(';');
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  const paramText = semi >= 0 ? rest.slice(semi + 1) : '';

  let host: string;
  let portText: string | undefined;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) return fail('unclosed [ in IPv6 address');
    host = hostport.slice(1, close);
    if (isIP(host) !== 6) fail(`${host} is not an IPv6 address`);
    const after = hostport.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) fail('junk after the IPv6 address');
      portText = after.slice(1);
    }
  } else {
    const colon = hostport.indexOf(':');
    host = colon >= 0 ? hostport.slice(0, colon) : hostport;
    if (colon >= 0) portText = hostport.slice(colon + 1);
    if (host === '') fail('no host');
    if (isIP(host) !== 4 && !HOST_NAME.test(host)) fail(`bad host ${JSON.stringify(host)}`);
  }

  let port: number | undefined;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) fail(`bad port ${JSON.stringify(portText)}`);
  }

  const params = new Map<string, string>();
  if (paramText !== '') {
    for (const part of paramText.split(';')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = (eq >= 0 ? part.slice(0, eq) : part).toLowerCase();
      if (!PARAM_NAME.test(name)) fail(`bad parameter ${JSON.stringify(part)}`);
      params.set(name, eq >= 0 ? part.slice(eq + 1) : '');
    }
  }
  return port === undefined ? { scheme, user, host, params } : { scheme, user, host, port, params };
}

/** Host as it appears in a URI or Via: IPv6 addresses in brackets. */
export function formatHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

export function formatSipUri(uri: SipUri): string {
  let text = `${uri.scheme}:`;
  if (uri.user !== undefined) text += `${uri.user}@`;
  text += formatHost(uri.host);
  if (uri.port !== undefined) text += `:${uri.port}`;
  for (const [name, value] of uri.params) text += value === '' ? `;${name}` : `;${name}=${value}`;
  return text;
}

/**
 * Whether two SIP URIs name the same contact: scheme, user, host (case-insensitive), port (absent = default),
 * and transport. Enough to find our own binding among the ones a registrar lists (RFC 3261 19.1.4, simplified).
 */
export function sameContactUri(a: SipUri, b: SipUri): boolean {
  const defaultPort = (u: SipUri) => u.port ?? (u.scheme === 'sips' ? 5061 : 5060);
  const transport = (u: SipUri) => (u.params.get('transport') ?? '').toLowerCase() || 'udp';
  return (
    a.scheme === b.scheme &&
    a.user === b.user &&
    normalizeHost(a.host) === normalizeHost(b.host) &&
    defaultPort(a) === defaultPort(b) &&
    transport(a) === transport(b)
  );
}

function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  // ::1 and 0:0:0:0:0:0:0:1 are the same address; Node's URL parser gives the canonical text form.
  if (isIP(lower) === 6) return new URL(`http://[${lower}]/`).hostname;
  return lower;
}
