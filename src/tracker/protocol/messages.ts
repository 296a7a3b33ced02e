// Announce requests and responses as plain data, and the bencoded forms both sides share: the HTTP
// announce query (BEP 3, 7, 23 plus the bitmap extension), the answer dictionary, and the multi-object
// announce that edgepeer's tracker offers (docs/tracker.md, "Multi-object announce").
import {
  type BencodeDictionary,
  type BencodeInput,
  type BencodeValue,
  isDictionary,
  readBytes,
  readDictionary,
  readInteger,
  readList,
  readText,
} from './bencode.ts';
import { decodeCompactPeers, type PeerAddress } from './compact.ts';
import { EXTENSION_RESPONSE_KEY, type ExtensionOffer, ExtensionParam } from './extension.ts';
import { buildQuery } from './query.ts';

export type AnnounceEvent = 'started' | 'completed' | 'stopped';

/** The bitmap extension part of an announce. */
export interface AnnounceExtension {
  /** Absent when talking to a tracker known not to keep bitmaps (then only `ep=1` is sent). */
  pieceCount?: number;
  /** Total bytes of the object. */
  size?: number;
  /** Encoded bitmap (protocol/bitmap.ts); absent when left out to keep the request small. */
  bitmap?: string;
  /** The peer's HTTP base URLs. */
  urls: string[];
}

/** One object's announce, as a client sends it. */
export interface AnnounceParams {
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event?: AnnounceEvent;
  numWant?: number;
  key?: string;
  trackerId?: string;
  /** The address to list instead of the sender's (BEP 3 `ip`); trackers may ignore it. */
  ip?: string;
  extension?: AnnounceExtension;
}

export interface TrackerPeer extends PeerAddress {
  peerId?: Buffer;
}

/** A tracker's answer to one announce, as a client reads it. */
export interface AnnounceResult {
  failureReason?: string;
  /** BEP 31: minutes to wait before retrying after a failure, or 'never'. */
  retryIn?: number | 'never';
  warning?: string;
  interval?: number;
  minInterval?: number;
  trackerId?: string;
  complete?: number;
  incomplete?: number;
  downloaded?: number;
  peers: TrackerPeer[];
  /** BEP 19 web seed URLs of network peers holding the whole object. */
  urlList: string[];
  /** Piece URL patterns (`{index}`) of network peers. */
  pieceUrls: string[];
  /** Present when the tracker speaks the bitmap extension. */
  extension?: ExtensionOffer;
}

/** Query string of an HTTP announce (without the leading '?'). */
export function announceQuery(params: AnnounceParams, includeBitmap = true): string {
  const standard = buildQuery([
    ['info_hash', params.infoHash],
    ['peer_id', params.peerId],
    ['port', params.port],
    ['uploaded', params.uploaded],
    ['downloaded', params.downloaded],
    ['left', params.left],
    ['compact', 1],
    ['numwant', params.numWant],
    ['event', params.event],
    ['key', params.key],
    ['trackerid', params.trackerId],
    ['ip', params.ip],
  ]);
  if (params.extension === undefined) return standard;
  return `${standard}&${extensionQuery(params.extension, includeBitmap)}`;
}

/** The bitmap extension's query parameters (docs/tracker.md). */
export function extensionQuery(extension: AnnounceExtension, includeBitmap = true): string {
  return buildQuery([
    [ExtensionParam.version, 1],
    [ExtensionParam.pieces, extension.pieceCount],
    [ExtensionParam.size, extension.size],
    [ExtensionParam.bitmap, includeBitmap ? extension.bitmap : undefined],
    ...extension.urls.map((url) => [ExtensionParam.url, url] as const),
  ]);
}

/** Reads an announce answer dictionary (a whole HTTP response or one entry of a multi-object answer). */
export function readAnnounceResult(dictionary: BencodeDictionary): AnnounceResult {
  const result: AnnounceResult = { peers: [], urlList: [], pieceUrls: [] };
  const failure = readText(dictionary, 'failure reason');
  if (failure !== undefined) {
    result.failureReason = failure;
    const retryIn = dictionary['retry in'];
    if (typeof retryIn === 'number' && retryIn >= 0) result.retryIn = retryIn;
    else if (Buffer.isBuffer(retryIn) && retryIn.toString('latin1') === 'never') result.retryIn = 'never';
  }
  const warning = readText(dictionary, 'warning message');
  if (warning !== undefined) result.warning = warning;
  assignNonNegative(result, 'interval', readInteger(dictionary, 'interval'));
  assignNonNegative(result, 'minInterval', readInteger(dictionary, 'min interval'));
  assignNonNegative(result, 'complete', readInteger(dictionary, 'complete'));
  assignNonNegative(result, 'incomplete', readInteger(dictionary, 'incomplete'));
  assignNonNegative(result, 'downloaded', readInteger(dictionary, 'downloaded'));
  const trackerId = readBytes(dictionary, 'tracker id');
  if (trackerId !== undefined) result.trackerId = trackerId.toString('latin1');
  result.peers = readPeers(dictionary['peers'], 4);
  const peers6 = readBytes(dictionary, 'peers6');
  if (peers6 !== undefined) result.peers.push(...decodeCompactPeers(peers6, 16));
  result.urlList = readTextList(dictionary['url-list']);
  const offer = readDictionary(dictionary, EXTENSION_RESPONSE_KEY);
  if (offer !== undefined) {
    result.extension = readExtensionOffer(offer);
    result.pieceUrls = readTextList(offer['piece-urls']);
  }
  return result;
}

function assignNonNegative(
  result: AnnounceResult,
  key: 'interval' | 'minInterval' | 'complete' | 'incomplete' | 'downloaded',
  value: number | undefined,
): void {
  if (value !== undefined && value >= 0) result[key] = value;
}

/** `peers` as a compact string (BEP 23) or a list of dictionaries (BEP 3). */
function readPeers(value: BencodeValue | undefined, family: 4 | 6): TrackerPeer[] {
  if (Buffer.isBuffer(value)) return decodeCompactPeers(value, family === 4 ? 4 : 16);
  if (!Array.isArray(value)) return [];
  const peers: TrackerPeer[] = [];
  for (const item of value) {
    if (!isDictionary(item)) continue;
    const ip = readText(item, 'ip');
    const port = readInteger(item, 'port');
    if (ip === undefined || port === undefined || port < 1 || port > 65535) continue;
    const peerId = readBytes(item, 'peer id');
    peers.push(peerId === undefined ? { ip, port } : { ip, port, peerId });
  }
  return peers;
}

/** A string or a list of strings, as BEP 19 allows for url-list. */
function readTextList(value: BencodeValue | undefined): string[] {
  if (Buffer.isBuffer(value)) return [value.toString('utf8')];
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is Buffer => Buffer.isBuffer(item)).map((item) => item.toString('utf8'));
}

function readExtensionOffer(offer: BencodeDictionary): ExtensionOffer {
  const result: ExtensionOffer = { version: readInteger(offer, 'v') ?? 1 };
  const batch = readText(offer, 'batch');
  if (batch !== undefined) result.batchPath = batch;
  const maxBatch = readInteger(offer, 'max batch');
  if (maxBatch !== undefined && maxBatch > 0) result.maxBatch = maxBatch;
  const maxPieces = readInteger(offer, 'max pieces');
  if (maxPieces !== undefined && maxPieces > 0) result.maxPieces = maxPieces;
  const stats = readText(offer, 'stats');
  if (stats !== undefined) result.statsPath = stats;
  return result;
}

/**
 * The multi-object announce body: what all entries share (peer id, port, key, ip, CDN base URLs, numwant,
 * tracker id), then one dictionary per object. Zero counters and unchanged bitmaps are left out.
 */
export interface BatchAnnounce {
  peerId: Buffer;
  port: number;
  key?: string;
  ip?: string;
  urls: string[];
  numWant?: number;
  trackerId?: string;
  entries: Array<
    Omit<AnnounceParams, 'peerId' | 'port' | 'key' | 'ip' | 'extension' | 'numWant' | 'trackerId'> & {
      extension?: Omit<AnnounceExtension, 'urls'>;
    }
  >;
}

export function encodeBatchAnnounce(batch: BatchAnnounce): BencodeInput {
  return {
    'peer id': batch.peerId,
    port: batch.port,
    key: batch.key,
    ip: batch.ip,
    numwant: batch.numWant,
    trackerid: batch.trackerId,
    [ExtensionParam.url]: batch.urls.length > 0 ? batch.urls : undefined,
    announces: batch.entries.map((entry) => ({
      info_hash: entry.infoHash,
      uploaded: entry.uploaded === 0 ? undefined : entry.uploaded,
      downloaded: entry.downloaded === 0 ? undefined : entry.downloaded,
      left: entry.left,
      event: entry.event,
      [ExtensionParam.pieces]: entry.extension?.pieceCount,
      [ExtensionParam.size]: entry.extension?.size,
      [ExtensionParam.bitmap]: entry.extension?.bitmap,
    })),
  };
}

/** Reads a multi-object answer: shared interval and tracker id, then one result per entry, in the entries' order. */
export function readBatchResults(dictionary: BencodeDictionary): { shared: AnnounceResult; results: AnnounceResult[] } {
  const shared = readAnnounceResult(dictionary);
  const list = readList(dictionary, 'results') ?? [];
  const results = list.map((item) => {
    const result = isDictionary(item) ? readAnnounceResult(item) : { peers: [], urlList: [], pieceUrls: [] };
    // Shared values apply to every entry unless the entry says otherwise.
    result.interval ??= shared.interval;
    result.minInterval ??= shared.minInterval;
    if (shared.trackerId !== undefined) result.trackerId ??= shared.trackerId;
    return result;
  });
  return { shared, results };
}
