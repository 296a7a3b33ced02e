import { InvalidArgumentError } from '../errors/index.ts';
import type { Metainfo } from './types.ts';

const BTIH_PREFIX = 'urn:btih:';
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * A BEP 9 magnet link: xt (the v1 info hash), dn (name), xl (length), then tr and ws for each tracker and
 * web seed: the metainfo's own, followed by `extra` ones not already listed.
 */
export function magnetLink(metainfo: Metainfo, extra: { trackers?: string[]; webSeeds?: string[] } = {}): string {
  const trackers = unique([...metainfo.announceList.flat(), ...(extra.trackers ?? [])]);
  const webSeeds = unique([...metainfo.urlList, ...(extra.webSeeds ?? [])]);
  const parameters = [
    `xt=${BTIH_PREFIX}${metainfo.infoHash}`,
    `dn=${encodeURIComponent(metainfo.name)}`,
    `xl=${metainfo.length}`,
    ...trackers.map((url) => `tr=${encodeURIComponent(url)}`),
    ...webSeeds.map((url) => `ws=${encodeURIComponent(url)}`),
  ];
  return `magnet:?${parameters.join('&')}`;
}

/** Reads a magnet link's v1 info hash (hex or base32), name, trackers and web seeds. */
export function parseMagnet(uri: string): { infoHash: string; name?: string; trackers: string[]; webSeeds: string[] } {
  const fail = (what: string): never => {
    throw new InvalidArgumentError(`magnet link ${JSON.stringify(truncate(uri))}: ${what}`, { subject: uri });
  };
  if (!/^magnet:\?/i.test(uri)) fail('does not start with "magnet:?"');
  const parameters = new URLSearchParams(uri.slice(uri.indexOf('?') + 1));
  let infoHash: string | undefined;
  let name: string | undefined;
  const trackers: string[] = [];
  const webSeeds: string[] = [];
  for (const [rawKey, value] of parameters) {
    // BEP 9 allows numbered keys (tr.1, tr.2) for several values.
    const key = rawKey.toLowerCase().replace(/\.\d+$/, '');
    if (key === 'xt' && infoHash === undefined && value.toLowerCase().startsWith(BTIH_PREFIX)) {
      infoHash =
        infoHashFromUrn(value.slice(BTIH_PREFIX.length)) ?? fail(`${JSON.stringify(value)} is not a v1 info hash`);
    } else if (key === 'dn' && name === undefined) {
      name = value;
    } else if (key === 'tr' && value !== '') {
      trackers.push(value);
    } else if (key === 'ws' && value !== '') {
      webSeeds.push(value);
    }
  }
  if (infoHash === undefined) return fail('has no xt=urn:btih: info hash');
  return {
    infoHash,
    ...(name === undefined ? {} : { name }),
    trackers: unique(trackers),
    webSeeds: unique(webSeeds),
  };
}

/** 40 hex digits or 32 base32 characters -> 40 lowercase hex digits. */
function infoHashFromUrn(text: string): string | undefined {
  if (/^[0-9a-f]{40}$/i.test(text)) return text.toLowerCase();
  if (/^[a-z2-7]{32}$/i.test(text)) return base32ToHex(text.toUpperCase());
  return undefined;
}

function base32ToHex(text: string): string {
  const bytes = Buffer.alloc(20);
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const character of text) {
    value = (value << 5) | BASE32_ALPHABET.indexOf(character);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[index++] = (value >>> bits) & 0xff;
    }
  }
  return bytes.toString('hex');
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function truncate(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
