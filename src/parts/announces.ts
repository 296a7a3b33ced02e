// Announces as a part: the announce client of the moment (a reload may set new trackers in place, or
// start or stop announcing altogether), its status, and announcing one object now.
import { type Logger, WarningThrottle } from '../log/index.ts';
import type { Catalog } from '../store/index.ts';
import {
  type AnnounceClient,
  type AnnounceClientOptions,
  createAnnounceClient,
  type TrackerStatus,
} from '../tracker/index.ts';
import type { Part } from './lifecycle.ts';

export interface AnnouncesOptions {
  catalog: Pick<Catalog, 'list' | 'metainfoOf' | 'on' | 'off'>;
  peerId: Uint8Array;
  /** The peer wire port and HTTP base URLs trackers hear, read when announces start (servers listen by then). */
  where: () => { peerPort: number; httpBaseUrls: string[] };
  transferStats: (infoHash: string) => { uploaded: number; downloaded: number } | undefined;
  logger: Logger;
  /**
   * The controller announces bitmap changes sooner than an edge does: a shorter delay, and multi-object
   * announces sent as soon as they are due instead of on the client's 10 s grid. Default: the client's.
   */
  timing?: Pick<
    AnnounceClientOptions,
    'changeDelayMs' | 'batchWindowMs' | 'batchLingerMs' | 'minSpacingS' | 'backoffInitialMs' | 'requestTimeoutMs'
  >;
}

export class AnnouncesPart implements Part {
  readonly name = 'announces';
  readonly phase = 'serving';
  readonly #options: AnnouncesOptions;
  #client: AnnounceClient | null = null;

  constructor(options: AnnouncesOptions) {
    this.#options = options;
  }

  get running(): boolean {
    return this.#client !== null;
  }

  /** Announces every object of the catalog to its metainfo's trackers and to `trackers`. */
  start(trackers: string[]): void {
    const { logger } = this.#options;
    const { peerPort, httpBaseUrls } = this.#options.where();
    const client = createAnnounceClient({
      store: this.#options.catalog,
      peerId: this.#options.peerId,
      port: peerPort,
      httpBaseUrls,
      trackers,
      transferStats: this.#options.transferStats,
      ...this.#options.timing,
    });
    // A tracker's state is logged when it changes (unreachable, answering again), not once per object: a
    // tracker down for a store of 10,000 objects is one warning. Its refusals of one object are throttled.
    const unreachable = new Set<string>();
    const refusals = new WarningThrottle(logger);
    client.on('announce-error', (info) => {
      // No answer at all (refused connection, timeout) is the tracker's state; a failure reason is a refusal.
      const noAnswer = info.code === 'EDGEPEER_TRACKER_UNREACHABLE' || info.code === 'EDGEPEER_TRACKER_TIMEOUT';
      if (!noAnswer) {
        refusals.warn(
          info.url,
          { tracker: info.url, infoHash: info.infoHash, reason: info.message },
          'tracker refused an announce',
        );
      } else if (!unreachable.has(info.url)) {
        unreachable.add(info.url);
        logger.warn({ tracker: info.url, reason: info.message }, 'tracker unreachable; announces retry with backoff');
      } else {
        logger.debug({ tracker: info.url, infoHash: info.infoHash, reason: info.message }, 'announce failed');
      }
    });
    client.on('announce', (info) => {
      if (unreachable.delete(info.url)) logger.info({ tracker: info.url }, 'tracker answering again');
      logger.debug({ infoHash: info.infoHash, tracker: info.url, event: info.event ?? 'regular' }, 'announced');
    });
    client.start();
    this.#client = client;
  }

  /** In place: only the dropped trackers hear `stopped` and only the new ones `started`. */
  setTrackers(trackers: string[]): void {
    this.#client?.setTrackers(trackers);
  }

  /** Announces an object now and resolves once a tracker has taken the announce (at once when not announcing). */
  async announceNow(infoHash: string, timeoutMs = 10_000): Promise<void> {
    const client = this.#client;
    if (client === null) return;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('announce', onAnnounce);
        reject(new Error(`no tracker took the announce of ${infoHash} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAnnounce = (info: { infoHash: string }) => {
        if (info.infoHash !== infoHash) return;
        clearTimeout(timer);
        client.off('announce', onAnnounce);
        resolve();
      };
      client.on('announce', onAnnounce);
    });
    client.announceNow(infoHash);
    await done;
  }

  status(): TrackerStatus[] {
    return this.#client?.status() ?? [];
  }

  /**
   * `stopped` to the trackers that were told `started` (none with `handOver`: another announcer goes on
   * under the same peer id); the part can start again after.
   */
  async stop(options: { handOver?: boolean } = {}): Promise<void> {
    const client = this.#client;
    this.#client = null;
    await client?.stop(options);
  }
}
