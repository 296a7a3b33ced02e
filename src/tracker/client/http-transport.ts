// HTTP(S) trackers with undici: GET announces (BEP 3), the multi-object POST of edgepeer's tracker, and
// scrapes (BEP 48). Answers are read with a size cap and decoded strictly: trackers are strangers.
import { Agent, request } from 'undici';
import { TrackerError } from '../../errors/index.ts';
import {
  type BencodeDictionary,
  decodeBencode,
  encodeBencode,
  isDictionary,
  readDictionary,
  readInteger,
} from '../protocol/bencode.ts';
import {
  type AnnounceParams,
  type AnnounceResult,
  announceQuery,
  type BatchAnnounce,
  encodeBatchAnnounce,
  readAnnounceResult,
  readBatchResults,
} from '../protocol/messages.ts';
import { percentEncode } from '../protocol/query.ts';
import type { AnnounceSent, DefaultTransportOptions, ScrapeCounts } from './transport.ts';

const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
const USER_AGENT = 'edgepeer';

/** The announce URL with the query appended, and whether the bitmap fitted within maxLength. */
export function announceUrl(
  url: string,
  params: AnnounceParams,
  maxLength: number,
): { url: string; bitmapSent: boolean } {
  const separator = url.includes('?') ? '&' : '?';
  const full = `${url}${separator}${announceQuery(params, true)}`;
  if (full.length <= maxLength || params.extension?.bitmap === undefined) {
    return { url: full, bitmapSent: params.extension?.bitmap !== undefined };
  }
  return { url: `${url}${separator}${announceQuery(params, false)}`, bitmapSent: false };
}

/** BEP 48: the scrape URL is the announce URL with its last path segment's "announce" made "scrape". */
export function scrapeUrlOf(url: string): string | undefined {
  const queryAt = url.indexOf('?');
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  const slash = path.lastIndexOf('/');
  if (slash < 0 || !path.startsWith('announce', slash + 1)) return undefined;
  return `${path.slice(0, slash + 1)}scrape${path.slice(slash + 1 + 'announce'.length)}${queryAt < 0 ? '' : url.slice(queryAt)}`;
}

export class HttpTrackerTransport {
  readonly #agent: Agent;
  readonly #options: DefaultTransportOptions;

  constructor(options: DefaultTransportOptions) {
    this.#options = options;
    this.#agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 8,
      connectTimeout: options.timeoutMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  async announce(url: string, params: AnnounceParams, signal: AbortSignal): Promise<AnnounceSent> {
    const target = announceUrl(url, params, this.#options.maxUrlLength);
    const body = await this.#fetch(url, target.url, 'GET', undefined, signal);
    return { result: readAnnounceResult(body), bitmapSent: target.bitmapSent };
  }

  async announceBatch(
    url: string,
    batch: BatchAnnounce,
    signal: AbortSignal,
  ): Promise<{ shared: AnnounceResult; results: AnnounceResult[] }> {
    const body = await this.#fetch(url, url, 'POST', encodeBencode(encodeBatchAnnounce(batch)), signal);
    const answer = readBatchResults(body);
    if (answer.shared.failureReason === undefined && answer.results.length !== batch.entries.length) {
      throw new TrackerError(
        'EDGEPEER_TRACKER_INVALID_RESPONSE',
        `${url}: ${answer.results.length} results for ${batch.entries.length} announces`,
        { subject: url },
      );
    }
    return answer;
  }

  async scrape(url: string, infoHashes: Buffer[], signal: AbortSignal): Promise<Map<string, ScrapeCounts>> {
    const scrapeUrl = scrapeUrlOf(url);
    if (scrapeUrl === undefined) {
      throw new TrackerError('EDGEPEER_TRACKER_UNSUPPORTED', `${url} has no scrape URL (BEP 48)`, { subject: url });
    }
    const query = infoHashes.map((hash) => `info_hash=${percentEncode(hash)}`).join('&');
    const body = await this.#fetch(
      url,
      `${scrapeUrl}${scrapeUrl.includes('?') ? '&' : '?'}${query}`,
      'GET',
      undefined,
      signal,
    );
    const failure = readAnnounceResult(body).failureReason;
    if (failure !== undefined)
      throw new TrackerError('EDGEPEER_TRACKER_FAILURE', `${url}: ${failure}`, { subject: url });
    const files = readDictionary(body, 'files');
    const counts = new Map<string, ScrapeCounts>();
    if (files === undefined) return counts;
    for (const [key, value] of Object.entries(files)) {
      if (!isDictionary(value) || key.length !== 20) continue;
      counts.set(Buffer.from(key, 'latin1').toString('hex'), {
        complete: readInteger(value, 'complete') ?? 0,
        incomplete: readInteger(value, 'incomplete') ?? 0,
        downloaded: readInteger(value, 'downloaded') ?? 0,
      });
    }
    return counts;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  /** Sends one request and decodes the bencoded dictionary it answers, or throws TrackerError. */
  async #fetch(
    trackerUrl: string,
    target: string,
    method: 'GET' | 'POST',
    body: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<BencodeDictionary> {
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    let statusCode: number;
    let bytes: Buffer;
    try {
      const response = await request(target, {
        method,
        body,
        headers: {
          'user-agent': USER_AGENT,
          ...(body === undefined ? {} : { 'content-type': 'application/x-bittorrent' }),
        },
        dispatcher: this.#agent,
        signal: combined,
      });
      statusCode = response.statusCode;
      bytes = await readCapped(response.body, MAX_ANSWER_BYTES);
    } catch (err) {
      if (timeout.aborted) {
        throw new TrackerError(
          'EDGEPEER_TRACKER_TIMEOUT',
          `${trackerUrl}: no answer within ${this.#options.timeoutMs} ms`,
          {
            subject: trackerUrl,
            cause: err,
          },
        );
      }
      if (err instanceof TrackerError) throw err;
      throw new TrackerError('EDGEPEER_TRACKER_UNREACHABLE', `${trackerUrl}: ${(err as Error).message}`, {
        subject: trackerUrl,
        cause: err,
      });
    }
    const decoded = readDictionaryBody(bytes);
    // Some trackers send their failure reason with a 4xx status: it still counts as an answer.
    if (statusCode !== 200 && (decoded === undefined || readAnnounceResult(decoded).failureReason === undefined)) {
      throw new TrackerError('EDGEPEER_TRACKER_STATUS', `${trackerUrl}: HTTP ${statusCode}`, {
        subject: trackerUrl,
        statusCode,
      });
    }
    if (decoded === undefined) {
      throw new TrackerError(
        'EDGEPEER_TRACKER_INVALID_RESPONSE',
        `${trackerUrl}: the answer is not a bencoded dictionary`,
        {
          subject: trackerUrl,
        },
      );
    }
    return decoded;
  }
}

function readDictionaryBody(bytes: Buffer): BencodeDictionary | undefined {
  try {
    const value = decodeBencode(bytes);
    return isDictionary(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.length;
    if (length > maxBytes) {
      body.destroy();
      throw new TrackerError('EDGEPEER_TRACKER_INVALID_RESPONSE', `answer larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
