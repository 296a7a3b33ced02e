// The fleet state in this process's memory: the default for one controller. Tokens, edge records and
// queued purges are also written to a file (when given) so that enrolled edges keep their credentials, and
// a purge its edge has not had yet, across restarts; liveness and holdings are soft state that edges send
// again when they reconnect.
import { EventEmitter } from 'node:events';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoreCorruptError } from '../errors/index.ts';
import { Bitfield } from '../store/index.ts';
import type {
  EdgeLiveness,
  EdgeRecord,
  EnrolmentToken,
  FleetEvents,
  FleetState,
  HeldPieces,
  HoldingsChange,
  HoldingsCursor,
  Leadership,
  QueuedPurge,
  TokenRedemption,
} from './fleet-state.ts';

interface Saved {
  version: 1;
  tokens: EnrolmentToken[];
  edges: EdgeRecord[];
  /** By edge id; absent in files written before purges were queued. */
  queuedPurges?: Record<string, QueuedPurge[]>;
}

/** Used tokens and expired ones are kept this long for `token list`, then forgotten. */
const SPENT_TOKEN_KEPT_MS = 7 * 86_400_000;

export class MemoryFleetState extends EventEmitter<FleetEvents> implements FleetState {
  readonly shared = false;
  readonly #file: string | null;
  readonly #tokens = new Map<string, EnrolmentToken>();
  readonly #edges = new Map<string, EdgeRecord>();
  readonly #liveness = new Map<string, EdgeLiveness>();
  readonly #cursors = new Map<string, HoldingsCursor>();
  /** edge id -> info hash -> the edge's bitfield of it. */
  readonly #holdings = new Map<string, Map<string, Bitfield>>();
  readonly #metainfo = new Map<string, Uint8Array>();
  /** Not saved to the file: a controller alone keeps its record in its data dir (src/controller/controller.ts). */
  #storageControlRecord: string | undefined;
  /** edge id -> info hash -> the purge waiting for the edge (a Map keeps them oldest first). */
  readonly #queuedPurges = new Map<string, Map<string, QueuedPurge>>();
  /** The write running (or done), and the one waiting for it, which every change until it starts joins. */
  #saving: Promise<void> = Promise.resolve();
  #pendingSave: Promise<void> | null = null;

  private constructor(file: string | null) {
    super();
    this.#file = file;
  }

  /** A fleet state kept in memory, with tokens and edges saved to (and read back from) `file` if given. */
  static async open(file: string | null = null): Promise<MemoryFleetState> {
    const state = new MemoryFleetState(file);
    if (file !== null) await state.#load(file);
    return state;
  }

  async addToken(token: EnrolmentToken): Promise<void> {
    this.#tokens.set(token.hash, { ...token });
    await this.#save();
  }

  async redeemToken(hash: string, edgeId: string, now: number): Promise<TokenRedemption> {
    const token = this.#tokens.get(hash);
    if (token === undefined) return { ok: false, reason: 'unknown' };
    if (token.usedBy !== null) return { ok: false, reason: 'used' };
    if (token.expiresAt <= now) return { ok: false, reason: 'expired' };
    token.usedBy = edgeId;
    await this.#save();
    return { ok: true };
  }

  async listTokens(): Promise<EnrolmentToken[]> {
    return [...this.#tokens.values()].map((token) => ({ ...token }));
  }

  async addEdge(record: EdgeRecord): Promise<void> {
    this.#edges.set(record.id, { ...record });
    await this.#save();
    this.emit('edge-record', { ...record });
  }

  async edge(edgeId: string): Promise<EdgeRecord | undefined> {
    const record = this.#edges.get(edgeId);
    return record === undefined ? undefined : { ...record };
  }

  async listEdges(): Promise<EdgeRecord[]> {
    return [...this.#edges.values()].map((record) => ({ ...record }));
  }

  async setDraining(edgeId: string, draining: boolean): Promise<EdgeRecord | undefined> {
    const record = this.#edges.get(edgeId);
    if (record === undefined) return undefined;
    record.draining = draining;
    await this.#save();
    this.emit('edge-record', { ...record });
    return { ...record };
  }

  async removeEdge(edgeId: string): Promise<boolean> {
    if (!this.#edges.has(edgeId)) return false;
    this.#dropHoldings(edgeId);
    this.#liveness.delete(edgeId);
    this.#cursors.delete(edgeId);
    this.#edges.delete(edgeId);
    this.#queuedPurges.delete(edgeId);
    await this.#save();
    this.emit('edge-removed', edgeId);
    return true;
  }

  async recordHeartbeat(edgeId: string, liveness: EdgeLiveness): Promise<void> {
    if (!this.#edges.has(edgeId)) return;
    this.#liveness.set(edgeId, { ...liveness });
    this.emit('edge-live', edgeId, { ...liveness });
  }

  async liveness(edgeId: string): Promise<EdgeLiveness | undefined> {
    const liveness = this.#liveness.get(edgeId);
    return liveness === undefined ? undefined : { ...liveness };
  }

  async listLiveness(): Promise<Map<string, EdgeLiveness>> {
    return new Map([...this.#liveness].map(([edgeId, liveness]) => [edgeId, { ...liveness }]));
  }

  async markDown(edgeId: string): Promise<void> {
    const wasUp = this.#liveness.delete(edgeId);
    this.#cursors.delete(edgeId);
    this.#dropHoldings(edgeId);
    if (wasUp) this.emit('edge-down', edgeId);
  }

  async cursor(edgeId: string): Promise<HoldingsCursor | undefined> {
    const cursor = this.#cursors.get(edgeId);
    return cursor === undefined ? undefined : { ...cursor };
  }

  async replaceHoldings(edgeId: string, cursor: HoldingsCursor, objects: HeldPieces[]): Promise<void> {
    if (!this.#edges.has(edgeId)) return;
    const before = this.#holdings.get(edgeId) ?? new Map<string, Bitfield>();
    const after = new Map<string, Bitfield>();
    for (const object of objects) {
      const bitfield = Bitfield.fromBuffer(object.bitfield, object.pieceCount);
      if (bitfield.count() > 0) after.set(object.infoHash, bitfield);
    }
    this.#holdings.set(edgeId, after);
    this.#cursors.set(edgeId, { ...cursor });
    for (const [infoHash, bitfield] of before) {
      if (!after.has(infoHash)) this.emit('holdings', edgeId, infoHash, bitfield.length, new Uint8Array(0));
    }
    for (const [infoHash, bitfield] of after) {
      const previous = before.get(infoHash);
      if (previous !== undefined && Buffer.compare(previous.toBuffer(), bitfield.toBuffer()) === 0) continue;
      this.emit('holdings', edgeId, infoHash, bitfield.length, bitfield.toBuffer());
    }
  }

  async applyChanges(edgeId: string, cursor: HoldingsCursor, changes: HoldingsChange[]): Promise<'applied' | 'gap'> {
    const last = this.#cursors.get(edgeId);
    if (last === undefined || last.session !== cursor.session || cursor.seq !== last.seq + 1) return 'gap';
    const held = this.#holdings.get(edgeId) ?? new Map<string, Bitfield>();
    this.#holdings.set(edgeId, held);
    // Checked whole before any is applied: a bad delta changes nothing. An object keeps one piece count,
    // the one held or the first this delta names.
    const pieceCounts = new Map<string, number>();
    for (const change of changes) {
      const pieceCount = pieceCounts.get(change.infoHash) ?? held.get(change.infoHash)?.length ?? change.pieceCount;
      if (pieceCount !== change.pieceCount) return 'gap';
      if (!change.gone) pieceCounts.set(change.infoHash, pieceCount);
      else pieceCounts.delete(change.infoHash);
      for (const index of [...(change.added ?? []), ...(change.removed ?? [])]) {
        if (!Number.isInteger(index) || index < 0 || index >= change.pieceCount) return 'gap';
      }
    }
    last.seq = cursor.seq;
    for (const change of changes) {
      let bitfield = held.get(change.infoHash);
      if (change.gone) {
        if (bitfield !== undefined) {
          held.delete(change.infoHash);
          this.emit('holdings', edgeId, change.infoHash, change.pieceCount, new Uint8Array(0));
        }
        continue;
      }
      bitfield ??= new Bitfield(change.pieceCount);
      for (const index of change.added ?? []) bitfield.set(index, true);
      for (const index of change.removed ?? []) bitfield.set(index, false);
      if (bitfield.count() === 0) held.delete(change.infoHash);
      else held.set(change.infoHash, bitfield);
      this.emit('holdings', edgeId, change.infoHash, change.pieceCount, bitfield.toBuffer());
    }
    return 'applied';
  }

  async holdingsOf(edgeId: string): Promise<HeldPieces[]> {
    return [...(this.#holdings.get(edgeId) ?? [])].map(([infoHash, bitfield]) => ({
      infoHash,
      pieceCount: bitfield.length,
      bitfield: bitfield.toBuffer(),
    }));
  }

  async holdersOf(infoHash: string): Promise<Array<HeldPieces & { edgeId: string }>> {
    const holders: Array<HeldPieces & { edgeId: string }> = [];
    for (const [edgeId, held] of this.#holdings) {
      const bitfield = held.get(infoHash);
      if (bitfield !== undefined) {
        holders.push({ edgeId, infoHash, pieceCount: bitfield.length, bitfield: bitfield.toBuffer() });
      }
    }
    return holders;
  }

  async queuePurge(edgeId: string, purge: QueuedPurge): Promise<void> {
    if (!this.#edges.has(edgeId)) return;
    let queued = this.#queuedPurges.get(edgeId);
    if (queued === undefined) {
      queued = new Map();
      this.#queuedPurges.set(edgeId, queued);
    }
    queued.delete(purge.infoHash);
    queued.set(purge.infoHash, { ...purge });
    await this.#save();
    this.emit('queued-purge', edgeId, purge.infoHash, { ...purge });
  }

  async queuedPurges(edgeId: string): Promise<QueuedPurge[]> {
    return [...(this.#queuedPurges.get(edgeId)?.values() ?? [])].map((purge) => ({ ...purge }));
  }

  async queuedPurge(edgeId: string, infoHash: string): Promise<QueuedPurge | undefined> {
    const purge = this.#queuedPurges.get(edgeId)?.get(infoHash);
    return purge === undefined ? undefined : { ...purge };
  }

  async dropQueuedPurge(edgeId: string, infoHash: string): Promise<void> {
    const queued = this.#queuedPurges.get(edgeId);
    if (queued?.delete(infoHash) !== true) return;
    if (queued.size === 0) this.#queuedPurges.delete(edgeId);
    await this.#save();
    this.emit('queued-purge', edgeId, infoHash, null);
  }

  async dropQueuedPurgesOf(infoHash: string): Promise<void> {
    const droppedAt: string[] = [];
    for (const [edgeId, queued] of this.#queuedPurges) {
      if (queued.delete(infoHash)) droppedAt.push(edgeId);
      if (queued.size === 0) this.#queuedPurges.delete(edgeId);
    }
    if (droppedAt.length === 0) return;
    await this.#save();
    for (const edgeId of droppedAt) this.emit('queued-purge', edgeId, infoHash, null);
  }

  async putMetainfo(infoHash: string, torrent: Uint8Array): Promise<void> {
    this.#metainfo.set(infoHash, torrent);
    this.emit('metainfo', infoHash);
  }

  async metainfo(infoHash: string): Promise<Uint8Array | undefined> {
    return this.#metainfo.get(infoHash);
  }

  async deleteMetainfo(infoHash: string): Promise<void> {
    this.#metainfo.delete(infoHash);
  }

  async putStorageControlRecord(text: string): Promise<void> {
    this.#storageControlRecord = text;
  }

  async storageControlRecord(): Promise<string | undefined> {
    return this.#storageControlRecord;
  }

  async sharedPeerId(candidate: Uint8Array): Promise<Uint8Array> {
    return candidate;
  }

  /** A controller alone leads from the start. */
  leadership(onChange: (leader: boolean) => void): Leadership {
    queueMicrotask(() => onChange(true));
    return { leader: true, stop: async () => {} };
  }

  async close(): Promise<void> {
    await this.#saving;
  }

  #dropHoldings(edgeId: string): void {
    const held = this.#holdings.get(edgeId);
    this.#holdings.delete(edgeId);
    for (const [infoHash, bitfield] of held ?? []) {
      this.emit('holdings', edgeId, infoHash, bitfield.length, new Uint8Array(0));
    }
  }

  async #load(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let saved: Saved;
    try {
      saved = JSON.parse(text) as Saved;
      if (saved.version !== 1 || !Array.isArray(saved.tokens) || !Array.isArray(saved.edges)) throw new Error('shape');
    } catch {
      throw new StoreCorruptError(`${file} is not a fleet state file edgepeer wrote (move it away to start afresh)`);
    }
    for (const token of saved.tokens) this.#tokens.set(token.hash, token);
    for (const edge of saved.edges) this.#edges.set(edge.id, edge);
    for (const [edgeId, purges] of Object.entries(saved.queuedPurges ?? {})) {
      if (!this.#edges.has(edgeId) || !Array.isArray(purges)) continue;
      this.#queuedPurges.set(edgeId, new Map(purges.map((purge) => [purge.infoHash, purge])));
    }
  }

  /**
   * Writes tokens, edges and queued purges: at most one write runs, and one waits; changes made meanwhile go in the
   * waiting one (1,000 edges enrolling at once write the file a few times, not 3,000).
   */
  #save(): Promise<void> {
    const file = this.#file;
    if (file === null) return Promise.resolve();
    this.#pendingSave ??= this.#saving.then(() => {
      this.#pendingSave = null;
      return this.#write(file);
    });
    this.#saving = this.#pendingSave.catch(() => {});
    return this.#pendingSave;
  }

  async #write(file: string): Promise<void> {
    const now = Date.now();
    for (const [hash, token] of this.#tokens) {
      const spentAt = token.usedBy !== null ? token.createdAt : token.expiresAt;
      if ((token.usedBy !== null || token.expiresAt <= now) && spentAt + SPENT_TOKEN_KEPT_MS < now) {
        this.#tokens.delete(hash);
      }
    }
    const saved: Saved = {
      version: 1,
      tokens: [...this.#tokens.values()],
      edges: [...this.#edges.values()],
      queuedPurges: Object.fromEntries(
        [...this.#queuedPurges].map(([edgeId, queued]) => [edgeId, [...queued.values()]]),
      ),
    };
    await mkdir(dirname(file), { recursive: true });
    const temporary = `${file}.tmp`;
    await writeFile(temporary, `${JSON.stringify(saved, null, 1)}\n`, { mode: 0o600, flush: true });
    await rename(temporary, file);
  }
}
