// The topology the tracker and the controller consult: the network map (address -> PID), the cost map
// (PID -> PID -> cost), and what was handed out within and across PIDs. A map is replaced only by a
// complete, valid one: a malformed or unreachable one is refused (logged, shown in status) and the
// previous map stays in use.
import { createHash } from 'node:crypto';
import { isEdgepeerError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { type CostMap, parseCostMap } from './cost-map.ts';
import { type NetworkMap, parseNetworkMap } from './network-map.ts';
import { type MapKind, type MapSource, mapSource } from './source.ts';

export interface TopologyOptions {
  /** File path or http(s) URL of an ALTO network map or a coverage zone file. */
  networkMap: string;
  /** File path or http(s) URL of an ALTO cost map (routingcost). Without one: same PID 0, any other 1. */
  costMap?: string;
  /** How often an ALTO server is asked again, seconds. Default 300. */
  refreshS?: number;
  /** Read maps again when their files change. Default true. */
  watchFiles?: boolean;
  logger?: Logger;
}

/** The cost of reaching an address outside every PID, or a PID pair the cost map leaves out: last. */
export const UNKNOWN_COST = Number.MAX_SAFE_INTEGER;

/** Compact addresses whose PID is remembered, at most (about 100 bytes each). */
const MAX_REMEMBERED = 200_000;

export interface MapStatus {
  location: string;
  loadedAt: number | null;
  /** The vtag, or null. */
  tag: string | null;
  lastError: { code: string; message: string; at: number } | null;
}

export interface TopologyStatus {
  networkMap: MapStatus & { format: string; pids: number; prefixes: number };
  costMap: (MapStatus & { mode: string; entries: number; matchesNetworkMap: boolean }) | null;
}

export interface ReloadOutcome {
  networkMap: 'loaded' | 'unchanged' | 'refused';
  costMap: 'loaded' | 'unchanged' | 'refused' | 'none';
}

export class Topology {
  #network: NetworkMap;
  #cost: CostMap | null;
  readonly #sources: { network: MapSource; cost: MapSource | null };
  readonly #status: { network: MapStatus; cost: MapStatus | null };
  readonly #logger: Logger;
  readonly #stopWatching: Array<() => void> = [];
  readonly #listeners = new Set<() => void>();
  #reloading: Promise<ReloadOutcome> | null = null;
  readonly #compactPids = new Map<string, string | null>();
  /** Each PID's number: its place in the network map's list. */
  #pidNumbers = new Map<string, number>();
  /** Cost rows by the asker's PID (costRow), for the maps in use. */
  readonly #costRows = new Map<string | null, Float64Array>();
  #generation = 0;
  #fingerprint = '';

  private constructor(
    networkText: string,
    network: NetworkMap,
    cost: CostMap | null,
    sources: { network: MapSource; cost: MapSource | null },
    logger: Logger,
  ) {
    this.#network = network;
    this.#cost = cost;
    this.#sources = sources;
    this.#logger = logger;
    this.#numberPids(networkText);
    const now = Date.now();
    this.#status = {
      network: { location: sources.network.location, loadedAt: now, tag: network.vtag?.tag ?? null, lastError: null },
      cost:
        sources.cost === null
          ? null
          : { location: sources.cost.location, loadedAt: now, tag: cost?.dependsOn?.tag ?? null, lastError: null },
    };
  }

  /** Reads both maps; a map that cannot be read or is malformed fails the start (TopologyMapError). */
  static async open(options: TopologyOptions): Promise<Topology> {
    const refreshMs = (options.refreshS ?? 300) * 1000;
    const sources = {
      network: mapSource(options.networkMap, 'network', refreshMs),
      cost: options.costMap === undefined ? null : mapSource(options.costMap, 'cost', refreshMs),
    };
    const networkText = (await sources.network.read()) ?? '';
    const network = parseNetworkMap(networkText, sources.network.location);
    const cost = sources.cost === null ? null : parseCostMap((await sources.cost.read()) ?? '', sources.cost.location);
    const topology = new Topology(networkText, network, cost, sources, options.logger ?? silentLogger);
    if (options.watchFiles ?? true) topology.#watch();
    return topology;
  }

  get networkMap(): NetworkMap {
    return this.#network;
  }

  pidOf(ip: string): string | null {
    return this.#network.pidOf(ip);
  }

  /**
   * The PID of a compact address. Remembered per compact string (the tracker's peers keep theirs, so the
   * string's hash is computed once): a Map hit costs a tenth of a trie walk, and a peer list asks for the
   * same peers again and again. Forgotten when a map is loaded, and when it holds MAX_REMEMBERED.
   */
  pidOfCompact(compact: string): string | null {
    const known = this.#compactPids.get(compact);
    if (known !== undefined) return known;
    const pid = this.#network.pidOfCompact(compact);
    if (this.#compactPids.size >= MAX_REMEMBERED) this.#compactPids.clear();
    this.#compactPids.set(compact, pid);
    return pid;
  }

  /**
   * Bumped each time a network map replaces the previous one: PID numbers (pidNumber) of an older generation
   * mean nothing. Starts at 1.
   */
  get generation(): number {
    return this.#generation;
  }

  /**
   * The network map's text hashed (8 hex digits): the same for every process that loaded the same map, so
   * that PID numbers can be shared through a store (the tracker's Redis state).
   */
  get fingerprint(): string {
    return this.#fingerprint;
  }

  /** A PID's number (its place in the network map), or -1 for none. */
  pidNumber(pid: string | null): number {
    return pid === null ? -1 : (this.#pidNumbers.get(pid) ?? -1);
  }

  /** The number of the PID of a compact address (pidOfCompact), or -1 outside every PID. */
  pidNumberOfCompact(compact: string): number {
    return this.pidNumber(this.pidOfCompact(compact));
  }

  /**
   * cost(from, ·) for every PID by number, and at index `pids` (the PID count) for an address outside
   * every PID: one array read per peer instead of two Map lookups. Kept until a map is loaded.
   */
  costRow(from: string | null): Float64Array {
    let row = this.#costRows.get(from);
    if (row !== undefined) return row;
    const pids = this.#network.pids;
    row = new Float64Array(pids.length + 1);
    const costTo = this.costsFrom(from);
    for (let i = 0; i < pids.length; i++) row[i] = costTo(pids[i]!);
    row[pids.length] = costTo(null);
    if (this.#costRows.size >= pids.length + 1) this.#costRows.clear();
    this.#costRows.set(from, row);
    return row;
  }

  #numberPids(networkText: string): void {
    const pids = this.#network.pids;
    this.#pidNumbers = new Map(pids.map((pid, i) => [pid, i]));
    this.#fingerprint = createHash('sha1').update(networkText).digest('hex').slice(0, 8);
    this.#generation += 1;
  }

  /**
   * The cost from one PID to another, lower preferred. An asker outside the map sees every PID alike (0);
   * a destination outside it, or a pair the cost map leaves out, comes last.
   */
  cost(from: string | null, to: string | null): number {
    if (from === null) return 0;
    if (to === null) return UNKNOWN_COST;
    const cost = this.#cost?.costs.get(from)?.get(to);
    if (cost !== undefined) return cost;
    if (from === to) return 0;
    return this.#cost === null ? 1 : UNKNOWN_COST;
  }

  /** cost(from, ·) with the cost map's row for `from` looked up once (for many destinations at a time). */
  costsFrom(from: string | null): (to: string | null) => number {
    if (from === null) return () => 0;
    const row = this.#cost?.costs.get(from);
    const unlisted = this.#cost === null ? 1 : UNKNOWN_COST;
    return (to) => {
      if (to === null) return UNKNOWN_COST;
      const cost = row?.get(to);
      if (cost !== undefined) return cost;
      return to === from ? 0 : unlisted;
    };
  }

  /** Calls listener after each map that replaced the previous one. */
  onReload(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads both maps again (SIGHUP, a file change, the refresh timer); one reload at a time. */
  reload(): Promise<ReloadOutcome> {
    this.#reloading ??= this.#reloadBoth().finally(() => {
      this.#reloading = null;
    });
    return this.#reloading;
  }

  async #reloadBoth(): Promise<ReloadOutcome> {
    let networkText = '';
    const networkMap = await this.#reloadOne('network', (text, origin) => {
      this.#network = parseNetworkMap(text, origin);
      networkText = text;
      this.#status.network.tag = this.#network.vtag?.tag ?? null;
    });
    const costMap =
      this.#sources.cost === null
        ? 'none'
        : await this.#reloadOne('cost', (text, origin) => {
            this.#cost = parseCostMap(text, origin);
            this.#status.cost!.tag = this.#cost.dependsOn?.tag ?? null;
          });
    if (networkMap === 'loaded') {
      this.#compactPids.clear();
      this.#numberPids(networkText);
    }
    if (networkMap === 'loaded' || costMap === 'loaded') this.#costRows.clear();
    if (networkMap === 'loaded' || costMap === 'loaded') for (const listener of this.#listeners) listener();
    return { networkMap, costMap };
  }

  async #reloadOne(
    kind: MapKind,
    apply: (text: string, origin: string) => void,
  ): Promise<'loaded' | 'unchanged' | 'refused'> {
    const source = kind === 'network' ? this.#sources.network : this.#sources.cost!;
    const status = kind === 'network' ? this.#status.network : this.#status.cost!;
    try {
      const text = await source.read();
      if (text === null) return 'unchanged';
      apply(text, source.location);
      status.loadedAt = Date.now();
      status.lastError = null;
      this.#logger.info({ map: kind, location: source.location, tag: status.tag }, 'topology: map loaded');
      return 'loaded';
    } catch (err) {
      if (!isEdgepeerError(err)) throw err;
      status.lastError = { code: err.code, message: err.message, at: Date.now() };
      this.#logger.warn({ map: kind, err: err.message }, 'topology: map refused, the previous one stays in use');
      return 'refused';
    }
  }

  #watch(): void {
    const reload = () => {
      this.reload().catch((err: unknown) => this.#logger.error({ err }, 'topology: reload failed'));
    };
    this.#stopWatching.push(this.#sources.network.watch(reload));
    if (this.#sources.cost !== null) this.#stopWatching.push(this.#sources.cost.watch(reload));
  }

  status(): TopologyStatus {
    const network = this.#network;
    const cost = this.#cost;
    return {
      networkMap: {
        ...this.#status.network,
        format: network.format,
        pids: network.pids.length,
        prefixes: network.prefixCount,
      },
      costMap:
        this.#status.cost === null || cost === null
          ? null
          : {
              ...this.#status.cost,
              mode: cost.mode,
              entries: cost.entryCount,
              // A cost map made for another version of the network map may name PIDs that moved.
              matchesNetworkMap:
                cost.dependsOn === null ||
                network.vtag === null ||
                (cost.dependsOn.resourceId === network.vtag.resourceId && cost.dependsOn.tag === network.vtag.tag),
            },
    };
  }

  close(): void {
    for (const stop of this.#stopWatching.splice(0)) stop();
  }
}

/** Units handed out (peers listed, bytes served) within the asker's PID and across PIDs. */
export class PidTraffic {
  within = 0;
  across = 0;
  /** The asker or the source is outside every PID. */
  unmapped = 0;

  add(from: string | null, to: string | null, amount = 1): void {
    if (from === null || to === null) this.unmapped += amount;
    else if (from === to) this.within += amount;
    else this.across += amount;
  }

  toJSON(): { within: number; across: number; unmapped: number } {
    return { within: this.within, across: this.across, unmapped: this.unmapped };
  }

  /** The share within PIDs of what was mapped on both ends (0 when nothing was). */
  get withinShare(): number {
    const mapped = this.within + this.across;
    return mapped === 0 ? 0 : this.within / mapped;
  }
}
