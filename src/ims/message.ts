import { SipError } from '../errors/index.ts';

// SIP messages (RFC 3261 section 7): parsing that survives any input, and serialising our own requests.
// Whatever arrives from the network is untrusted: every failure is a SipError(EDGEPEER_SIP_MALFORMED),
// which the transport layer logs and drops; nothing here may throw anything else or loop on bad input.

export interface SipHeader {
  /** Lowercased long form (compact forms expanded): 'via', 'call-id', 'www-authenticate'. */
  name: string;
  value: string;
}

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: SipHeader[];
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeader[];
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** Largest message accepted or sent, as a UDP datagram can hold (RFC 3261 18.1.1 limits UDP to far less). */
export const MAX_MESSAGE_BYTES = 65_535;
const MAX_HEADERS = 256;

const COMPACT: Record<string, string> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const HEADER_LINE = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:[ \t]*(.*)$/s;
const STATUS_LINE = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/s;
const REQUEST_LINE = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/2\.0$/;

function malformed(why: string): SipError {
  return new SipError('EDGEPEER_SIP_MALFORMED', `malformed SIP message: ${why}`);
}

export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

/** Offset just past the blank line ending the header section, or -1; accepts bare LF line ends too. */
function headerEnd(data: Buffer, from: number): { end: number; bodyStart: number } | undefined {
  for (let i = from; i < data.length - 1; i++) {
    if (data[i] !== 0x0a) continue;
    if (data[i + 1] === 0x0a) return { end: i, bodyStart: i + 2 };
    if (data[i + 1] === 0x0d && data[i + 2] === 0x0a) return { end: i, bodyStart: i + 3 };
  }
  return undefined;
}

/** Index of the first byte that is not CR or LF (keep-alives and stray line ends before a start line). */
function skipLineEnds(data: Buffer): number {
  let i = 0;
  while (i < data.length && (data[i] === 0x0d || data[i] === 0x0a)) i++;
  return i;
}

/**
 * Parses one SIP message. `datagram`: a whole UDP payload (Content-Length may be missing, then the body is the
 * rest; a longer payload is cut at Content-Length). Otherwise `data` must be exactly one framed message.
 */
export function parseMessage(data: Buffer, options: { datagram: boolean } = { datagram: true }): SipMessage {
  if (data.length > MAX_MESSAGE_BYTES) throw malformed(`${data.length} bytes is more than ${MAX_MESSAGE_BYTES}`);
  const start = skipLineEnds(data);
  if (start === data.length) throw malformed('empty');
  const end = headerEnd(data, start);
  if (!end) throw malformed('no blank line after the headers (truncated?)');
  const lines = data.toString('utf8', start, end.end).split(/\r?\n/);

  const startLine = lines[0]!.replace(/\r$/, '');
  const headers = parseHeaderLines(lines.slice(1));
  const body = bodyOf(data, end.bodyStart, headers, options.datagram);

  const status = STATUS_LINE.exec(startLine);
  if (status) {
    const message: SipResponse = {
      kind: 'response',
      status: Number(status[1]),
      reason: status[2]!,
      headers,
      body,
    };
    requireCoreHeaders(message);
    return message;
  }
  const request = REQUEST_LINE.exec(startLine);
  if (request) {
    const message: SipRequest = { kind: 'request', method: request[1]!, uri: request[2]!, headers, body };
    requireCoreHeaders(message);
    return message;
  }
  throw malformed(`bad start line ${JSON.stringify(startLine.slice(0, 80))}`);
}

/** parseMessage, with the failure as a value: for callers that drop bad messages and go on. */
export function tryParse(data: Buffer, datagram: boolean): SipMessage | SipError {
  try {
    return parseMessage(data, { datagram });
  } catch (err) {
    return err instanceof SipError ? err : malformed(String(err));
  }
}

function parseHeaderLines(lines: string[]): SipHeader[] {
  const headers: SipHeader[] = [];
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    if (/^[ \t]/.test(line)) {
      // Folded continuation of the previous header (RFC 3261 7.3.1).
      const last = headers[headers.length - 1];
      if (!last) throw malformed('continuation line before any header');
      last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const match = HEADER_LINE.exec(line);
    if (!match) throw malformed(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    if (headers.length >= MAX_HEADERS) throw malformed(`more than ${MAX_HEADERS} headers`);
    headers.push({ name: canonicalHeaderName(match[1]!), value: match[2]!.trim() });
  }
  return headers;
}

function bodyOf(data: Buffer, bodyStart: number, headers: SipHeader[], datagram: boolean): Buffer {
  const available = data.length - bodyStart;
  const lengthHeaders = headers.filter((h) => h.name === 'content-length');
  if (lengthHeaders.length === 0) {
    if (!datagram) throw malformed('no Content-Length on a stream transport');
    return data.subarray(bodyStart);
  }
  if (lengthHeaders.length > 1) throw malformed('more than one Content-Length');
  const text = lengthHeaders[0]!.value;
  if (!/^\d{1,9}$/.test(text)) throw malformed(`bad Content-Length ${JSON.stringify(text.slice(0, 20))}`);
  const length = Number(text);
  if (length > available) throw malformed(`Content-Length ${length} but only ${available} body bytes (truncated)`);
  return data.subarray(bodyStart, bodyStart + length);
}

function requireCoreHeaders(message: SipMessage): void {
  for (const name of ['via', 'from', 'to', 'call-id', 'cseq']) {
    if (!message.headers.some((h) => h.name === name)) throw malformed(`no ${name} header`);
  }
  parseCSeq(headerValue(message, 'cseq')!);
}

/** The first value of a header, or undefined. */
export function headerValue(message: { headers: SipHeader[] }, name: string): string | undefined {
  const wanted = canonicalHeaderName(name);
  return message.headers.find((h) => h.name === wanted)?.value;
}

/** Every line of a header in order (several header lines may carry one list). */
export function headerLines(message: { headers: SipHeader[] }, name: string): string[] {
  const wanted = canonicalHeaderName(name);
  return message.headers.filter((h) => h.name === wanted).map((h) => h.value);
}

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string): CSeq {
  const match = /^(\d{1,10})[ \t]+(\S+)$/.exec(value.trim());
  const seq = match ? Number(match[1]) : Number.NaN;
  if (!match || seq >= 2 ** 31 || !TOKEN.test(match[2]!)) throw malformed(`bad CSeq ${JSON.stringify(value)}`);
  return { seq, method: match[2]! };
}

/** A request we build: headers in order, without Via (the transaction layer adds it) and Content-Length. */
export interface OutgoingRequest {
  method: string;
  uri: string;
  headers: Array<[name: string, value: string]>;
  body?: Buffer;
}

export function serializeRequest(request: OutgoingRequest, via: string): Buffer {
  return serialize(`${request.method} ${request.uri} SIP/2.0`, [['Via', via], ...request.headers], request.body);
}

export function serialize(startLine: string, headers: Array<[string, string]>, body: Buffer = Buffer.alloc(0)): Buffer {
  let head = `${startLine}\r\n`;
  for (const [name, value] of headers) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw malformed(`line break in header ${JSON.stringify(name)}`);
    }
    head += `${name}: ${value}\r\n`;
  }
  head += `Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), body]);
}

/**
 * Cuts a byte stream (TCP, TLS) into SIP messages by Content-Length (RFC 3261 18.3). CRLF keep-alives
 * (RFC 5626 4.4.1) between messages are skipped. A well-framed message that does not parse comes out as its
 * SipError (drop it, keep the connection); push() throws SipError(EDGEPEER_SIP_MALFORMED) when the stream
 * cannot be framed any more, and the caller must then drop the connection.
 */
export class SipStreamDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Array<SipMessage | SipError> {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const messages: Array<SipMessage | SipError> = [];
    for (;;) {
      const start = skipLineEnds(this.buffer);
      if (start > 0) this.buffer = this.buffer.subarray(start);
      if (this.buffer.length === 0) break;
      const end = headerEnd(this.buffer, 0);
      if (!end) {
        if (this.buffer.length > MAX_MESSAGE_BYTES) throw malformed('header section too long');
        break;
      }
      const head = this.buffer.toString('latin1', 0, end.end);
      const lengths = [...head.matchAll(/^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*\r?$/gim)];
      if (lengths.length !== 1 || !/^\d{1,9}$/.test(lengths[0]![1]!)) {
        throw malformed('stream message without exactly one valid Content-Length');
      }
      const total = end.bodyStart + Number(lengths[0]![1]);
      if (total > MAX_MESSAGE_BYTES) throw malformed(`message of ${total} bytes is too large`);
      if (this.buffer.length < total) break;
      const data = this.buffer.subarray(0, total);
      this.buffer = this.buffer.subarray(total);
      messages.push(tryParse(data, false));
    }
    return messages;
  }

  /** Bytes held waiting for the rest of a message. */
  get pending(): number {
    return this.buffer.length;
  }
}

/** A response to a request that reached us (RFC 3261 8.2.6): Via, From, To, Call-ID and CSeq copied. */
export function serializeResponse(
  request: SipRequest,
  status: number,
  reason: string,
  extra: Array<[string, string]> = [],
  toTag = '',
): Buffer {
  const copied: Array<[string, string]> = [];
  for (const header of request.headers) {
    if (header.name === 'via' || header.name === 'from' || header.name === 'call-id' || header.name === 'cseq') {
      copied.push([displayName(header.name), header.value]);
    } else if (header.name === 'to') {
      const tagged = toTag !== '' && !/;\s*tag=/i.test(header.value) ? `${header.value};tag=${toTag}` : header.value;
      copied.push(['To', tagged]);
    }
  }
  return serialize(`SIP/2.0 ${status} ${reason}`, [...copied, ...extra]);
}

function displayName(name: string): string {
  if (name === 'call-id') return 'Call-ID';
  if (name === 'cseq') return 'CSeq';
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}
