import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AccountingLog, AccountingRecorder, streamRecords } from '../accounting/index.ts';
import {
  type AgentLinks,
  createAdminServer,
  defaultTokenFile,
  ensureToken,
  objectId,
  publishAgent,
  readJson,
  StoreOperations,
  sendJson,
  unpublishAgent,
} from '../admin/index.ts';
import { KeyRing, UrlGate } from '../auth/index.ts';
import type { AgentAddresses, AgentConfig } from '../config/index.ts';
import { createDashboard, trackerSwarm } from '../dashboard/index.ts';
import { InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import { EDGE_API, type EdgeLink } from '../fleet/index.ts';
import type { HashPool } from '../hashing/index.ts';
import type { HttpServer } from '../http/index.ts';
import {
  AnnouncesPart,
  DiskPieceReserve,
  hashingPart,
  Lifecycle,
  metainfoFromCatalogue,
  openStorePart,
  originPart,
  RegistrationPart,
  recordFile,
  ScrubPart,
  type ServingThreadsPart,
  StorageControlPart,
  startHttp,
  startPeerWire,
  startServingThreads,
  withThreads,
  withWireThreads,
} from '../parts/index.ts';
import { AllowList, AllowListFollower } from '../peer-auth/index.ts';
import { invitationsUrlFromStats, type PolicyExplanation } from '../policy/index.ts';
import { DEFAULT_QOS, Qos, type QosStatus } from '../qos/index.ts';
import {
  createPieceCache,
  createPieceSlab,
  createSharedPieceCache,
  type PieceCache,
  type PieceSlab,
  removeCorruptPieces,
  type StagingStore,
  type Store,
  type StoredObject,
} from '../store/index.ts';
import { newPeerId, type PeerWireServer, TopUpLedger, threadShareOfLimits } from '../wire/index.ts';
import { startEdgeLink } from './edge-link.ts';
import { createMetrics } from './metrics.ts';
import { applyReload, type ReloadOutcome } from './reload.ts';
import { type AgentStatus, agentStatus, objectLinks } from './status.ts';
import { TransferTally } from './transfer-tally.ts';

export type { AgentStatus, ReloadOutcome };

/**
 * Time beyond the shutdown grace that stopping may take: `stopped` announces and the IMS deregistration
 * that did not finish while transfers drained, and releasing the store. systemd's TimeoutStopSec leaves
 * room for it (src/config/systemd.ts).
 */
export const SHUTDOWN_MARGIN_MS = 3000;

/**
 * The edge's composition root over src/parts: the disk store, the hash pool and the piece stack over
 * them (caching(verifying(store))), the peer wire and HTTP(S) servers reading it, announces, IMS
 * registration, the scrub and the admin API; started in that order, stopped through one Lifecycle.
 */
export class Agent {
  readonly store: Store & StagingStore;
  readonly hashPool: HashPool;
  readonly cache: PieceCache;
  /** The piece cache's shared memory when serving on threads (http.threads or peer.threads > 1), else null. */
  private readonly slab: PieceSlab | null;
  readonly peerId = newPeerId();
  config: AgentConfig;
  /** Ingest, purge and lookups on this agent's store (the admin API and the demo use them). */
  readonly operations: StoreOperations;
  /** Prometheus registry, served at /metrics on the admin API. */
  readonly metrics: Registry;
  /** Egress limits and priority classes, shared by the wire and HTTP(S) servers. */
  readonly qos: Qos;
  /** Top-up of the peer wire and HTTP together, by client address (storageControl.topUpRate); null: off. */
  readonly topUpLedger: TopUpLedger | null;
  private readonly logger: Logger;
  private readonly lifecycle: Lifecycle;
  private readonly announces: AnnouncesPart;
  private readonly registration: RegistrationPart;
  private readonly scrub: ScrubPart;
  /** Network Storage Control (storageControl.enabled), or null. */
  private storageControl: StorageControlPart | null = null;
  private wire: PeerWireServer | null = null;
  private http: HttpServer | null = null;
  private https: HttpServer | null = null;
  /** Signed URL tokens: the keys and the check in front of the HTTP(S) servers; null when URLs need none. */
  private urlKeys: KeyRing | null = null;
  private urlGate: UrlGate | null = null;
  private accounting: AccountingRecorder | null = null;
  private accountingLog: AccountingLog | null = null;
  /** Ends the accounting streams of the admin API when the agent stops. */
  private readonly stopping = new AbortController();
  /** peerAuth: tracker: the allow-list held and the long poll keeping it. */
  private allowList: { list: AllowList; follower: AllowListFollower } | null = null;
  /** The link to the controller, when this agent is one of its edges. */
  private edgeLink: EdgeLink | null = null;
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

  private constructor(
    config: AgentConfig,
    logger: Logger,
    lifecycle: Lifecycle,
    store: Store & StagingStore,
    hashing: ReturnType<typeof hashingPart>,
    origin: ReturnType<typeof originPart>['origin'],
  ) {
    this.config = config;
    this.logger = logger;
    this.lifecycle = lifecycle;
    this.store = store;
    this.hashPool = hashing.pool;
    this.operations = new StoreOperations({
      store,
      ingestContext: (signal) => ({ store, hashPool: hashing.pool, origin, ...(signal ? { signal } : {}) }),
      links: (object) => this.links(object),
    });
    const pieceCache = {
      verify: (data: Uint8Array, expected: Uint8Array) => hashing.pool.verify(data, expected),
      verifyPolicy: config.cacheVerify,
      // Peers and trackers hear of it through the store's 'pieces-removed'; the piece can be ingested again.
      onCorrupt: removeCorruptPieces(store),
    };
    // Serving threads share one cache: a slab in shared memory, the same for the wire server here.
    this.slab =
      (config.http?.threads ?? 1) > 1 || (config.peer.threads ?? 1) > 1
        ? createPieceSlab({ maxBytes: Math.max(1, config.cacheBytes), slotBytes: slotBytesFor(store) })
        : null;
    this.cache =
      this.slab === null
        ? createPieceCache(store, { maxBytes: config.cacheBytes, ...pieceCache })
        : createSharedPieceCache(store, { slab: this.slab, ...pieceCache });
    this.qos = new Qos(config.qos ?? DEFAULT_QOS);
    const topUpRate = config.storageControl?.topUpBytesPerSecond ?? 0;
    this.topUpLedger = topUpRate > 0 ? new TopUpLedger(topUpRate) : null;
    this.metrics = createMetrics(() => this.status(), hashing.counters);
    this.announces = new AnnouncesPart({
      catalog: store,
      peerId: this.peerId,
      where: () => this.addresses,
      transferStats: (infoHash) => this.transfers.of(infoHash),
      logger,
    });
    this.registration = new RegistrationPart(logger.child({ part: 'ims' }));
    this.scrub = new ScrubPart(store, this.cache, logger);
  }

  static async start(config: AgentConfig, logger: Logger): Promise<Agent> {
    const lifecycle = new Lifecycle(logger);
    const opened = await openStorePart(config.dataDir, 'write');
    lifecycle.add(opened.part);
    const hashing = hashingPart(config.hashThreads);
    lifecycle.add(hashing.part);
    // For ingests the admin API runs (pull-through has its own in the HTTP server).
    const origin = originPart({ timeoutMs: 30_000, connections: 8 });
    lifecycle.add(origin.part);
    const agent = new Agent(config, logger, lifecycle, opened.store, hashing, origin.origin);
    try {
      await agent.startParts();
    } catch (err) {
      await agent.stop();
      throw err;
    }
    return agent;
  }

  private async startParts(): Promise<void> {
    const { config, logger, store, lifecycle } = this;
    // Before any bitfield or announce: pieces of data files missing, short or changed while stopped go.
    for (const finding of await store.checkDataFiles()) {
      logger.warn(finding, 'store: a data file is not as it was left; its pieces left the bitmap');
    }
    store.on('pieces-removed', (infoHash, pieces, reason) => {
      if (reason === 'corrupt') logger.warn({ infoHash, pieces }, 'pieces failed their hash on disk and were dropped');
    });
    store.on('object-damaged', (infoHash, err) => {
      logger.error(
        { infoHash, err },
        "store: an object's metainfo cannot be read; it is not served until ingested again",
      );
    });
    if (config.accounting) await this.startAccounting(config.accounting);
    // After this turn: the announce client reads the object's last figures for its `stopped` announces first.
    store.on('object-removed', (infoHash) => setImmediate(() => this.transfers.forget(infoHash)));

    if (config.peerAuth) await this.startPeerAuth(config.peerAuth);
    const qos = this.qos;
    lifecycle.add({ name: 'qos', phase: 'release', stop: async () => qos.stop() });
    const wireThreads = config.peer.threads ?? 1;
    const wire = await startPeerWire(
      {
        store,
        cache: this.cache,
        qos,
        port: config.peer.port,
        // Serving threads listen on the same port (peer.threads), each with its share of the slots.
        ...(wireThreads > 1 ? { reusePort: true } : {}),
        peerId: this.peerId,
        logger: logger.child({ part: 'wire' }),
        onUploaded: (infoHash, bytes) => this.transfers.uploaded(infoHash, bytes),
        ...(this.accounting === null ? {} : { onSessionEnd: this.accounting.sessionEnded.bind(this.accounting) }),
        ...(this.allowList === null ? {} : { peerGate: this.allowList.list }),
        ...(config.peer.mse ? { mse: config.peer.mse } : {}),
        ...(config.peer.host ? { host: config.peer.host } : {}),
        ...(config.peer.limits || wireThreads > 1
          ? { limits: threadShareOfLimits(config.peer.limits ?? {}, wireThreads) }
          : {}),
        // Top-up belongs to storage control; the wire server carries it out (docs/policy.md, Top-up).
        ...(config.storageControl ? { topUpBytesPerSecond: config.storageControl.topUpBytesPerSecond } : {}),
        ...(this.topUpLedger === null ? {} : { topUpLedger: this.topUpLedger }),
      },
      config.shutdownGraceMs,
    );
    lifecycle.add(wire);
    this.wire = wire.server;
    qos.watchLoad(
      () => {
        const wireStats = this.wire?.stats();
        const connections =
          (wireStats?.connections ?? 0) +
          (this.http?.stats().connections ?? 0) +
          (this.https?.stats().connections ?? 0);
        return { connections, queuedBytes: wireStats?.sendQueueBytes ?? 0 };
      },
      (withdrawn) => this.shedListing(withdrawn),
    );
    this.addresses = { ...this.addresses, peerPort: wire.port, peerAddresses: wire.addresses };

    let httpPort: number | null = null;
    if (config.http) {
      if (config.http.tokenKeys !== undefined && config.http.tokenKeys.length > 0) {
        this.urlKeys = await KeyRing.load(config.http.tokenKeys);
        this.urlGate = new UrlGate({ keys: this.urlKeys, logger: this.logger.child({ part: 'url-tokens' }) });
      }
      const plain = await this.startHttp(config.http, null);
      const secure = config.https ? await this.startHttp(config.http, config.https) : null;
      // HTTPS base URLs built from listening addresses would not match a certificate, which names hosts:
      // trackers hear https URLs through http.publicUrl (e.g. https://edge1.cdn.example.net:8443).
      const baseUrls = config.http.publicUrl ? [config.http.publicUrl.replace(/\/$/, '')] : plain.baseUrls;
      this.http = plain.server;
      httpPort = plain.port;
      this.https = secure?.server ?? null;
      this.addresses = {
        ...this.addresses,
        httpPort: plain.port,
        httpsPort: secure?.port ?? null,
        httpBaseUrls: baseUrls,
      };
    }

    if (this.slab !== null) {
      const threads = await this.startServingThreads(this.slab, wire.port, httpPort);
      if (httpPort !== null && (config.http?.threads ?? 1) > 1) this.http = withThreads(this.http!, threads);
      if (wireThreads > 1) this.wire = withWireThreads(wire.server, threads);
    }

    await this.scrub.replace(config.scrub);
    lifecycle.add(this.scrub);
    const controller = config.controller ?? null;
    // An edge of a controller neither announces nor registers: the controller does both for the CDN.
    if (config.announce && controller === null) this.announces.start(config.trackers);
    lifecycle.add(this.announces);
    if (config.storageControl) await this.startStorageControl(config.storageControl);
    if (config.admin) await this.startAdmin(config.admin);
    if (config.ims && controller === null) await this.registration.replace(config.ims);
    lifecycle.add(this.registration);
    if (controller !== null) await this.startEdgeLink(controller);
  }

  /** Enrols with the controller (first start) and reports to it from now on. */
  private async startEdgeLink(controller: NonNullable<AgentConfig['controller']>): Promise<void> {
    const link = await startEdgeLink({
      controller,
      dataDir: this.config.dataDir,
      store: this.store,
      operations: this.operations,
      where: () => this.addresses,
      load: () => {
        const wire = this.wire?.stats();
        const http = this.http?.stats();
        return {
          connections: (wire?.connections ?? 0) + (http?.connections ?? 0),
          uploadedBytes: (wire?.uploadedBytes ?? 0) + (http?.bytesSent ?? 0),
          // The controller, not the trackers, is told (docs/qos.md): it sends new requests to other edges.
          shedding: this.qos.shedding,
        };
      },
      logger: this.logger.child({ part: 'controller link' }),
    });
    this.edgeLink = link;
    // peerAuth: tracker as the controller relays it (startPeerAuth): the link has the credential now.
    this.allowList?.follower.start();
    this.lifecycle.add({ name: 'controller link', phase: 'serving', stop: () => link.stop() });
  }

  /**
   * Storage control over this store: ingest from each object's recorded origin (partial ingest, as
   * `edgepeer ingest --pieces`) and piece purge (reason 'policy'); both reach peers and trackers through
   * the store's events, and the object is announced at once.
   */
  private async startStorageControl(storageControl: NonNullable<AgentConfig['storageControl']>): Promise<void> {
    // Pieces purged as plentiful are set aside beside the store (docs/policy.md); a restart forgets them.
    const reserve = storageControl.settings.setAside
      ? new DiskPieceReserve(join(this.config.dataDir, 'storage-control', 'aside'), this.store)
      : undefined;
    await reserve?.clear();
    const catalogue = storageControl.catalogue;
    const part = new StorageControlPart({
      ...storageControl,
      ...(reserve ? { reserve } : {}),
      ...(catalogue === null
        ? {}
        : {
            invitations: {
              url: invitationsUrlFromStats(storageControl.statsUrl),
              // Joining: the object enters the store with no piece and its origin; rounds ingest what is rare.
              join: async (infoHash: string) => {
                const { metainfo, origin } = await metainfoFromCatalogue(catalogue, infoHash);
                await this.store.addObject(metainfo, { source: origin });
                return { name: metainfo.name, origin };
              },
            },
          }),
      catalog: this.store,
      ...(this.topUpLedger === null
        ? {}
        : { topUpPacing: (infoHash: string, paced: boolean) => this.topUpLedger?.setPaced(infoHash, paced) }),
      ingest: async (infoHash, origin, pieces) => {
        let error: { code: string; message: string } | null = null;
        await this.operations.ingest({ sources: [origin], infoHash, options: { pieces } }, (result) => {
          if (result.error) error = { code: result.error.code, message: result.error.message };
        });
        return { error };
      },
      purge: (infoHash, pieces) => this.store.removePieces(infoHash, pieces, 'policy'),
      announceNow: (infoHash) => {
        this.announces.announceNow(infoHash).catch((err: unknown) => {
          this.logger.debug({ infoHash, err }, 'storage control: no tracker took the announce of the change yet');
        });
      },
      logger: this.logger.child({ part: 'storage control' }),
      registry: this.metrics,
      // What it ingested and when, so TTLs go on across restarts (the pieces set aside do not: cleared above).
      ingestedRecord: recordFile(join(this.config.dataDir, 'storage-control', 'ingested.json')),
    });
    this.lifecycle.add(part);
    await part.restore();
    part.start();
    this.storageControl = part;
  }

  /** `edgepeer policy explain`: the last decisions for an object (by info hash or name). */
  explainPolicy(id: string): PolicyExplanation {
    const part = this.storageControl;
    if (part === null) {
      throw new NotFoundError('storage control is off on this agent (storageControl.enabled)', { subject: id });
    }
    const object = this.store.find(id);
    if (!part.controls(object.infoHash)) {
      throw new NotFoundError(`${object.infoHash} is not among storageControl.objects`, { subject: id });
    }
    const explanation = part.explain(object.infoHash);
    if (explanation === undefined) {
      throw new NotFoundError(`no decision yet for ${object.infoHash}: the first round has not run`, { subject: id });
    }
    return explanation;
  }

  /**
   * Shedding for a while: `stopped` to the trackers, which leave this agent out of the peer lists they
   * give (numwant and weights mean nothing to them for a seed); `started` again once calm.
   */
  private shedListing(withdrawn: boolean): void {
    const { config, logger, announces } = this;
    if (!config.announce || config.controller) return;
    if (withdrawn) {
      logger.warn(this.qos.status().shedding, 'qos: shedding load for a while; withdrawing from trackers (stopped)');
      announces.stop().catch((err: unknown) => logger.warn({ err }, 'qos: a stopped announce failed'));
    } else if (!announces.running) {
      logger.info('qos: load is back under the thresholds; announcing again (started)');
      announces.start(config.trackers);
    }
  }

  /** The egress limits in effect and what they did (GET /v1/qos). */
  qosStatus(): QosStatus {
    return this.qos.status();
  }

  /**
   * Changes limits at once (POST /v1/qos, `edgepeer qos set`): `changes` over the settings in effect. Until
   * the next SIGHUP or restart, which go back to the configuration.
   */
  setQos(changes: Record<string, unknown>): QosStatus {
    // The limits live on the agent's thread: other serving threads would not keep to them (as at start).
    if (this.slab !== null) {
      throw new InvalidArgumentError(
        'QoS limits cannot be set while serving on threads (http.threads or peer.threads above 1): restart with one',
        { subject: 'qos' },
      );
    }
    const settings = this.qos.update(changes);
    this.config = { ...this.config, qos: settings };
    this.logger.info({ qos: changes }, 'qos: limits changed through the admin API');
    return this.qos.status();
  }

  /** Admin routes beyond the store's: GET /v1/policy/:id, GET and POST /v1/qos, GET /v1/accounting/stream. */
  private async adminRoutes(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (path === '/v1/accounting/stream' && req.method === 'GET') {
      await this.accountingStream(req, res);
      return true;
    }
    if (path === '/v1/qos') {
      if (req.method === 'GET') sendJson(res, 200, this.qosStatus());
      else if (req.method === 'POST') sendJson(res, 200, this.setQos(qosChanges(await readJson(req))));
      else return false;
      return true;
    }
    const policy = /^\/v1\/policy\/([^/]+)$/.exec(path);
    if (req.method !== 'GET' || policy === null) return false;
    sendJson(res, 200, this.explainPolicy(objectId(policy[1] as string)));
    return true;
  }

  /**
   * Accounting records: the log (closed after the servers stopped, with its `stop` record) and the interim
   * records of open peer-wire sessions on a timer.
   */
  private async startAccounting(settings: NonNullable<AgentConfig['accounting']>): Promise<void> {
    const log = await AccountingLog.open({
      dir: settings.dir,
      agent: `${hostname()}/${this.peerId.toString('latin1', 0, 8)}${this.peerId.toString('hex', 8)}`,
      rotateBytes: settings.rotateBytes,
      rotateMs: settings.rotateMs,
      logger: this.logger.child({ part: 'accounting' }),
    });
    const recorder = new AccountingRecorder(log);
    this.accounting = recorder;
    this.accountingLog = log;
    const interim = setInterval(() => recorder.interim(this.wire?.peers() ?? []), settings.interimMs).unref();
    this.lifecycle.add({
      name: 'accounting',
      phase: 'release',
      stop: async () => {
        clearInterval(interim);
        await log.close();
        // After the stop record went out to the collectors too.
        this.stopping.abort();
      },
    });
  }

  /**
   * GET /v1/accounting/stream[?since=SEQ]: this run's records after SEQ (default 0: all), then each as it is
   * written, as NDJSON (src/accounting/stream.ts). The run's id is in X-Edgepeer-Accounting-Run: a collector
   * whose last record is of another run reads the files for the rest.
   */
  private async accountingStream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const log = this.accountingLog;
    if (log === null) throw new NotFoundError('accounting records are off (accounting.dir)');
    const sinceText = new URL(req.url ?? '/', 'http://agent').searchParams.get('since') ?? '0';
    const since = Number(sinceText);
    if (!Number.isSafeInteger(since) || since < 0) {
      throw new InvalidArgumentError(`since must be a sequence number (0 or more), got ${sinceText}`, {
        subject: 'since',
      });
    }
    res.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'cache-control': 'no-store',
      'x-edgepeer-accounting-run': log.run,
    });
    res.flushHeaders();
    await streamRecords(log, since, res, this.stopping.signal);
    if (!res.destroyed) res.end();
  }

  /**
   * peerAuth: tracker: follows the tracker's allow-list (long poll, src/peer-auth); the peer wire asks it
   * before sending a peer piece bytes. The first list is not waited for: until it comes, nobody is on it.
   */
  private async startPeerAuth(settings: NonNullable<AgentConfig['peerAuth']>): Promise<void> {
    if ('from' in settings) {
      // Relayed by the controller, with this edge's credential: followed once the link has it (startEdgeLink).
      const controllerUrl = this.config.controller?.urls[0];
      if (controllerUrl === undefined) {
        throw new InvalidArgumentError('peerAuth: tracker through the controller needs controller.url', {
          subject: 'peerAuth',
        });
      }
      const list = new AllowList(60_000);
      const follower = new AllowListFollower({
        url: new URL(EDGE_API.peerAuth, controllerUrl).href,
        target: () => (this.edgeLink as EdgeLink).endpoint(EDGE_API.peerAuth),
        list,
        logger: this.logger.child({ part: 'peer-auth' }),
      });
      this.allowList = { list, follower };
      this.lifecycle.add({ name: 'peer-auth', phase: 'release', stop: () => follower.stop() });
      return;
    }
    let token: string;
    try {
      token = (await readFile(settings.tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new InvalidArgumentError(
        `peerAuthTokenFile ${settings.tokenFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
        { subject: settings.tokenFile },
      );
    }
    const list = new AllowList(60_000);
    const follower = new AllowListFollower({
      url: settings.url,
      token,
      list,
      logger: this.logger.child({ part: 'peer-auth' }),
    });
    follower.start();
    this.allowList = { list, follower };
    this.lifecycle.add({ name: 'peer-auth', phase: 'release', stop: () => follower.stop() });
  }

  /** The HTTP server, or with `tls` the HTTPS one: the same settings, cache, tally and access log. */
  private async startHttp(http: NonNullable<AgentConfig['http']>, tls: NonNullable<AgentConfig['https']> | null) {
    const part = await startHttp(
      {
        store: this.store,
        cache: this.cache,
        qos: this.qos,
        ...(this.topUpLedger === null ? {} : { topUp: this.topUpLedger }),
        port: tls === null ? http.port : tls.port,
        // Serving threads listen on the same port (http.threads); HTTPS stays on this thread.
        ...(tls === null && (http.threads ?? 1) > 1 ? { reusePort: true } : {}),
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
        ...(this.urlGate === null ? {} : { gate: this.urlGate }),
        ...(this.accounting === null ? {} : { onResponse: this.accounting.httpResponse.bind(this.accounting) }),
      },
      this.config.shutdownGraceMs,
    );
    this.lifecycle.add(part);
    return part;
  }

  /**
   * The other threads serving HTTP (http.threads) and the peer wire (peer.threads) on their ports, over the
   * shared slab: as many as the larger of the two asks, the first ones serving both.
   */
  private async startServingThreads(
    slab: PieceSlab,
    wirePort: number,
    httpPort: number | null,
  ): Promise<ServingThreadsPart> {
    const { http, peer } = this.config;
    const httpThreads = httpPort === null || http === null ? 1 : (http.threads ?? 1);
    const wireThreads = peer.threads ?? 1;
    const part = await startServingThreads(
      {
        count: Math.max(httpThreads, wireThreads) - 1,
        dataDir: this.config.dataDir,
        store: this.store,
        slab,
        verifyPolicy: this.config.cacheVerify,
        verify: (data, expected) => this.hashPool.verify(data, expected),
        onSent: (infoHash, bytes) => this.transfers.uploaded(infoHash, bytes),
        ...(httpThreads > 1 && http !== null && httpPort !== null
          ? {
              httpThreads: httpThreads - 1,
              http: {
                port: httpPort,
                policy: http.policy === 'redirect' ? 'redirect' : 'refuse',
                limits: { ...http.limits, directReadMaxBytes: http.directReadMaxBytes },
                ...(http.host ? { host: http.host } : {}),
                ...(http.corsOrigin ? { corsOrigin: http.corsOrigin } : {}),
              },
            }
          : {}),
        ...(wireThreads > 1
          ? {
              wireThreads: wireThreads - 1,
              wire: {
                port: wirePort,
                peerId: new Uint8Array(this.peerId),
                limits: threadShareOfLimits(peer.limits ?? {}, wireThreads),
                ...(peer.host ? { host: peer.host } : {}),
                ...(peer.mse ? { mse: peer.mse } : {}),
              },
            }
          : {}),
        logger: this.logger,
      },
      this.config.shutdownGraceMs,
    );
    this.lifecycle.add(part);
    return part;
  }

  /** The admin API, and agent.json in the data dir so that CLI commands on this store find it. */
  private async startAdmin(admin: NonNullable<AgentConfig['admin']>): Promise<void> {
    const tokenFile = admin.tokenFile ?? defaultTokenFile(this.config.dataDir);
    const token = await ensureToken(tokenFile);
    // The operator's pages under /dashboard: the same token, traded once for a session cookie.
    const dashboard =
      admin.dashboard === false
        ? null
        : createDashboard({
            token,
            operations: this.operations,
            store: this.store,
            status: () => this.status(),
            peers: () => this.wire?.peers() ?? [],
            cachedPieces: (infoHash) => this.cache.cachedPieces(infoHash),
            swarm: (infoHash) => trackerSwarm(this.config.trackers, infoHash),
            counters: () => {
              const wire = this.wire?.stats();
              const http = this.http?.stats();
              const https = this.https?.stats();
              return {
                sentBytes: (wire?.uploadedBytes ?? 0) + (http?.bytesSent ?? 0) + (https?.bytesSent ?? 0),
                pulledBytes: this.transfers.totals().downloaded,
                connections: (wire?.connections ?? 0) + (http?.connections ?? 0) + (https?.connections ?? 0),
              };
            },
          });
    if (dashboard !== null) {
      this.lifecycle.add({ name: 'dashboard', phase: 'serving', stop: async () => dashboard.close() });
    }
    const server = createAdminServer({
      operations: this.operations,
      ...(dashboard === null ? {} : { pages: (req, res) => dashboard.handle(req, res) }),
      token,
      host: admin.host,
      port: admin.port,
      status: () => this.status(),
      routes: (req, res, path) => this.adminRoutes(req, res, path),
      logger: this.logger.child({ part: 'admin' }),
      metrics: async () => ({ contentType: this.metrics.contentType, body: await this.metrics.metrics() }),
      metricsToken: admin.metricsToken === true,
    });
    const adminUrl = await server.listen();
    this.lifecycle.add({ name: 'admin', phase: 'serving', stop: () => server.close() });
    this.addresses = { ...this.addresses, adminUrl };
    await publishAgent(this.config.dataDir, {
      pid: process.pid,
      adminUrl,
      tokenFile,
      startedAt: new Date().toISOString(),
    });
    this.lifecycle.add({ name: 'agent.json', phase: 'serving', stop: () => unpublishAgent(this.config.dataDir) });
  }

  /**
   * SIGHUP: applies what can change while running and names the settings that need a restart
   * (src/agent/reload.ts). Never rejects.
   */
  async reload(next: AgentConfig & { logLevel?: string }): Promise<ReloadOutcome> {
    const { outcome, config } = await applyReload(
      {
        logger: this.logger,
        http: this.http,
        https: this.https,
        announces: this.announces,
        registration: this.registration,
        scrub: this.scrub,
        qos: this.qos,
        urlKeys: this.urlKeys,
      },
      this.config,
      next,
    );
    this.config = config;
    return outcome;
  }

  private links(object: StoredObject): AgentLinks {
    return objectLinks(object, {
      httpBaseUrls: this.addresses.httpBaseUrls,
      trackers: this.config.trackers,
      transfer: this.transfers.of(object.infoHash),
      since: this.startedAt,
    });
  }

  /** Announces an object now and resolves once a tracker has taken the announce (or at once without announces). */
  announceNow(infoHash: string, timeoutMs = 10_000): Promise<void> {
    return this.announces.announceNow(infoHash, timeoutMs);
  }

  where(): AgentAddresses {
    return this.addresses;
  }

  status(): AgentStatus {
    return agentStatus({
      dataDir: this.config.dataDir,
      addresses: this.addresses,
      catalog: this.store,
      wire: this.wire,
      http: this.http,
      https: this.https,
      cache: this.cache,
      scrub: this.scrub,
      announces: this.announces,
      registration: this.registration,
      edgeLink: this.edgeLink,
      storageControl: this.storageControl,
      qos: this.qos,
      urlGate: this.urlGate,
      accounting: this.accounting,
      peerAuth: this.allowList === null ? null : () => this.peerAuthStatus(),
    });
  }

  private peerAuthStatus() {
    return (this.allowList as NonNullable<typeof this.allowList>).follower.status();
  }

  /**
   * Stops within one deadline, the shutdown grace plus SHUTDOWN_MARGIN_MS; safe to call twice. First every
   * serving part at once: the servers stop accepting and let transfers in flight finish within the grace,
   * while trackers hear `stopped` and the registrar the deregistration. A part still busy at the deadline
   * is left behind (logged; the process exits anyway). Then the resources are released, in reverse order.
   * Resolves with the names of the parts that did not stop in time.
   */
  stop(): Promise<string[]> {
    return this.lifecycle.stop(this.config.shutdownGraceMs + SHUTDOWN_MARGIN_MS);
  }
}

/**
 * Slots of the shared piece cache: the largest piece held at start (1 MiB in an empty store). A longer
 * piece added later is served, not cached; a shorter one takes a whole slot.
 */
function slotBytesFor(store: Store): number {
  let largest = 0;
  for (const object of store.list()) largest = Math.max(largest, object.pieceLength);
  return largest > 0 ? largest : 1024 * 1024;
}

function qosChanges(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError('request body: expected a JSON object of QoS settings, such as {"rate": 5000000}', {
      subject: 'body',
    });
  }
  return body as Record<string, unknown>;
}
