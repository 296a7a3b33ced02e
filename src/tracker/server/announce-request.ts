// Turns the parameters of an announce (HTTP query, multi-object entry or UDP packet) into a checked
// PeerAnnounce. A bad standard parameter refuses the announce with a failure reason naming it; a bad
// extension parameter only drops the extension data, with a warning, so a standard announce still works.
import { isIP } from 'node:net';
import { BitmapError, decodeBitmap } from '../protocol/bitmap.ts';
import { addressFamily, normalizeIp } from '../protocol/compact.ts';
import { checkCdnUrl, ExtensionParam, MAX_CDN_URLS } from '../protocol/extension.ts';
import type { QueryParams } from '../protocol/query.ts';
import { type CdnAllowList, cdnUrlAllowed } from './cdn-allow.ts';
import type { NetworkPeerReport, PeerAnnounce, PeerEvent } from './swarm-store.ts';

export class AnnounceRefused extends Error {}

export interface AnnounceLimits {
  defaultNumWant: number;
  maxNumWant: number;
  maxPieces: number;
  /** Accept the `ip` parameter (a peer behind a proxy or NAT naming its address). */
  trustIpParam: boolean;
  /** CDN URLs an announcer may claim besides those at its own address. */
  cdnAllow: CdnAllowList;
}

export interface ParsedAnnounce {
  announce: PeerAnnounce;
  /** BEP 23: compact peer lists unless the client asked for compact=0. */
  compact: boolean;
  noPeerId: boolean;
  /** The announce carried `ep`: answer with the extension offer. */
  extension: boolean;
  warnings: string[];
}

const EVENTS = new Set(['started', 'completed', 'stopped', 'paused', 'empty', '']);

/** Reads parameters by name as raw bytes (query strings and multi-object entries alike). */
export interface ParamSource {
  bytes(name: string): Buffer | undefined;
  all(name: string): Buffer[];
}

export function queryParamSource(params: QueryParams): ParamSource {
  return {
    bytes: (name) => params.get(name)?.[0],
    all: (name) => params.get(name) ?? [],
  };
}

export function parseAnnounce(
  source: ParamSource,
  remoteIp: string,
  now: number,
  limits: AnnounceLimits,
): ParsedAnnounce {
  const infoHash = fixedBytes(source, 'info_hash');
  const peerId = fixedBytes(source, 'peer_id');
  const eventText = text(source, 'event') ?? '';
  if (!EVENTS.has(eventText))
    throw new AnnounceRefused(`event must be started, completed, stopped or empty, got "${eventText}"`);
  const event = eventText === '' || eventText === 'empty' ? undefined : (eventText as PeerEvent);
  const port = integer(source, 'port', { required: true, max: 65535 });
  if (port === 0 && event !== 'stopped') throw new AnnounceRefused('port must be 1-65535');
  const left = integer(source, 'left', { required: true });
  const warnings: string[] = [];
  let ip = normalizeIp(remoteIp);
  const ipParam = text(source, 'ip');
  if (ipParam !== undefined && limits.trustIpParam) {
    if (isIP(ipParam) !== 0) ip = normalizeIp(ipParam);
    else warnings.push(`ip "${ipParam.slice(0, 64)}" is not an IP address: ignored`);
  }
  // Some clients send numwant=-1 for "the default"; anything but a count means the default.
  const numWantText = text(source, 'numwant');
  const numWant = Math.min(
    numWantText !== undefined && DIGITS.test(numWantText) ? Number(numWantText) : limits.defaultNumWant,
    limits.maxNumWant,
  );
  const announce: PeerAnnounce = {
    infoHash: infoHash.toString('hex'),
    peerId,
    ip,
    family: addressFamily(ip),
    port,
    uploaded: integer(source, 'uploaded') ?? 0,
    downloaded: integer(source, 'downloaded') ?? 0,
    left,
    event,
    numWant,
    now,
  };
  const extension = source.bytes(ExtensionParam.version) !== undefined;
  if (extension) announce.network = parseExtension(source, limits, ip, warnings);
  return {
    announce,
    compact: text(source, 'compact') !== '0',
    noPeerId: text(source, 'no_peer_id') === '1',
    extension,
    warnings,
  };
}

function parseExtension(
  source: ParamSource,
  limits: AnnounceLimits,
  announcerIp: string,
  warnings: string[],
): NetworkPeerReport {
  const report: NetworkPeerReport = { urls: [] };
  const pieces = optionalInteger(source, ExtensionParam.pieces, warnings);
  if (pieces !== undefined) {
    if (pieces < 1 || pieces > limits.maxPieces) {
      warnings.push(`${ExtensionParam.pieces} must be 1-${limits.maxPieces}: bitmap ignored`);
    } else {
      report.pieceCount = pieces;
    }
  }
  const size = optionalInteger(source, ExtensionParam.size, warnings);
  if (size !== undefined) report.size = size;
  const bitmap = text(source, ExtensionParam.bitmap);
  if (bitmap !== undefined && report.pieceCount !== undefined) {
    try {
      report.bitmap = decodeBitmap(bitmap, report.pieceCount);
    } catch (err) {
      if (!(err instanceof BitmapError)) throw err;
      warnings.push(`${ExtensionParam.bitmap}: ${err.message}: bitmap ignored`);
    }
  } else if (bitmap !== undefined) {
    warnings.push(`${ExtensionParam.bitmap} without a valid ${ExtensionParam.pieces}: bitmap ignored`);
  }
  for (const value of source.all(ExtensionParam.url).slice(0, MAX_CDN_URLS)) {
    const url = checkCdnUrl(value.toString('utf8'));
    if (url === undefined) {
      warnings.push(`${ExtensionParam.url} must be an http(s) base URL without query: ignored`);
    } else if (!cdnUrlAllowed(url, announcerIp, limits.cdnAllow)) {
      warnings.push(
        `${ExtensionParam.url} ${url.slice(0, 200)} is not at your address ${announcerIp}, nor a CDN host this tracker allows: ignored`,
      );
    } else if (!report.urls.includes(url)) {
      report.urls.push(url);
    }
  }
  return report;
}

function fixedBytes(source: ParamSource, name: string): Buffer {
  const value = source.bytes(name);
  if (value === undefined) throw new AnnounceRefused(`${name} is missing`);
  if (value.length !== 20) throw new AnnounceRefused(`${name} must be 20 bytes, got ${value.length}`);
  return value;
}

function text(source: ParamSource, name: string): string | undefined {
  return source.bytes(name)?.toString('latin1');
}

const DIGITS = /^\d{1,16}$/;
const DIGITS_64 = /^\d{1,20}$/;
const MAX_UINT64 = '18446744073709551615';

function integer(source: ParamSource, name: string, options: { required: true; max?: number }): number;
function integer(source: ParamSource, name: string, options?: { required?: false; max?: number }): number | undefined;
function integer(
  source: ParamSource,
  name: string,
  options: { required?: boolean; max?: number } = {},
): number | undefined {
  const value = text(source, name);
  if (value === undefined) {
    if (options.required) throw new AnnounceRefused(`${name} is missing`);
    return undefined;
  }
  if (options.max !== undefined) {
    const number = DIGITS.test(value) ? Number(value) : Number.NaN;
    if (!(number <= options.max)) {
      throw new AnnounceRefused(`${name} must be an integer 0-${options.max}, got "${value.slice(0, 32)}"`);
    }
    return number;
  }
  // Counters are 64-bit (BEP 15 sends them so); Transmission announces left=2^63-1 while it does not know
  // the size. Clamped to 2^53-1, where a JavaScript number stops counting exactly, as the UDP path does.
  // Compared as text: 2^64 and 2^64-1 are the same double.
  const digits = value.replace(/^0+(?=\d)/, '');
  if (!DIGITS_64.test(digits) || (digits.length === 20 && digits > MAX_UINT64)) {
    throw new AnnounceRefused(`${name} must be a 64-bit unsigned integer, got "${value.slice(0, 32)}"`);
  }
  return Math.min(Number(digits), Number.MAX_SAFE_INTEGER);
}

function optionalInteger(source: ParamSource, name: string, warnings: string[]): number | undefined {
  try {
    return integer(source, name);
  } catch (err) {
    if (!(err instanceof AnnounceRefused)) throw err;
    warnings.push(`${err.message}: ignored`);
    return undefined;
  }
}
