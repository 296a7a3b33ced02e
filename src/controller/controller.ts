// The controller's composition root (TR 23.844 6.2.2): the CDN as one peer over its edges. Its catalog is
// the union of what the edges hold; its pieces come from the edges, verified, through a cache of its own;
// its HTTP URLs redirect to the edges; it alone announces to trackers and registers in IMS. Edges enrol,
// send heartbeats and holdings, and take ingest and purge commands on the edge listener.
import { mkdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  createAdminServer,
  defaultTokenFile,
  ensureToken,
  publishAgent,
  readJson,
  sendJson,
  unpublishAgent,
} from '../admin/index.ts';
import { KeyRing, UrlGate } from '../auth/index.ts';
import type { ControllerConfig, LogLevel } from '../config/index.ts';
import { createControllerDashboard, type Dashboard } from '../dashboard/index.ts';
import { InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import { type HttpServer, sha1Verifier } from '../http/index.ts';
import { defaultInstanceId, type RegistrationOptions } from '../ims/index.ts';
import type { StorageControlPart } from '../parts/index.ts';
import {
  AnnouncesPart,
  Lifecycle,
  RegistrationPart,
  type ReloadOutcome,
  reloadSteps,
  startHttp,
  startPeerWire,
} from '../parts/index.ts';
import { AllowList, AllowListFollower } from '../peer-auth/index.ts';
import type { PolicyExplanation } from '../policy/index.ts';
import { CachingSource } from '../store/index.ts';
import { Topology } from '../topology/index.ts';
import { newPeerId, type PeerWireServer } from '../wire/index.ts';
import { createEdgeApi } from './edge-api.ts';
import { EdgeRegistry } from './edge-registry.ts';
import { EdgeSource } from './edge-source.ts';
import { FleetCatalog } from './fleet-catalog.ts';
import type { FleetState, Leadership } from './fleet-state.ts';
import { edgeForwarder } from './forwarding.ts';
import { MemoryFleetState } from './memory-fleet-state.ts';
import { createControllerMetrics } from './metrics.ts';
import { EdgeNearness } from './nearness.ts';
import { ControllerOperations } from './operations.ts';
import type { EdgeChoice } from './placement.ts';
import { restartOnlyChanges } from './reload.ts';
import { type ControllerStatus, controllerStatus, edgeSummaries } from './status.ts';
import { controllerStorageControl, storageControlRecordPlace } from './storage-control.ts';

/**
 * Changes to the union reach trackers within ~0.3 s (an edge's own announces wait 5 s and ride a 10 s
 * grid): one controller announces for the whole CDN, so it spends the requests an edge would save. A
 * tracker's own min interval still applies.
 */
const ANNOUNCE_TIMING = { changeDelayMs: 250, batchWindowMs: 0, batchLingerMs: 50, minSpacingS: 5 };
/** Beyond the shutdown grace: `stopped` announces and the IMS deregistration. */
const SHUTDOWN_MARGIN_MS = 3000;

/** Pieces each peer-wire connection fetches ahead from the edges (the agent reads one ahead from disk). */
const CONTROLLER_PREFETCH_DEPTH = 4;
export interface ControllerAddresses {
  peerPort: number;
  httpPort: number | null;
  httpBaseUrls: string[];
  edgeUrl: string;
  adminUrl: string | null;
}

export class Controller {
  /** The CDN's peer id: this controller's own, or on a shared state the fleet's (one tracker entry). */
  readonly peerId: Buffer;
  config: ControllerConfig;
  readonly fleet: FleetState;
  readonly catalog: FleetCatalog;
  readonly registry: EdgeRegistry;
  readonly operations: ControllerOperations;
  readonly #logger: Logger;
  readonly #lifecycle: Lifecycle;
  readonly #source: EdgeSource;
  readonly #cache: CachingSource;
  readonly #announces: AnnouncesPart;
  readonly #registration: RegistrationPart;
  readonly #metrics: Registry;
  /** ALTO maps: where clients and edges are; null without alto-network-map. */
  readonly nearness: EdgeNearness | null;
  #leadership: Leadership | null = null;
  /** Storage control over the fleet, while this controller leads and it is configured. */
  #storageControl: StorageControlPart | null = null;
  /** Which edge takes the pieces storage control places (placement.ts; another rule can be given). */
  #edgeChoice: EdgeChoice | undefined;
  /** Leadership changes, applied one after another. */
  #leading: Promise<void> = Promise.resolve();
  #wire: PeerWireServer | null = null;
  #http: HttpServer | null = null;
  /** Signed URL tokens: keys and the check before redirects; null when URLs need none. */
  #urlKeys: KeyRing | null = null;
  #urlGate: UrlGate | null = null;
  /** The tracker's allow-list, followed (peer-auth-url), relayed to the edges and gating this peer wire. */
  #peerAuth: AllowListFollower | null = null;
  #addresses: ControllerAddresses = { peerPort: 0, httpPort: null, httpBaseUrls: [], edgeUrl: '', adminUrl: null };

  private constructor(
    config: ControllerConfig,
    logger: Logger,
    lifecycle: Lifecycle,
    fleet: FleetState,
    verify: (data: Uint8Array, expected: Uint8Array) => Promise<boolean>,
    peerId: Buffer,
    nearness: EdgeNearness | null,
  ) {
    this.peerId = peerId;
    this.nearness = nearness;
    this.config = config;
    this.#logger = logger;
    this.#lifecycle = lifecycle;
    this.fleet = fleet;
    this.catalog = new FleetCatalog(fleet, logger.child({ part: 'fleet' }));
    this.registry = new EdgeRegistry({
      fleet,
      catalog: this.catalog,
      heartbeatMs: config.edges.heartbeatMs,
      logger: logger.child({ part: 'edges' }),
    });
    this.operations = new ControllerOperations({
      catalog: this.catalog,
      registry: this.registry,
      fleet,
      replicas: () => this.config.edges.replicas,
    });
    this.#source = new EdgeSource({
      catalog: this.catalog,
      verify,
      logger: logger.child({ part: 'edge source' }),
      tokenFor: (path) => this.#urlGate?.tokenFor(path),
      ...(nearness === null ? {} : { nearness }),
    });
    this.#cache = new CachingSource(this.catalog, this.#source, { maxBytes: config.cacheBytes });
    this.#announces = new AnnouncesPart({
      catalog: this.catalog,
      peerId: this.peerId,
      where: () => this.#addresses,
      transferStats: () => undefined,
      logger,
      timing: ANNOUNCE_TIMING,
    });
    this.#registration = new RegistrationPart(logger.child({ part: 'ims' }));
    this.#metrics = createControllerMetrics(
      () => this.status(),
      () => edgeSummaries(this.catalog),
    );
  }

  /** Starts over `fleet` (default: in memory, edges and tokens saved in the data dir). */
  static async start(
    config: ControllerConfig,
    logger: Logger,
    fleet?: FleetState,
    options: { edgeChoice?: EdgeChoice } = {},
  ): Promise<Controller> {
    await mkdir(config.dataDir, { recursive: true, mode: 0o750 });
    const lifecycle = new Lifecycle(logger);
    const state = fleet ?? (await openFleetState(config, logger));
    lifecycle.add({ name: 'fleet state', phase: 'release', stop: () => state.close() });
    const peerId = Buffer.from(await state.sharedPeerId(newPeerId()));
    // Pieces fetched from edges are hashed where they arrive, on this thread: handing a piece to the hash
    // pool (a copy, a message) cost more than its SHA-1 (peer wire through the controller: 0.53x of straight
    // from an edge with the pool, 0.68x without; docs/benchmarks.md).
    const verify = async (data: Uint8Array, expected: Uint8Array) => sha1Verifier(data, expected);
    // A map that cannot be read or is malformed stops the start, naming it (EDGEPEER_TOPOLOGY_MAP_*).
    let nearness: EdgeNearness | null = null;
    if (config.topology) {
      const topology = await Topology.open({
        networkMap: config.topology.networkMap,
        ...(config.topology.costMap === undefined ? {} : { costMap: config.topology.costMap }),
        refreshS: config.topology.refreshS,
        logger: logger.child({ part: 'topology' }),
      }).catch(async (err: unknown) => {
        await lifecycle.stop(5000);
        throw err;
      });
      lifecycle.add({ name: 'topology', phase: 'release', stop: async () => topology.close() });
      nearness = new EdgeNearness(topology, config.topology.homeAddress ?? null);
    }
    const controller = new Controller(config, logger, lifecycle, state, verify, peerId, nearness);
    controller.#edgeChoice = options.edgeChoice;
    try {
      await controller.#startParts();
    } catch (err) {
      await controller.stop();
      throw err;
    }
    return controller;
  }

  async #startParts(): Promise<void> {
    const config = this.config;
    const lifecycle = this.#lifecycle;
    const logger = this.#logger;
    await this.catalog.load();
    lifecycle.add({ name: 'edge source', phase: 'release', stop: () => this.#source.close() });

    const allowList = config.peerAuth ? await this.#followAllowList(config.peerAuth) : null;
    const edgeApi = createEdgeApi({
      registry: this.registry,
      allowList,
      host: config.edges.host,
      port: config.edges.port,
      logger: logger.child({ part: 'edge api' }),
    });
    const edgeUrl = await edgeApi.listen();
    this.registry.start();
    lifecycle.add({
      name: 'edge api',
      phase: 'serving',
      stop: async () => {
        this.registry.stop();
        await edgeApi.close();
      },
    });
    this.#addresses = { ...this.#addresses, edgeUrl };

    const wire = await startPeerWire(
      {
        store: this.catalog,
        cache: this.#cache,
        port: config.peer.port,
        peerId: this.peerId,
        logger: logger.child({ part: 'wire' }),
        ...(config.peer.mse ? { mse: config.peer.mse } : {}),
        ...(config.peer.host ? { host: config.peer.host } : {}),
        // A piece comes from an edge over HTTP (~5x a local read): more of a peer's queue is fetched ahead.
        limits: { prefetchDepth: CONTROLLER_PREFETCH_DEPTH, ...config.peer.limits },
        // The CDN's own peer: with an allow-list, piece bytes only to the addresses on it, as at its edges.
        ...(allowList === null ? {} : { peerGate: allowList }),
        ...(config.storageControl ? { topUpBytesPerSecond: config.storageControl.topUpBytesPerSecond } : {}),
      },
      config.shutdownGraceMs,
    );
    lifecycle.add(wire);
    this.#wire = wire.server;
    this.#addresses = { ...this.#addresses, peerPort: wire.port };

    if (config.http?.tokenKeys !== undefined && config.http.tokenKeys.length > 0) {
      this.#urlKeys = await KeyRing.load(config.http.tokenKeys);
      this.#urlGate = new UrlGate({ keys: this.#urlKeys, logger: logger.child({ part: 'url-tokens' }) });
    }
    if (config.http) {
      const http = await startHttp(
        {
          store: this.catalog,
          cache: this.#cache,
          port: config.http.port,
          policy: 'refuse',
          forward: edgeForwarder(this.catalog, this.nearness ?? undefined),
          logger: logger.child({ part: 'http' }),
          ...(config.http.accessLog ? { accessLog: config.http.accessLog } : {}),
          ...(config.http.corsOrigin ? { corsOrigin: config.http.corsOrigin } : {}),
          ...(config.http.host ? { host: config.http.host } : {}),
          ...(this.#urlGate === null ? {} : { gate: this.#urlGate }),
        },
        config.shutdownGraceMs,
      );
      lifecycle.add(http);
      this.#http = http.server;
      const baseUrls = config.http.publicUrl ? [config.http.publicUrl.replace(/\/$/, '')] : http.baseUrls;
      this.#addresses = { ...this.#addresses, httpPort: http.port, httpBaseUrls: baseUrls };
    }

    // On a shared fleet the next leader announces under the same peer id: trackers keep the CDN's entry.
    lifecycle.add({
      name: 'announces',
      phase: 'serving',
      stop: () => this.#announces.stop({ handOver: this.fleet.shared }),
    });
    lifecycle.add(this.#registration);
    lifecycle.add({ name: 'storage control', phase: 'serving', stop: () => this.#stopStorageControl() });
    if (config.admin) await this.#startAdmin(config.admin);
    // Registering and announcing are the leader's: the only controller, or the holder of the shared lease.
    const leadership = this.fleet.leadership((leader) => {
      this.#leading = this.#leading.then(() => this.#lead(leader));
    });
    lifecycle.add({ name: 'leadership', phase: 'serving', stop: () => leadership.stop().then(() => this.#leading) });
    this.#leadership = leadership;
  }

  /**
   * Follows the tracker's allow-list (long poll, src/peer-auth) for the edges' relay and this peer wire.
   * The first list is not waited for: until it comes, nobody is on it.
   */
  async #followAllowList(settings: NonNullable<ControllerConfig['peerAuth']>): Promise<AllowList> {
    let token: string;
    try {
      token = (await readFile(settings.tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new InvalidArgumentError(
        `peer-auth-token-file ${settings.tokenFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
        { subject: 'peer-auth-token-file' },
      );
    }
    const list = new AllowList(60_000);
    const follower = new AllowListFollower({
      url: settings.url,
      token,
      list,
      logger: this.#logger.child({ part: 'peer-auth' }),
    });
    follower.start();
    this.#peerAuth = follower;
    this.#lifecycle.add({ name: 'peer-auth', phase: 'release', stop: () => follower.stop() });
    return list;
  }

  /** Takes up (or hands over) the CDN's registration in IMS and its announces. */
  async #lead(leader: boolean): Promise<void> {
    const { config } = this;
    this.#logger.info({ leader }, leader ? 'controller: leading (registers and announces)' : 'controller: not leading');
    if (!leader) {
      await this.#stopStorageControl();
      await this.#announces.stop({ handOver: this.fleet.shared });
      await this.#registration.replace(null);
      return;
    }
    if (config.announce && !this.#announces.running) this.#announces.start(config.trackers);
    // One controller decides for the fleet: the leader, whose announces carry the union the tracker counts.
    if (config.storageControl && this.#storageControl === null) {
      this.#storageControl = controllerStorageControl({
        ...config.storageControl,
        catalog: this.catalog,
        registry: this.registry,
        originOf: (infoHash) => this.operations.originOf(infoHash),
        putMetainfo: (infoHash, torrent) => this.fleet.putMetainfo(infoHash, torrent),
        announceNow: (infoHash) => void this.announceNow(infoHash).catch(() => {}),
        logger: this.#logger.child({ part: 'storage control' }),
        metrics: this.#metrics,
        ...(this.#edgeChoice === undefined ? {} : { choose: this.#edgeChoice }),
        // With maps, pieces go where the demand is, `choose` deciding among the edges nearest to it.
        ...(this.nearness === null || config.topology?.placement === 'load' ? {} : { nearness: this.nearness }),
        // The record of what it placed and when, so TTLs go on: in the shared fleet state, where a new leader
        // reads it; a controller alone keeps it in its data dir.
        ingestedRecord: storageControlRecordPlace(this.fleet, this.config.dataDir),
      });
      await this.#storageControl.restore();
      this.#storageControl.start();
    }
    if (config.ims) await this.#registration.replace(this.#fleetIms(config.ims));
  }

  /**
   * On a shared fleet every controller registers as the same UA instance (+sip.instance from the fleet's
   * peer id, unless configured): a new leader's REGISTER then replaces its dead predecessor's binding at
   * the registrar (RFC 5626 4.1) instead of adding a second one for the CDN.
   */
  #fleetIms(ims: RegistrationOptions): RegistrationOptions {
    if (!this.fleet.shared || ims.instanceId !== undefined) return ims;
    return { ...ims, instanceId: defaultInstanceId(ims.impu, `fleet:${this.peerId.toString('hex')}`) };
  }

  async #startAdmin(admin: NonNullable<ControllerConfig['admin']>): Promise<void> {
    const tokenFile = admin.tokenFile ?? defaultTokenFile(this.config.dataDir);
    const token = await ensureToken(tokenFile);
    const dashboard = admin.dashboard === false ? null : this.#dashboard(token);
    const server = createAdminServer({
      operations: this.operations,
      routes: (req, res, path) => this.#adminRoutes(req, res, path),
      ...(dashboard === null ? {} : { pages: (req, res) => dashboard.handle(req, res) }),
      token,
      host: admin.host,
      port: admin.port,
      status: () => this.status(),
      logger: this.#logger.child({ part: 'admin' }),
      metrics: async () => ({ contentType: this.#metrics.contentType, body: await this.#metrics.metrics() }),
    });
    const adminUrl = await server.listen();
    this.#lifecycle.add({ name: 'admin', phase: 'serving', stop: () => server.close() });
    this.#addresses = { ...this.#addresses, adminUrl };
    // CLI commands given this data dir (ls, ingest, purge, edges) find the controller as they find an agent.
    await publishAgent(this.config.dataDir, {
      pid: process.pid,
      adminUrl,
      tokenFile,
      startedAt: new Date().toISOString(),
    });
    this.#lifecycle.add({ name: 'controller.json', phase: 'serving', stop: () => unpublishAgent(this.config.dataDir) });
  }

  /** The operator's pages under /dashboard (src/dashboard): the admin token, traded for a session cookie. */
  #dashboard(token: string): Dashboard | null {
    const catalog = this.catalog;
    const dashboard = createControllerDashboard({
      token,
      operations: this.operations,
      status: () => this.status(),
      edges: () => edgeSummaries(catalog),
      drain: async (edgeId, draining) => (await this.fleet.setDraining(edgeId, draining)) !== undefined,
      peers: () => this.#wire?.peers() ?? [],
      // The counters only, not status(): that walks the union's catalog.
      counters: () => {
        const wire = this.#wire?.stats();
        const http = this.#http?.stats();
        return {
          sentBytes: (wire?.uploadedBytes ?? 0) + (http?.bytesSent ?? 0),
          pulledBytes: this.#source.stats().bytesFetched,
          connections: (wire?.connections ?? 0) + (http?.connections ?? 0),
        };
      },
      fleet: {
        list: () => catalog.list(),
        get: (infoHash) => catalog.get(infoHash),
        copies: (infoHash) => catalog.copies(infoHash),
        holdings: (infoHash) =>
          catalog.holdings(infoHash).map(({ edge, bitfield }) => ({
            edgeId: edge.record.id,
            name: edge.record.name,
            bitfield: bitfield.toBuffer(),
            held: bitfield.count(),
          })),
        onChange: (listener) => {
          catalog.on('pieces-added', (infoHash) => listener(infoHash));
          catalog.on('pieces-removed', (infoHash) => listener(infoHash));
          catalog.on('object-added', () => listener(null));
          catalog.on('object-removed', () => listener(null));
        },
      },
    });
    this.#lifecycle.add({ name: 'dashboard', phase: 'serving', stop: async () => dashboard.close() });
    return dashboard;
  }

  /** The controller's own admin routes: edges and enrolment tokens. */
  async #adminRoutes(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method === 'GET' && path === '/v1/edges') {
      sendJson(res, 200, edgeSummaries(this.catalog));
      return true;
    }
    if (req.method === 'POST' && path === '/v1/tokens') {
      const body = (await readJson(req)) as { ttlMs?: unknown; label?: unknown };
      const ttlMs = body.ttlMs ?? 3_600_000;
      if (typeof ttlMs !== 'number') throw new InvalidArgumentError('ttlMs must be a number', { subject: 'ttlMs' });
      const label = typeof body.label === 'string' ? body.label.slice(0, 200) : null;
      sendJson(res, 200, await this.registry.createToken(ttlMs, label));
      return true;
    }
    if (req.method === 'GET' && path === '/v1/tokens') {
      sendJson(res, 200, await this.fleet.listTokens());
      return true;
    }
    const policy = /^\/v1\/policy\/([0-9a-fA-F]{40})$/.exec(path);
    if (req.method === 'GET' && policy !== null) {
      sendJson(res, 200, this.#explainPolicy((policy[1] as string).toLowerCase()));
      return true;
    }
    const edgeRoute = /^\/v1\/edges\/(edge-[0-9a-f]{12})(\/drain)?$/.exec(path);
    if (edgeRoute !== null && req.method === 'DELETE' && edgeRoute[2] === undefined) {
      if (!(await this.fleet.removeEdge(edgeRoute[1] as string))) throw new NotFoundError(`no edge ${edgeRoute[1]}`);
      this.#logger.info({ edgeId: edgeRoute[1] }, 'controller: an edge was removed (its credential is revoked)');
      sendJson(res, 200, { removed: edgeRoute[1] });
      return true;
    }
    if (edgeRoute !== null && req.method === 'POST' && edgeRoute[2] === '/drain') {
      const body = (await readJson(req)) as { draining?: unknown };
      const record = await this.fleet.setDraining(edgeRoute[1] as string, body.draining !== false);
      if (record === undefined) throw new NotFoundError(`no edge ${edgeRoute[1]}`);
      sendJson(res, 200, record);
      return true;
    }
    return false;
  }

  /** SIGHUP (src/controller/reload.ts): applies what can change while running; never rejects. */
  async reload(next: ControllerConfig, logLevel: LogLevel, logger: Logger): Promise<ReloadOutcome> {
    const { outcome, step } = reloadSteps(logger);
    const current = this.config;
    if (logLevel !== logger.level) await step('logLevel', () => (logger.level = logLevel));
    const leader = this.#leadership?.leader ?? false;
    if (leader && (next.announce !== current.announce || !isDeepStrictEqual(next.trackers, current.trackers))) {
      await step('trackers', async () => {
        if (!next.announce) await this.#announces.stop();
        else if (!this.#announces.running) this.#announces.start(next.trackers);
        else this.#announces.setTrackers(next.trackers);
      });
    }
    if (leader && !isDeepStrictEqual(next.ims, current.ims)) {
      await step('ims', () => this.#registration.replace(next.ims && this.#fleetIms(next.ims)));
    }
    if (next.edges.replicas !== current.edges.replicas) await step('edges.replicas', () => {});
    // The maps are read again (a malformed one is refused and the old kept: status shows its error).
    const nearness = this.nearness;
    if (nearness !== null) {
      await step('topology', async () => {
        const reloaded = await nearness.topology.reload();
        if (reloaded.networkMap === 'refused' || reloaded.costMap === 'refused') {
          throw new Error(`a map was refused: ${JSON.stringify(nearness.topology.status())}`);
        }
      });
    }
    // Signed URL token keys: the files read anew, the list as configured (turning tokens on or off: restart).
    const tokenKeys = next.http?.tokenKeys;
    let keysInUse = current.http?.tokenKeys;
    if (this.#urlKeys !== null && tokenKeys !== undefined && tokenKeys.length > 0) {
      await step('url token keys', async () => {
        await this.#urlKeys?.reload(tokenKeys);
        keysInUse = tokenKeys;
      });
    }
    const http =
      current.http === null ? null : { ...current.http, ...(keysInUse === undefined ? {} : { tokenKeys: keysInUse }) };
    outcome.restartNeeded = restartOnlyChanges({ ...current, http }, next);
    this.config = {
      ...current,
      http,
      trackers: next.trackers,
      announce: next.announce,
      ims: next.ims,
      edges: { ...current.edges, replicas: next.edges.replicas },
    };
    return outcome;
  }

  async #stopStorageControl(): Promise<void> {
    const part = this.#storageControl;
    this.#storageControl = null;
    await part?.stop();
    // Its metrics go with it: a part made when this controller leads again registers them anew.
    if (part !== null) {
      for (const metric of this.#metrics.getMetricsAsArray()) {
        if (metric.name.startsWith('edgepeer_storage_control_')) this.#metrics.removeSingleMetric(metric.name);
      }
    }
  }

  /** `edgepeer policy explain` (GET /v1/policy/:infoHash): storage control's last decisions for an object. */
  #explainPolicy(infoHash: string): PolicyExplanation {
    const part = this.#storageControl;
    if (part === null) {
      throw new NotFoundError(
        this.config.storageControl
          ? 'storage control runs on the leading controller, not this one'
          : 'storage control is off (--storage-control)',
        { subject: infoHash },
      );
    }
    const explanation = part.explain(infoHash);
    if (explanation === undefined) {
      throw new NotFoundError(`no decision yet for ${infoHash} (not controlled, or no round yet)`, {
        subject: infoHash,
      });
    }
    return explanation;
  }

  where(): ControllerAddresses {
    return this.#addresses;
  }

  status(): ControllerStatus {
    return controllerStatus({
      dataDir: this.config.dataDir,
      addresses: this.#addresses,
      catalog: this.catalog,
      registry: this.registry,
      source: this.#source,
      cache: this.#cache,
      wire: this.#wire,
      http: this.#http,
      announces: this.#announces,
      registration: this.#registration,
      leader: this.#leadership?.leader ?? false,
      nearness: this.nearness,
      peerAuth: this.#peerAuth?.status() ?? null,
    });
  }

  /** Announces an object now; resolves once a tracker took it (at once without announces). */
  announceNow(infoHash: string, timeoutMs = 10_000): Promise<void> {
    return this.#announces.announceNow(infoHash, timeoutMs);
  }

  stop(): Promise<string[]> {
    return this.#lifecycle.stop(this.config.shutdownGraceMs + SHUTDOWN_MARGIN_MS);
  }
}

/** The fleet state the configuration names: this process's memory (edges and tokens in fleet.json), or Redis. */
async function openFleetState(config: ControllerConfig, logger: Logger): Promise<FleetState> {
  const redis = config.state?.redis;
  if (redis === undefined) return MemoryFleetState.open(join(config.dataDir, 'fleet.json'));
  // Loaded here: a controller alone (and every other command) does without the Redis client.
  const { RedisFleetState } = await import('./redis-fleet-state.ts');
  let lastError = '';
  return RedisFleetState.open({
    url: redis.url,
    ...(redis.password ? { password: redis.password } : {}),
    ...(redis.tlsCa ? { tlsCa: redis.tlsCa } : {}),
    onError: (err) => {
      // One line per kind of failure while it lasts, not one per retry.
      if (err.message === lastError) return;
      lastError = err.message;
      logger.warn({ err: err.message }, 'controller: Redis connection failed; retrying (serving from memory)');
    },
    onReseeded: (restored) =>
      logger.warn(
        restored,
        'controller: Redis came back without the fleet state; put back the edges, peer id and queued purges this controller knows (edges resync their holdings)',
      ),
  });
}
