import { SipError } from '../errors/index.ts';

// The grammar of the header values a registration client reads (RFC 3261 25.1): comma-separated lists,
// name-addr with parameters, Via, and the auth-params of a digest challenge. Input is untrusted; failures are
// SipError(EDGEPEER_SIP_MALFORMED).

function malformed(why: string): SipError {
  return new SipError('EDGEPEER_SIP_MALFORMED', `malformed header value: ${why}`);
}

/** Splits a header value at commas outside quoted strings and <...> (list headers: Contact, Service-Route). */
export function splitList(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      current += c;
      if (c === '\\' && i + 1 < value.length) current += value[++i];
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '<') angle = true;
    else if (c === '>') angle = false;
    else if (c === ',' && !angle) {
      parts.push(current.trim());
      current = '';
      continue;
    }
    current += c;
  }
  if (quoted) throw malformed('unterminated quoted string');
  parts.push(current.trim());
  return parts.filter((p) => p !== '');
}

/** Removes the quotes and backslash escapes of a quoted-string; a token comes back as it is. */
export function unquote(text: string): string {
  if (!text.startsWith('"')) return text;
  if (text.length < 2 || !text.endsWith('"')) throw malformed(`unterminated quoted string ${text.slice(0, 40)}`);
  return text.slice(1, -1).replace(/\\(.)/g, '$1');
}

export function quote(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

/** Parses `;name=value;flag;name="quoted"` (leading ';' optional). Names lowercased; flags map to ''. */
export function parseParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of splitOutsideQuotes(text, ';')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const name = (eq >= 0 ? trimmed.slice(0, eq) : trimmed).trim().toLowerCase();
    if (!/^[A-Za-z0-9\-.!%*_+`'~]+$/.test(name)) throw malformed(`bad parameter ${JSON.stringify(trimmed)}`);
    params.set(name, eq >= 0 ? unquote(trimmed.slice(eq + 1).trim()) : '');
  }
  return params;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === '\\' && i + 1 < text.length) {
      current += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === separator && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  if (quoted) throw malformed('unterminated quoted string');
  parts.push(current);
  return parts;
}

/** One entry of From, To, Contact, Service-Route, P-Associated-URI, Path. */
export interface NameAddr {
  display?: string;
  uri: string;
  params: Map<string, string>;
}

export function parseNameAddr(text: string): NameAddr {
  const value = text.trim();
  const open = findUnquoted(value, '<');
  if (open >= 0) {
    const close = value.indexOf('>', open);
    if (close < 0) throw malformed(`unclosed < in ${JSON.stringify(value.slice(0, 80))}`);
    const displayText = value.slice(0, open).trim();
    const uri = value.slice(open + 1, close).trim();
    if (uri === '') throw malformed('empty <> URI');
    const display = displayText === '' ? undefined : unquote(displayText);
    return { display, uri, params: parseParams(value.slice(close + 1)) };
  }
  // addr-spec without brackets: any ';' starts header parameters (RFC 3261 20.10).
  const semi = value.indexOf(';');
  const uri = (semi >= 0 ? value.slice(0, semi) : value).trim();
  if (uri === '' || /\s/.test(uri)) throw malformed(`bad address ${JSON.stringify(value.slice(0, 80))}`);
  return { uri, params: parseParams(semi >= 0 ? value.slice(semi) : '') };
}

function findUnquoted(text: string, char: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === char && !quoted) return i;
  }
  return -1;
}

/** Every name-addr of a list header, over all its header lines, in order. */
export function parseNameAddrList(lines: string[]): NameAddr[] {
  return lines.flatMap((line) => splitList(line)).map(parseNameAddr);
}

export interface Via {
  transport: string;
  host: string;
  port?: number;
  params: Map<string, string>;
}

/** Parses one Via entry: `SIP/2.0/UDP host:port;branch=...`. */
export function parseVia(text: string): Via {
  const match =
    /^SIP[ \t]*\/[ \t]*2\.0[ \t]*\/[ \t]*([A-Za-z0-9-]+)[ \t]+(\[[0-9A-Fa-f:.]+\]|[^\s:;[\]]+)(?:[ \t]*:[ \t]*(\d{1,5}))?[ \t]*(;.*)?$/s.exec(
      text.trim(),
    );
  if (!match) throw malformed(`bad Via ${JSON.stringify(text.slice(0, 80))}`);
  const host = match[2]!.replace(/^\[|\]$/g, '');
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65535)) throw malformed(`bad Via port ${port}`);
  return { transport: match[1]!.toUpperCase(), host, port, params: parseParams(match[4] ?? '') };
}

export interface AuthChallenge {
  /** Lowercased: 'digest'. */
  scheme: string;
  /** Parameter names lowercased, values unquoted. */
  params: Map<string, string>;
}

/** Parses a WWW-Authenticate or Proxy-Authenticate value: `Digest realm="x", nonce="y", qop="auth"`. */
export function parseChallenge(text: string): AuthChallenge {
  const value = text.trim();
  const schemeMatch = /^([A-Za-z0-9\-.!%*_+`'~]+)(?:[ \t]+|$)/.exec(value);
  if (!schemeMatch) throw malformed(`bad challenge ${JSON.stringify(value.slice(0, 80))}`);
  const params = new Map<string, string>();
  let i = schemeMatch[0].length;
  while (i < value.length) {
    while (i < value.length && /[\s,]/.test(value[i]!)) i++;
    if (i >= value.length) break;
    const name = /^[A-Za-z0-9\-.!%*_+`'~]+/.exec(value.slice(i));
    if (!name) throw malformed(`bad auth-param at ${JSON.stringify(value.slice(i, i + 40))}`);
    i += name[0].length;
    while (i < value.length && /[ \t]/.test(value[i]!)) i++;
    if (value[i] !== '=') throw malformed(`auth-param ${name[0]} without value`);
    i++;
    while (i < value.length && /[ \t]/.test(value[i]!)) i++;
    let paramValue = '';
    if (value[i] === '"') {
      let j = i + 1;
      while (j < value.length && value[j] !== '"') j += value[j] === '\\' ? 2 : 1;
      if (j >= value.length) throw malformed(`unterminated quoted value of ${name[0]}`);
      paramValue = unquote(value.slice(i, j + 1));
      i = j + 1;
    } else {
      const token = /^[^\s,]*/.exec(value.slice(i))![0];
      paramValue = token;
      i += token.length;
    }
    params.set(name[0].toLowerCase(), paramValue);
  }
  return { scheme: schemeMatch[1]!.toLowerCase(), params };
}
