// Bencoded answers of the HTTP tracker: an announce (BEP 3 with compact peers BEP 23, IPv6 peers6 BEP 7,
// url-list of network peers, the extension offer) and a scrape (BEP 48); and the JSON of its other routes.
import type { ServerResponse } from 'node:http';
import { type BencodeInput, encodeBencode } from '../protocol/bencode.ts';
import { EXTENSION_RESPONSE_KEY, EXTENSION_VERSION } from '../protocol/extension.ts';
import type { ParsedAnnounce } from './announce-request.ts';
import type { AnnounceOutcome, ScrapeEntry } from './swarm-store.ts';

export interface AnswerSettings {
  intervalS: number;
  minIntervalS: number;
  trackerId: string;
  batchPath: string;
  maxBatch: number;
  maxPieces: number;
  statsPath: string;
}

export function failureAnswer(reason: string, retryInMinutes?: number): Buffer {
  return encodeBencode({ 'failure reason': reason, 'retry in': retryInMinutes });
}

/** The dictionary answering one announce; `shared` leaves out what a multi-object answer says once. */
export function announceDictionary(
  parsed: ParsedAnnounce,
  outcome: AnnounceOutcome,
  settings: AnswerSettings,
  shared = false,
): { [key: string]: BencodeInput | undefined } {
  if (outcome.failure !== undefined) return { 'failure reason': outcome.failure };
  const warnings = [...parsed.warnings, ...outcome.warnings];
  const dictionary: { [key: string]: BencodeInput | undefined } = {
    complete: outcome.complete,
    incomplete: outcome.incomplete,
    downloaded: outcome.downloaded,
    'url-list': outcome.urlList.length > 0 ? outcome.urlList : undefined,
    'warning message': warnings.length > 0 ? warnings.join('; ') : undefined,
  };
  if (!shared) {
    dictionary['interval'] = settings.intervalS;
    dictionary['min interval'] = settings.minIntervalS;
    dictionary['tracker id'] = settings.trackerId;
    if (parsed.extension) dictionary[EXTENSION_RESPONSE_KEY] = extensionOffer(settings, outcome.pieceUrls);
  } else if (outcome.pieceUrls.length > 0) {
    dictionary[EXTENSION_RESPONSE_KEY] = { 'piece-urls': outcome.pieceUrls };
  }
  // A multi-object entry that asked for no peers gets no peer keys at all.
  if (shared && parsed.announce.numWant === 0) return dictionary;
  if (parsed.compact) {
    let v4 = '';
    let v6 = '';
    for (const peer of outcome.peers) {
      if (peer.family === 4) v4 += peer.compact;
      else v6 += peer.compact;
    }
    dictionary['peers'] = Buffer.from(v4, 'latin1');
    if (v6.length > 0) dictionary['peers6'] = Buffer.from(v6, 'latin1');
  } else {
    dictionary['peers'] = outcome.peers.map((peer) => ({
      'peer id': parsed.noPeerId ? undefined : Buffer.from(peer.peerId, 'latin1'),
      ip: peer.ip,
      port: peer.port,
    }));
  }
  return dictionary;
}

export function extensionOffer(
  settings: AnswerSettings,
  pieceUrls: string[] = [],
): { [key: string]: BencodeInput | undefined } {
  return {
    v: EXTENSION_VERSION,
    batch: settings.batchPath,
    'max batch': settings.maxBatch,
    'max pieces': settings.maxPieces,
    stats: settings.statsPath,
    'piece-urls': pieceUrls.length > 0 ? pieceUrls : undefined,
  };
}

export function scrapeAnswer(entries: ScrapeEntry[]): Buffer {
  const files: { [key: string]: BencodeInput } = {};
  for (const entry of entries) {
    files[Buffer.from(entry.infoHash, 'hex').toString('latin1')] = {
      complete: entry.complete,
      downloaded: entry.downloaded,
      incomplete: entry.incomplete,
    };
  }
  return encodeBencode({ files });
}

/** A JSON answer of the tracker's other routes (statistics, the allow-list), never cached. */
export function sendJson(res: ServerResponse, value: unknown, status = 200): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
  });
  res.end(body);
}
