import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  type AgentLinks,
  createAdminServer,
  defaultTokenFile,
  ensureToken,
  publishAgent,
  StoreOperations,
  unpublishAgent,
} from '../admin/index.ts';
import { createHashPool, type HashPool } from '../hashing/index.ts';
import { createHttpServer, type HttpServer, objectUrls } from '../http/index.ts';
import { createRegistration, type Registration, type RegistrationState } from '../ims/index.ts';
import { OriginClient } from '../ingest/index.ts';
import {
  createPieceCache,
  openStore,
  type PieceCache,
  removeCorruptPieces,
  Scrubber,
  type ScrubStatus,
  type StagingStore,
  type Store,
  type StoredObject,
} from '../store/index.ts';
import { type AnnounceClient, createAnnounceClient, type TrackerStatus } from '../tracker/index.ts';
import { createPeerWireServer, type PeerWireServer, type PeerWireStats } from '../wire/index.ts';
import { countHashing, createMetrics } from './metrics.ts';
import { TransferTally } from './transfer-tally.ts';
import type { AgentAddresses, AgentConfig } from './types.ts';

/** What a reload did: settings applied, settings that need a restart, and changes that failed (logged). */
export interface ReloadOutcome {
  applied: string[];
  restartNeeded: string[];
  failed: Array<{ setting: string; error: string }>;
}

/**
 * Time beyond the shutdown grace that stopping may take: `stopped` announces and the IMS deregistration
 * that did not finish while transfers drained, and releasing the store. systemd's TimeoutStopSec leaves
 * room for it (src/config/systemd.ts).
 */
export const SHUTDOWN_MARGIN_MS = 3000;

/** Azureus-style peer id: edgepeer 0.1.0, then random. */
function newPeerId(): Buffer {
  return Buffer.concat([Buffer.from('-EP0100-'), randomBytes(12)]);
}

export interface AgentStatus {
  dataDir: string;
  addresses: AgentAddresses;
  objects: number;
  objectsComplete: number;
  wire: PeerWireStats;
  http: ReturnType<HttpServer['stats']> | null;
  https: ReturnType<HttpServer['stats']> | null;
  cache: ReturnType<PieceCache['stats']>;
  scrub: ScrubStatus | null;
  trackers: TrackerStatus[];
  ims: RegistrationState | null;
}

/**
 * The composition root: opens the store and starts the parts in a fixed order (store, hashing, cache,
 * servers, announces, registration), and stops them in reverse through one place.
 */
export class Agent {
  readonly store: Store & StagingStore;
  readonly hashPool: HashPool;
  readonly cache: PieceCache;
  readonly peerId = newPeerId();
  /** For ingests the admin API runs (pull-through has its own in the HTTP server). */
  private readonly origin = new OriginClient({ timeoutMs: 30_000, connections: 8 });
  private wire: PeerWireServer | null = null;
  private http: HttpServer | null = null;
  private https: HttpServer | null = null;
  private announcer: AnnounceClient | null = null;
  private registration: Registration | null = null;
  private scrubber: Scrubber | null = null;
  /** Bytes each object sent and pulled: the uploaded and downloaded of its announces. */
  private readonly transfers = new TransferTally();
  private readonly startedAt = new Date().toISOString();
  private addresses: AgentAddresses = {
    peerPort: 0,
    peerAddresses: [],
    httpPort: null,
    httpsPort: null,
    httpBaseUrls: [],
    adminUrl: null,
  };
  /**
   * What stop() undoes, filled as parts come up (so a failed start undoes what it did). 'serving': the parts facing the network (servers, admin API, announces, IMS,
   * scrub), stopped together under the shutdown deadline; 'release': what they used (origin client, hash
   * pool, store), released after them, in reverse order of start.
   */
  private readonly stops: Array<{ phase: 'serving' | 'release'; name: string; stop: () => Promise<unknown> }> = [];
  private stopping: Promise<string[]> | null = null;

  config: AgentConfig;
  /** Ingest, purge and lookups on this agent's store (the admin API and the demo use them). */
  readonly operations: StoreOperations;
  private readonly logger: Logger;
  /** Prometheus registry, served at /metrics on the admin API. */
  metrics: Registry | null = null;

  private constructor(config: AgentConfig, logger: Logger, store: Store & StagingStore, hashPool: HashPool) {
    this.config = config;
    this.logger = logger;
    this.store = store;
    this.hashPool = hashPool;
    this.operations = new StoreOperations({
      store,
      ingestContext: (signal) => ({ store, hashPool, origin: this.origin, ...(signal ? { signal } : {}) }),
      links: (object) => this.links(object),
    });
    this.cache = createPieceCache(store, {
      maxBytes: config.cacheBytes,
      verify: (data, expected) => hashPool.verify(data, expected),
      verifyPolicy: config.cacheVerify,
      // Peers and trackers hear of it through the store's 'pieces-removed'; the piece can be ingested again.
      onCorrupt: removeCorruptPieces(store),
    });
  }

  static async start(config: AgentConfig, logger: Logger): Promise<Agent> {
    const store = await openStore(config.dataDir, { mode: 'write' });
    const hashing = countHashing(createHashPool(config.hashThreads ? { threads: config.hashThreads } : {}));
    const hashPool = hashing.pool;
    const agent = new Agent(config, logger, store, hashPool);
    agent.metrics = createMetrics(() => agent.status(), hashing.counters);
    agent.stops.push({ phase: 'release', name: 'store', stop: () => store.close() });
    agent.stops.push({ phase: 'release', name: 'hashing', stop: () => hashPool.close() });
    agent.stops.push({ phase: 'release', name: 'origin client', stop: () => agent.origin.close() });
    try {
      await agent.startParts();
    } catch (err) {
      await agent.stop();
      throw err;
    }
    return agent;
  }

  private async startParts(): Promise<void> {
    const { config, logger } = this;
    // Before any bitfield or announce: pieces of data files missing, short or changed while stopped go.
    for (const finding of await this.store.checkDataFiles()) {
      logger.warn(finding, 'store: a data file is not as it was left; its pieces left the bitmap');
    }
    this.store.on('pieces-removed', (infoHash, pieces, reason) => {
      if (reason === 'corrupt') logger.warn({ infoHash, pieces }, 'pieces failed their hash on disk and were dropped');
    });
    this.store.on('object-damaged', (infoHash, err) => {
      logger.error(
        { infoHash, err },
        "store: an object's metainfo cannot be read; it is not served until ingested again",
      );
    });
    // After this turn: the announce client reads the object's last figures for its `stopped` announces first.
    this.store.on('object-removed', (infoHash) => setImmediate(() => this.transfers.forget(infoHash)));

    const wire = createPeerWireServer({
      store: this.store,
      cache: this.cache,
      port: config.peer.port,
      peerId: this.peerId,
      logger: logger.child({ part: 'wire' }),
      onUploaded: (infoHash, bytes) => this.transfers.uploaded(infoHash, bytes),
      ...(config.peer.mse ? { mse: config.peer.mse } : {}),
      ...(config.peer.host ? { host: config.peer.host } : {}),
      ...(config.peer.limits ? { limits: config.peer.limits } : {}),
    });
    const peer = await wire.listen();
    this.wire = wire;
    this.stops.push({ phase: 'serving', name: 'peer wire', stop: () => wire.close(config.shutdownGraceMs) });
    this.addresses = { ...this.addresses, peerPort: peer.port, peerAddresses: peer.addresses };

    if (config.http) {
      const plain = await this.startHttp(config.http, null);
      const secure = config.https ? await this.startHttp(config.http, config.https) : null;
      // HTTPS base URLs built from listening addresses would not match a certificate, which names hosts:
      // trackers hear https URLs through http.publicUrl (e.g. https://edge1.cdn.example.net:8443).
      const baseUrls = config.http.publicUrl ? [config.http.publicUrl.replace(/\/$/, '')] : plain.baseUrls;
      this.addresses = {
        ...this.addresses,
        httpPort: plain.port,
        httpsPort: secure?.port ?? null,
        httpBaseUrls: baseUrls,
      };
    }

    this.startScrub(config.scrub);
    // Stops whichever scrub runs at the time (SIGHUP may replace it).
    this.stops.push({ phase: 'serving', name: 'scrub', stop: async () => this.scrubber?.stop() });
    this.startAnnounces(config);
    // Stops whichever announce client and registration run at the time (SIGHUP may replace them).
    this.stops.push({ phase: 'serving', name: 'announces', stop: async () => this.announcer?.stop() });
    if (config.admin) await this.startAdmin(config.admin);
    this.startRegistration(config);
    this.stops.push({ phase: 'serving', name: 'ims', stop: async () => this.registration?.stop() });
  }

  /** The HTTP server, or with `tls` the HTTPS one: the same settings, cache, tally and access log. */
  private async startHttp(
    http: NonNullable<AgentConfig['http']>,
    tls: NonNullable<AgentConfig['https']> | null,
  ): Promise<{ port: number; baseUrls: string[] }> {
    const server = createHttpServer({
      store: this.store,
      cache: this.cache,
      port: tls === null ? http.port : tls.port,
      policy: http.policy,
      limits: { ...http.limits, directReadMaxBytes: http.directReadMaxBytes },
      verify: (data, expected) => this.hashPool.verify(data, expected),
      logger: this.logger.child({ part: tls === null ? 'http' : 'https' }),
      onSent: (infoHash, bytes) => this.transfers.uploaded(infoHash, bytes),
      onPulled: (infoHash, bytes) => this.transfers.downloaded(infoHash, bytes),
      ...(http.accessLog ? { accessLog: http.accessLog } : {}),
      ...(http.corsOrigin ? { corsOrigin: http.corsOrigin } : {}),
      ...(http.host ? { host: http.host } : {}),
      ...(tls === null ? {} : { tls: { cert: tls.cert, key: tls.key } }),
    });
    const listening = await server.listen();
    if (tls === null) this.http = server;
    else this.https = server;
    const name = tls === null ? 'http' : 'https';
    this.stops.push({ phase: 'serving', name, stop: () => server.close(this.config.shutdownGraceMs) });
    return listening;
  }

  private startScrub(options: AgentConfig['scrub']): void {
    this.scrubber = this.newScrubber(options);
    this.scrubber.start();
  }

  private newScrubber(options: AgentConfig['scrub']): Scrubber {
    const scrubber = new Scrubber(this.store, this.cache, options);
    scrubber.on('pass-finished', (pass) =>
      this.logger.info(
        { ...pass, seconds: Math.round((pass.finishedAt! - pass.startedAt) / 1000) },
        'scrub: every held piece checked against its SHA-1',
      ),
    );
    return scrubber;
  }

  private startAnnounces(config: AgentConfig): void {
    if (!config.announce) return;
    const announcer = createAnnounceClient({
      store: this.store,
      peerId: this.peerId,
      port: this.addresses.peerPort,
      httpBaseUrls: this.addresses.httpBaseUrls,
      trackers: config.trackers,
      transferStats: (infoHash) => this.transfers.of(infoHash),
    });
    announcer.on('announce-error', (info) => this.logger.warn(info, 'announce failed'));
    announcer.on('announce', (info) =>
      this.logger.debug({ infoHash: info.infoHash, tracker: info.url, event: info.event ?? 'regular' }, 'announced'),
    );
    announcer.start();
    this.announcer = announcer;
  }

  private startRegistration(config: AgentConfig): void {
    if (!config.ims) return;
    this.registration = this.newRegistration(config.ims);
    this.runRegistration(this.registration);
  }

  private newRegistration(ims: NonNullable<AgentConfig['ims']>): Registration {
    return createRegistration({ ...ims, logger: this.logger.child({ part: 'ims' }) });
  }

  private runRegistration(registration: Registration): void {
    // Registration keeps retrying in the background; the agent serves whatever its outcome.
    registration.start().then(
      (state) => this.logger.info({ ims: state }, 'ims registration'),
      (err: Error) => this.logger.error({ err }, 'ims registration failed'),
    );
  }

  /**
   * SIGHUP: applies what can change while running (log level, trackers, IMS registration, scrub, HTTPS
   * certificate, access log reopened) and names the settings that take effect only at the next start
   * (ports, addresses, data dir, cache, admin API). Each change is applied on its own: one that fails is
   * logged and listed in `failed`, and that part keeps running as it was configured; never rejects.
   */
  async reload(next: AgentConfig & { logLevel?: string }): Promise<ReloadOutcome> {
    const outcome: ReloadOutcome = { applied: [], restartNeeded: [], failed: [] };
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const step = async (setting: string, apply: () => unknown | Promise<unknown>) => {
      try {
        await apply();
        outcome.applied.push(setting);
      } catch (err) {
        this.logger.error({ err, setting }, 'reload: a setting could not be applied; that part runs as before');
        outcome.failed.push({ setting, error: err instanceof Error ? err.message : String(err) });
      }
    };
    if (next.logLevel && next.logLevel !== this.logger.level) {
      await step('logLevel', () => {
        this.logger.level = next.logLevel as string;
      });
    }
    // As nginx on USR1: logrotate moved the access log; go on in a new file at the same path.
    if (this.config.http?.accessLog) {
      await step('accessLog reopened', () => {
        this.http?.reopenAccessLog();
        this.https?.reopenAccessLog();
      });
    }
    // A renewed certificate (same port): the next connections get it.
    const https = next.https;
    if (this.https && https && this.config.https && https.port === this.config.https.port) {
      if (!https.cert.equals(this.config.https.cert) || !https.key.equals(this.config.https.key)) {
        await step('https certificate', () => {
          this.https?.setCertificate({ cert: https.cert, key: https.key });
          this.config = { ...this.config, https };
        });
      }
    }
    if (next.announce && this.config.announce && this.announcer && !same(next.trackers, this.config.trackers)) {
      // In place: only the dropped trackers hear `stopped` and only the new ones `started`.
      await step('trackers', () => {
        this.announcer?.setTrackers(next.trackers);
        this.config = { ...this.config, trackers: next.trackers };
      });
    } else if (next.announce !== this.config.announce) {
      await step('announce', async () => {
        await this.announcer?.stop();
        this.announcer = null;
        this.config = { ...this.config, announce: next.announce, trackers: next.trackers };
        this.startAnnounces(this.config);
      });
    }
    if (!same(next.ims, this.config.ims)) {
      await step('ims', async () => {
        // Made before the running one stops: options it refuses leave the running registration alone.
        const registration = next.ims ? this.newRegistration(next.ims) : null;
        await this.registration?.stop();
        this.registration = registration;
        this.config = { ...this.config, ims: next.ims };
        if (registration) this.runRegistration(registration);
      });
    }
    if (!same(next.scrub, this.config.scrub)) {
      // A new pass starts with the new rate, window and interval.
      await step('scrub', async () => {
        const scrubber = this.newScrubber(next.scrub);
        await this.scrubber?.stop();
        this.scrubber = scrubber;
        this.config = { ...this.config, scrub: next.scrub };
        scrubber.start();
      });
    }
    for (const key of [
      'dataDir',
      'peer',
      'http',
      'https',
      'cacheBytes',
      'cacheVerify',
      'admin',
      'hashThreads',
      'shutdownGraceMs',
    ] as const) {
      if (!same(next[key], this.config[key])) outcome.restartNeeded.push(key);
    }
    return outcome;
  }

  /** The admin API, and agent.json in the data dir so that CLI commands on this store find it. */
  private async startAdmin(admin: NonNullable<AgentConfig['admin']>): Promise<void> {
    const tokenFile = admin.tokenFile ?? defaultTokenFile(this.config.dataDir);
    const server = createAdminServer({
      operations: this.operations,
      token: await ensureToken(tokenFile),
      host: admin.host,
      port: admin.port,
      status: () => this.status(),
      logger: this.logger.child({ part: 'admin' }),
      metrics: async () => ({
        contentType: this.metrics?.contentType ?? 'text/plain',
        body: (await this.metrics?.metrics()) ?? '',
      }),
    });
    const adminUrl = await server.listen();
    this.stops.push({ phase: 'serving', name: 'admin', stop: () => server.close() });
    this.addresses = { ...this.addresses, adminUrl };
    await publishAgent(this.config.dataDir, {
      pid: process.pid,
      adminUrl,
      tokenFile,
      startedAt: new Date().toISOString(),
    });
    this.stops.push({ phase: 'serving', name: 'agent.json', stop: () => unpublishAgent(this.config.dataDir) });
  }

  private links(object: StoredObject): AgentLinks {
    const urls = this.addresses.httpBaseUrls.map((base) => objectUrls(base, object));
    const transfer = this.transfers.of(object.infoHash);
    return {
      webSeeds: urls.map((u) => u.webSeed),
      pieceUrlTemplates: urls.map((u) => u.pieceUrlTemplate),
      trackers: this.config.trackers,
      transfer: {
        uploaded: transfer?.uploaded ?? 0,
        downloaded: transfer?.downloaded ?? 0,
        since: this.startedAt,
      },
    };
  }

  /** Announces an object now and resolves once a tracker has taken the announce (or at once without announces). */
  async announceNow(infoHash: string, timeoutMs = 10_000): Promise<void> {
    const announcer = this.announcer;
    if (!announcer) return;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        announcer.off('announce', onAnnounce);
        reject(new Error(`no tracker took the announce of ${infoHash} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAnnounce = (info: { infoHash: string }) => {
        if (info.infoHash !== infoHash) return;
        clearTimeout(timer);
        announcer.off('announce', onAnnounce);
        resolve();
      };
      announcer.on('announce', onAnnounce);
    });
    announcer.announceNow(infoHash);
    await done;
  }

  where(): AgentAddresses {
    return this.addresses;
  }

  status(): AgentStatus {
    const objects = this.store.list();
    return {
      dataDir: this.config.dataDir,
      addresses: this.addresses,
      objects: objects.length,
      objectsComplete: objects.filter((o) => o.complete).length,
      wire: this.wire?.stats() as PeerWireStats,
      http: this.http?.stats() ?? null,
      https: this.https?.stats() ?? null,
      cache: this.cache.stats(),
      scrub: this.scrubber?.status() ?? null,
      trackers: this.announcer?.status() ?? [],
      ims: this.registration?.state() ?? null,
    };
  }

  /**
   * Stops within one deadline, the shutdown grace plus SHUTDOWN_MARGIN_MS; safe to call twice. First every
   * serving part at once: the servers stop accepting and let transfers in flight finish within the grace,
   * while trackers hear `stopped` and the registrar the deregistration. A part still busy at the deadline
   * is left behind (logged; the process exits anyway). Then the resources are released, in reverse order.
   * Resolves with the names of the parts that did not stop in time.
   */
  stop(): Promise<string[]> {
    this.stopping ??= (async () => {
      const deadline = this.config.shutdownGraceMs + SHUTDOWN_MARGIN_MS;
      const serving = this.stops.filter((part) => part.phase === 'serving');
      const late = (await Promise.all(serving.map((part) => this.stopPart(part, deadline)))).filter(
        (name): name is string => name !== null,
      );
      if (late.length > 0) {
        this.logger.warn({ parts: late, deadlineMs: deadline }, 'shutdown: parts still busy at the deadline were left');
      }
      for (const part of this.stops.filter((p) => p.phase === 'release').reverse()) await this.stopPart(part, null);
      return late;
    })();
    return this.stopping;
  }

  /** Stops one part, within `deadlineMs` if given; its name if the deadline came first. */
  private async stopPart(part: (typeof this.stops)[number], deadlineMs: number | null): Promise<string | null> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut =
      deadlineMs === null
        ? null
        : new Promise<'late'>((resolve) => {
            timer = setTimeout(() => resolve('late'), deadlineMs);
          });
    try {
      const stopped = part.stop().then(() => 'stopped' as const);
      const outcome = await (timedOut === null ? stopped : Promise.race([stopped, timedOut]));
      if (outcome === 'late') return part.name;
      this.logger.debug({ part: part.name, ms: Math.round(performance.now() - started) }, 'stopped');
    } catch (err) {
      this.logger.error({ err, part: part.name }, 'stopping failed');
    } finally {
      clearTimeout(timer);
    }
    return null;
  }
}
