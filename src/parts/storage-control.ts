// Network Storage Control as a part (TR 23.844 6.2.3, docs/policy.md): follows the swarm statistics of the
// objects it controls, runs a decision round (src/policy's decide) every interval and whenever statistics
// change, and carries the decisions out with what the process has: partial ingest from the object's
// origin and piece purge in the store (peers and trackers hear of both through the store's events), then
// an announce at once so that the tracker's peer lists show the change. Every ingest and purge is logged
// with its reason and counted in Prometheus metrics; the last round's decisions are kept for `explain`.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log/index.ts';
import {
  type DecisionReason,
  decide,
  IngestedRecordError,
  InvitationFollower,
  ingestedRecordOf,
  initialState,
  type OperationOutcome,
  type PolicyExplanation,
  type PolicyState,
  ScrapeStatsSource,
  type StatsSource,
  type StatsState,
  type StorageControlSettings,
  type SwarmDecision,
  type SwarmInput,
  singleNodeHoldings,
  stateFromIngestedRecord,
  TrackerStatsSource,
} from '../policy/index.ts';
import type { Catalog, CatalogObject } from '../store/index.ts';
import type { Part } from './lifecycle.ts';
import type { PieceReserve } from './piece-reserve.ts';

export interface StorageControlOptions {
  settings: StorageControlSettings;
  /** The tracker's statistics URL (…/stats); used when neither `source` nor `scrape` is given. */
  statsUrl: string;
  /** A tracker's scrape (BEP 48) to follow instead of statsUrl: seeds and leechers, no pieces. */
  scrape?: { url: string; intervalMs: number } | null;
  /** Info hashes it controls, or null for every object in the catalog. */
  objects: string[] | null;
  /** ms between rounds. */
  intervalMs: number;
  catalog: Pick<Catalog, 'list' | 'get'>;
  /** Ingests these pieces of a known object from `origin` (a URL or path); resolves with the error, if any. */
  ingest: (
    infoHash: string,
    origin: string,
    pieces: number[],
  ) => Promise<{ error: { code: string; message: string } | null }>;
  purge: (infoHash: string, pieces: number[]) => Promise<void>;
  /** Where pieces purged as plentiful are set aside (settings.setAside); without one, purges remove. */
  reserve?: PieceReserve;
  /**
   * Swarms the tracker invites it to (docs/policy.md, "Invitations"): the tracker's invitations URL, and how
   * to join a swarm not in the store (add the object with its origin, from the catalogue).
   */
  invitations?: { url: string; join: (infoHash: string) => Promise<{ name: string; origin: string }> };
  /** Announces the object now (its bitmap changed). */
  announceNow: (infoHash: string) => void;
  /**
   * After each round, per swarm: whether top-up should pace it (decide()'s paced: false where this node is
   * the only source of a wanted piece, or the swarm is thin, settings.paceSeedsPerLeecher). Absent: top-up is off, or not this part's to tell.
   */
  topUpPacing?: (infoHash: string, paced: boolean) => void;
  logger: Pick<Logger, 'info' | 'warn' | 'debug' | 'error'>;
  registry?: Registry;
  source?: StatsSource;
  clock?: () => number;
  /**
   * Where the record of what the function ingested, and when, is kept (JSON, rewritten after a round that
   * changes it): restore() reads it, so a TTL counts from the ingest across restarts. Absent: not kept.
   */
  ingestedRecord?: RecordPlace;
}

/** Where a text record is kept: a file (recordFile), or a controller's fleet state. */
export interface RecordPlace {
  /** For log lines: the file, or what holds it. */
  where: string;
  /** The text, or undefined if none was written yet. */
  read(): Promise<string | undefined>;
  write(text: string): Promise<void>;
}

/** A record kept in a file, replaced whole (temp file, then rename). */
export function recordFile(path: string): RecordPlace {
  return {
    where: path,
    read: () =>
      readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      }),
    write: async (text) => {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(`${path}.tmp`, text);
      await rename(`${path}.tmp`, path);
    },
  };
}

/**
 * The statistics storage control follows: the tracker's /stats long poll, or a scrape (storageControl.scrapeUrl),
 * where this node (an agent, or a controller holding its edges' union) is what `catalog` holds.
 */
export function statsSourceFor(options: {
  statsUrl: string;
  scrape?: { url: string; intervalMs: number } | null;
  catalog: Pick<Catalog, 'get'>;
  clock?: () => number;
}): StatsSource {
  const { statsUrl, scrape, catalog, clock = Date.now } = options;
  if (scrape == null) return new TrackerStatsSource({ statsUrl, clock });
  return new ScrapeStatsSource({
    scrapeUrl: scrape.url,
    intervalMs: scrape.intervalMs,
    clock,
    holds: (infoHash) => {
      const object = catalog.get(infoHash);
      return singleNodeHoldings(object?.bitfield.count() ?? 0, object?.pieceCount ?? 0);
    },
  });
}

/** After a failed ingest from an object's origin, the next attempt waits this long, doubling up to the max. */
const ORIGIN_RETRY_MS = 5_000;
const ORIGIN_RETRY_MAX_MS = 300_000;
/** A change in the statistics starts a round this soon (changes often come in bursts). */
const CHANGE_DEBOUNCE_MS = 100;

export interface StorageControlStatus {
  /** The statistics followed: an edgepeer tracker's /stats, or a tracker's scrape (storageControl.scrapeUrl). */
  statsUrl: string;
  swarms: number;
  /** Swarms whose statistics cannot be used: their decisions are held. */
  holding: number;
  rounds: number;
  lastRoundAt: number | null;
  piecesIngested: number;
  piecesPurged: number;
  /** Pieces put back from those set aside (no origin bytes), and pieces set aside now. */
  piecesRestored: number;
  piecesSetAside: number;
  operationsFailed: number;
}

export class StorageControlPart implements Part {
  readonly name = 'storage control';
  readonly phase = 'serving';
  readonly #options: StorageControlOptions;
  readonly #source: StatsSource;
  readonly #clock: () => number;
  readonly #metrics: ReturnType<typeof createMetrics>;
  #state: PolicyState = initialState();
  readonly #decisions = new Map<string, SwarmDecision>();
  readonly #lastOperation = new Map<string, OperationOutcome>();
  readonly #originRetry = new Map<string, { at: number; delayMs: number; error: string }>();
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  readonly #counts = {
    rounds: 0,
    lastRoundAt: null as number | null,
    ingested: 0,
    purged: 0,
    restored: 0,
    failed: 0,
  };
  readonly #settings: StorageControlSettings;
  readonly #onChanged = (): void => this.#scheduleSoon();
  /** The ingested record as last written (or read), and the write in progress. */
  #ingestedText = '';
  #ingestedWrite: Promise<void> = Promise.resolve();
  readonly #invitations: InvitationFollower | null;
  /** Swarms joined on the tracker's invitation (controlled even when objects lists others), and joins running. */
  readonly #invited = new Set<string>();
  readonly #joining = new Set<string>();

  constructor(options: StorageControlOptions) {
    this.#options = options;
    // Without a place to set pieces aside, a plentiful piece is removed.
    this.#settings = options.reserve === undefined ? { ...options.settings, setAside: false } : options.settings;
    this.#clock = options.clock ?? Date.now;
    this.#source = options.source ?? statsSourceFor({ ...options, clock: this.#clock });
    this.#metrics = createMetrics(options.registry);
    const invitations = options.invitations;
    this.#invitations =
      invitations === undefined
        ? null
        : new InvitationFollower({
            url: invitations.url,
            onInvited: (swarm) => void this.#join(swarm.infoHash, swarm.rarestCopies, swarm.leechers),
            onProblem: (detail) => options.logger.warn({ detail }, 'storage control: invitations cannot be read'),
          });
  }

  /** Where the statistics come from: the scrape URL when scraping. */
  #statsUrl(): string {
    return this.#options.scrape?.url ?? this.#options.statsUrl;
  }

  /** Joins a swarm the tracker invited it to, unless it holds the object already (rounds follow those). */
  async #join(infoHash: string, rarestCopies: number, leechers: number): Promise<void> {
    const { logger, invitations } = this.#options;
    if (invitations === undefined || this.#stopped || this.#joining.has(infoHash)) return;
    if (this.#options.catalog.get(infoHash) !== undefined) {
      if (!this.controls(infoHash)) this.#invited.add(infoHash);
      this.#scheduleSoon();
      return;
    }
    this.#joining.add(infoHash);
    try {
      const { name, origin } = await invitations.join(infoHash);
      this.#invited.add(infoHash);
      this.#metrics.joins.inc({ result: 'ok' });
      logger.info(
        { infoHash, name, origin, rarestCopies, leechers },
        'storage control: joined a swarm the tracker invited it to',
      );
      this.#options.announceNow(infoHash);
      this.#scheduleSoon();
    } catch (err) {
      this.#metrics.joins.inc({ result: 'failed' });
      logger.warn({ infoHash, err: toError(err) }, 'storage control: cannot join the swarm the tracker invited it to');
    } finally {
      this.#joining.delete(infoHash);
    }
  }

  /**
   * Reads the record of what the function ingested (options.ingestedRecord), so TTLs count from the ingests
   * before a restart. None yet is a first start; one that cannot be read is reported, and TTLs start again.
   */
  async restore(): Promise<void> {
    const place = this.#options.ingestedRecord;
    if (place === undefined) return;
    const { logger } = this.#options;
    let text: string | undefined;
    try {
      text = await place.read();
    } catch (err) {
      logger.warn(
        { where: place.where, err: toError(err) },
        'storage control: cannot read what it ingested; TTLs start again',
      );
      return;
    }
    if (text === undefined) return;
    try {
      this.#state = stateFromIngestedRecord(JSON.parse(text));
      this.#ingestedText = text;
      const swarms = Object.keys(this.#state.swarms).length;
      logger.info({ where: place.where, swarms }, 'storage control: restored what it ingested (TTLs go on)');
    } catch (err) {
      const detail = err instanceof IngestedRecordError || err instanceof SyntaxError ? err.message : String(err);
      logger.warn(
        { where: place.where, detail },
        'storage control: the record of what it ingested is damaged; TTLs start again',
      );
    }
  }

  /** Writes the ingested record if a round changed it, one write at a time. */
  #keepIngested(): void {
    const place = this.#options.ingestedRecord;
    if (place === undefined) return;
    const text = `${JSON.stringify(ingestedRecordOf(this.#state))}\n`;
    if (text === this.#ingestedText) return;
    this.#ingestedText = text;
    this.#ingestedWrite = this.#ingestedWrite.then(async () => {
      try {
        await place.write(text);
      } catch (err) {
        this.#options.logger.warn(
          { where: place.where, err: toError(err) },
          'storage control: cannot keep what it ingested',
        );
      }
    });
  }

  start(): void {
    this.#source.on('changed', this.#onChanged);
    this.#timer = setInterval(() => void this.runRound(), this.#options.intervalMs);
    this.#timer.unref();
    this.#options.logger.info(
      { statsUrl: this.#statsUrl(), objects: this.#options.objects ?? 'all', ...this.#options.settings },
      'storage control: on',
    );
    this.#invitations?.start();
    void this.runRound();
  }

  /** Runs a round now (or right after the one running); resolves when it is done. Never rejects. */
  runRound(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#round()
      .catch((err: unknown) => this.#options.logger.error({ err }, 'storage control: a round failed'))
      .finally(() => {
        this.#running = null;
        if (this.#again && !this.#stopped) {
          this.#again = false;
          void this.runRound();
        }
      });
    return this.#running;
  }

  /** The last decisions for an object it controls, or undefined. */
  explain(infoHash: string): PolicyExplanation | undefined {
    const decision = this.#decisions.get(infoHash);
    const object = this.#options.catalog.get(infoHash);
    if (decision === undefined || object === undefined) return undefined;
    return {
      ...decision,
      name: object.name,
      settings: this.#settings,
      lastOperation: this.#lastOperation.get(infoHash) ?? null,
    };
  }

  /** Whether the object is one it controls (it may have no decision yet). */
  controls(infoHash: string): boolean {
    return this.#options.objects === null || this.#options.objects.includes(infoHash) || this.#invited.has(infoHash);
  }

  status(): StorageControlStatus {
    let holding = 0;
    for (const decision of this.#decisions.values()) if (decision.stats !== 'ok') holding++;
    return {
      statsUrl: this.#statsUrl(),
      swarms: this.#decisions.size,
      holding,
      rounds: this.#counts.rounds,
      lastRoundAt: this.#counts.lastRoundAt,
      piecesIngested: this.#counts.ingested,
      piecesPurged: this.#counts.purged,
      piecesRestored: this.#counts.restored,
      piecesSetAside: [...this.#decisions.keys()].reduce(
        (sum, h) => sum + (this.#options.reserve?.held(h).size ?? 0),
        0,
      ),
      operationsFailed: this.#counts.failed,
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    this.#source.off('changed', this.#onChanged);
    await this.#invitations?.close();
    await this.#running;
    await this.#source.close();
    await this.#ingestedWrite;
  }

  #scheduleSoon(): void {
    if (this.#soon !== undefined || this.#stopped) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.runRound();
    }, CHANGE_DEBOUNCE_MS);
  }

  #controlled(): CatalogObject[] {
    return this.#options.catalog.list().filter((object) => this.controls(object.infoHash));
  }

  async #round(): Promise<void> {
    const now = this.#clock();
    const objects = this.#controlled();
    const present = new Set(objects.map((object) => object.infoHash));
    for (const infoHash of this.#decisions.keys()) {
      if (present.has(infoHash)) continue;
      this.#source.unfollow(infoHash);
      this.#decisions.delete(infoHash);
      // The object left the store (purged by hand, expired): what was set aside of it goes too.
      const aside = this.#options.reserve?.held(infoHash);
      if (aside !== undefined && aside.size > 0) {
        await this.#options.reserve!.drop(infoHash, [...aside]).catch((err: unknown) => {
          this.#options.logger.warn({ infoHash, err }, 'storage control: discarding pieces set aside failed');
        });
      }
    }
    const inputs: SwarmInput[] = objects.map((object) => {
      this.#source.follow(object.infoHash, object.pieceCount);
      const held = new Array<boolean>(object.pieceCount);
      for (let i = 0; i < object.pieceCount; i++) held[i] = object.bitfield.get(i);
      const aside = this.#options.reserve?.held(object.infoHash);
      return {
        ...(aside !== undefined && aside.size > 0
          ? { reserved: Array.from({ length: object.pieceCount }, (_, i) => aside.has(i)) }
          : {}),
        infoHash: object.infoHash,
        pieceCount: object.pieceCount,
        pieceLength: object.pieceLength,
        length: object.length,
        held,
        stats: this.#source.reading(object.infoHash),
        ingestBlocked: this.#ingestBlocked(object, now),
      };
    });
    const round = decide(this.#settings, inputs, this.#state, now);
    this.#state = round.state;
    this.#counts.rounds++;
    this.#counts.lastRoundAt = now;
    this.#metrics.rounds.inc();
    let holding = 0;
    for (const decision of round.swarms) {
      const previous = this.#decisions.get(decision.infoHash);
      const before = previous?.stats;
      if (decision.statsVersion !== null && decision.statsVersion !== previous?.statsVersion) {
        this.#logStatsVersion(decision);
      }
      this.#decisions.set(decision.infoHash, decision);
      this.#options.topUpPacing?.(decision.infoHash, decision.paced);
      if (decision.stats !== 'ok') holding++;
      this.#logStatsChange(decision, before);
    }
    this.#metrics.holding.set(holding);
    this.#options.logger.debug(
      {
        at: now,
        swarms: round.swarms.length,
        holding,
        ingest: round.swarms.reduce((sum, s) => sum + s.ingest.length, 0),
        purge: round.swarms.reduce((sum, s) => sum + s.purge.length, 0),
      },
      'storage control: round',
    );
    for (const decision of round.swarms) {
      if (this.#stopped) break;
      await this.#carryOut(decision);
    }
    this.#keepIngested();
  }

  #ingestBlocked(object: CatalogObject, now: number): string | null {
    if (object.source === null) return 'no origin is recorded for the object (it was not ingested from a URL or path)';
    const retry = this.#originRetry.get(object.infoHash);
    if (retry !== undefined && retry.at > now) {
      return `the last ingest from ${object.source} failed (${retry.error}); next attempt at ${new Date(retry.at).toISOString()}`;
    }
    return null;
  }

  /** Debug: the statistics a round decided on, once per version (a change of the swarm). */
  #logStatsVersion(decision: SwarmDecision): void {
    const first = decision.pieces[0];
    this.#options.logger.debug(
      {
        infoHash: decision.infoHash,
        version: decision.statsVersion,
        leechers: first?.demand ?? null,
        copies: decision.pieces.reduce((min, p) => Math.min(min, p.swarmCopies ?? 0), Number.POSITIVE_INFINITY),
        outsideCopies: decision.pieces.reduce(
          (min, p) => Math.min(min, p.outsideCopies ?? 0),
          Number.POSITIVE_INFINITY,
        ),
      },
      'storage control: statistics',
    );
  }

  #logStatsChange(decision: SwarmDecision, before: StatsState | undefined): void {
    if (decision.stats === before) return;
    const { logger } = this.#options;
    const fields = { infoHash: decision.infoHash, stats: decision.stats, detail: decision.statsDetail };
    if (decision.stats === 'ok') {
      if (before !== undefined) logger.info(fields, 'storage control: statistics usable again; deciding');
    } else if (decision.stats !== 'none' || before !== undefined) {
      logger.warn(fields, 'storage control: statistics cannot be used; holding decisions (no ingest, no purge)');
    }
  }

  async #carryOut(decision: SwarmDecision): Promise<void> {
    const { infoHash } = decision;
    const { logger, reserve } = this.#options;
    let changed = false;
    if (decision.drop.length > 0 && reserve !== undefined) {
      this.#logDecisions('drop', decision);
      await reserve
        .drop(
          infoHash,
          decision.drop.map((p) => p.piece),
        )
        .catch((err: unknown) => {
          logger.warn({ infoHash, err }, 'storage control: discarding pieces set aside failed');
        });
    }
    if (decision.purge.length > 0) {
      const pieces = decision.purge.map((p) => p.piece);
      this.#logDecisions('purge', decision);
      try {
        const aside = decision.purge.filter((p) => p.setAside).map((p) => p.piece);
        if (aside.length > 0 && reserve !== undefined) {
          // Set aside before the purge, while the pieces are still held; a piece that cannot be is just purged.
          const kept = await reserve.setAside(infoHash, aside).catch((err: unknown): number[] => {
            logger.warn({ infoHash, err }, 'storage control: setting pieces aside failed; purging them');
            return [];
          });
          if (kept.length < aside.length) {
            logger.info({ infoHash, pieces: aside.filter((p) => !kept.includes(p)) }, 'storage control: not set aside');
          }
        }
        await this.#options.purge(infoHash, pieces);
        this.#record(infoHash, 'purge', pieces, null);
        this.#counts.purged += pieces.length;
        changed = true;
      } catch (err) {
        const error = toError(err);
        logger.error({ infoHash, pieces, err }, 'storage control: purge failed');
        this.#record(infoHash, 'purge', pieces, error);
      }
    }
    if (decision.ingest.length > 0) {
      const object = this.#options.catalog.get(infoHash);
      const origin = object?.source ?? null;
      this.#logDecisions('ingest', decision);
      let pieces = decision.ingest.filter((p) => p.from === 'origin').map((p) => p.piece);
      const fromReserve = decision.ingest.filter((p) => p.from === 'reserve').map((p) => p.piece);
      if (fromReserve.length > 0 && reserve !== undefined) {
        const restored = await reserve.restore(infoHash, fromReserve).catch((err: unknown) => {
          logger.warn({ infoHash, err }, 'storage control: putting pieces back failed; taking them from the origin');
          return [] as number[];
        });
        this.#counts.restored += restored.length;
        if (restored.length > 0) {
          changed = true;
          this.#record(infoHash, 'ingest', restored, null);
          logger.info({ infoHash, pieces: restored.length }, 'storage control: put back from the pieces set aside');
        }
        // What could not be put back (damaged, gone) comes from the origin.
        pieces = [...pieces, ...fromReserve.filter((p) => !restored.includes(p))].sort((a, b) => a - b);
      }
      if (origin !== null && pieces.length > 0) {
        const started = this.#clock();
        const { error } = await this.#options.ingest(infoHash, origin, pieces).catch((err: unknown) => ({
          error: toError(err),
        }));
        this.#record(infoHash, 'ingest', pieces, error);
        if (error === null) {
          this.#originRetry.delete(infoHash);
          this.#counts.ingested += pieces.length;
          logger.info({ infoHash, pieces: pieces.length, ms: this.#clock() - started }, 'storage control: ingest done');
        } else {
          const delayMs = Math.min(
            ORIGIN_RETRY_MAX_MS,
            (this.#originRetry.get(infoHash)?.delayMs ?? ORIGIN_RETRY_MS / 2) * 2,
          );
          this.#originRetry.set(infoHash, { at: this.#clock() + delayMs, delayMs, error: error.code });
          logger.warn(
            { infoHash, origin, pieces, error, retryInMs: delayMs },
            'storage control: ingest from the origin failed; pieces verified before the failure stay',
          );
        }
        changed = true;
      }
    }
    if (changed) this.#options.announceNow(infoHash);
  }

  /** One log line per reason (with its pieces), and a count per piece in the metrics. */
  #logDecisions(action: 'ingest' | 'purge' | 'drop', decision: SwarmDecision): void {
    const byReason = new Map<DecisionReason, number[]>();
    for (const { piece, reason } of decision[action]) {
      const pieces = byReason.get(reason) ?? [];
      pieces.push(piece);
      byReason.set(reason, pieces);
    }
    for (const [reason, pieces] of byReason) {
      const first = decision.pieces[pieces[0]!];
      this.#options.logger.info(
        { infoHash: decision.infoHash, action, reason, pieces, example: first?.detail },
        `storage control: ${action} (${reason})`,
      );
      this.#metrics.pieces.inc({ action, reason }, pieces.length);
    }
  }

  #record(
    infoHash: string,
    action: 'ingest' | 'purge',
    pieces: number[],
    error: { code: string; message: string } | null,
  ): void {
    this.#lastOperation.set(infoHash, { action, at: this.#clock(), pieces, ok: error === null, error });
    this.#metrics.operations.inc({ action, result: error === null ? 'ok' : 'failed' });
    if (error !== null) this.#counts.failed++;
  }
}

function toError(err: unknown): { code: string; message: string } {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'EDGEPEER_INTERNAL';
  return { code, message: err instanceof Error ? err.message : String(err) };
}

function createMetrics(registry: Registry | undefined) {
  const registers = registry === undefined ? [] : [registry];
  return {
    pieces: new Counter({
      name: 'edgepeer_storage_control_pieces_total',
      help: 'Pieces storage control decided to ingest, purge or drop (set aside, discarded), by action and reason (docs/policy.md).',
      labelNames: ['action', 'reason'],
      registers,
    }),
    operations: new Counter({
      name: 'edgepeer_storage_control_operations_total',
      help: 'Ingest and purge operations storage control carried out, by action and result.',
      labelNames: ['action', 'result'],
      registers,
    }),
    rounds: new Counter({
      name: 'edgepeer_storage_control_rounds_total',
      help: 'Decision rounds run.',
      registers,
    }),
    joins: new Counter({
      name: 'edgepeer_storage_control_joins_total',
      help: "Swarms joined on the tracker's invitation, by result.",
      labelNames: ['result'],
      registers,
    }),
    holding: new Gauge({
      name: 'edgepeer_storage_control_holding_swarms',
      help: 'Swarms whose statistics are stale, malformed, unreachable or missing: their decisions are held.',
      registers,
    }),
  };
}
