// How the announce client reaches trackers. The default sends HTTP(S) with undici and UDP (BEP 15) with
// node:dgram; tests and the load simulation put their own in its place.
import { TrackerError } from '../../errors/index.ts';
import type { AnnounceParams, AnnounceResult, BatchAnnounce } from '../protocol/messages.ts';
import { HttpTrackerTransport } from './http-transport.ts';
import { UdpTrackerTransport } from './udp-transport.ts';

export interface AnnounceSent {
  result: AnnounceResult;
  /** False when the bitmap was left out to keep the request within the size limit. */
  bitmapSent: boolean;
}

export interface ScrapeCounts {
  complete: number;
  incomplete: number;
  downloaded: number;
}

export interface TrackerTransport {
  /**
   * One announce. A tracker's failure reason resolves (result.failureReason); not reaching the tracker, a
   * timeout or an answer that is not a tracker's rejects with TrackerError.
   */
  announce(url: string, params: AnnounceParams, signal: AbortSignal): Promise<AnnounceSent>;
  /** A multi-object announce to edgepeer's tracker (HTTP POST); results in the order of the entries. */
  announceBatch(
    url: string,
    batch: BatchAnnounce,
    signal: AbortSignal,
  ): Promise<{ shared: AnnounceResult; results: AnnounceResult[] }>;
  /** BEP 48 (HTTP) or BEP 15 (UDP) scrape: counts by info hash (hex). */
  scrape(url: string, infoHashes: Buffer[], signal: AbortSignal): Promise<Map<string, ScrapeCounts>>;
  close(): Promise<void>;
}

export interface DefaultTransportOptions {
  /** Longest announce URL sent over HTTP GET; the bitmap is left out beyond it (opentracker: ~8 KiB). */
  maxUrlLength: number;
  /** Per request, ms. */
  timeoutMs: number;
  /** Longest BEP 41 URL data sent over UDP. */
  maxUdpUrlData: number;
}

/** Dispatches on the URL scheme: http/https and udp. */
export class DefaultTrackerTransport implements TrackerTransport {
  readonly #http: HttpTrackerTransport;
  readonly #udp: UdpTrackerTransport;

  constructor(options: DefaultTransportOptions) {
    this.#http = new HttpTrackerTransport(options);
    this.#udp = new UdpTrackerTransport(options);
  }

  announce(url: string, params: AnnounceParams, signal: AbortSignal): Promise<AnnounceSent> {
    return this.#pick(url).announce(url, params, signal);
  }

  announceBatch(
    url: string,
    batch: BatchAnnounce,
    signal: AbortSignal,
  ): Promise<{ shared: AnnounceResult; results: AnnounceResult[] }> {
    return this.#http.announceBatch(url, batch, signal);
  }

  scrape(url: string, infoHashes: Buffer[], signal: AbortSignal): Promise<Map<string, ScrapeCounts>> {
    return this.#pick(url).scrape(url, infoHashes, signal);
  }

  async close(): Promise<void> {
    await Promise.all([this.#http.close(), this.#udp.close()]);
  }

  #pick(url: string): HttpTrackerTransport | UdpTrackerTransport {
    const scheme = trackerScheme(url);
    if (scheme === 'udp') return this.#udp;
    if (scheme === 'http' || scheme === 'https') return this.#http;
    throw new TrackerError(
      'EDGEPEER_TRACKER_UNSUPPORTED',
      `unsupported tracker URL ${url} (expected http, https or udp)`,
      {
        subject: url,
      },
    );
  }
}

export function trackerScheme(url: string): 'http' | 'https' | 'udp' | undefined {
  const colon = url.indexOf(':');
  const scheme = colon < 0 ? '' : url.slice(0, colon).toLowerCase();
  return scheme === 'http' || scheme === 'https' || scheme === 'udp' ? scheme : undefined;
}
