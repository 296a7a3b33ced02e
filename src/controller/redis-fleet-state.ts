// The fleet state in Redis, for several controllers on one fleet (issue 15). Keys are laid out for Redis
// Cluster: what one edge's calls touch shares its slot ({e:ID}: cursor, objects, bitfields), what one object
// gathers shares another ({o:INFOHASH}: holders, per-piece copy counts, .torrent), and the fleet's own
// records share {fleet}. Updates of one slot are atomic (Lua); the per-object index follows each edge
// update. Every change is told to this process's listeners at once and published to the others on one
// channel (a controller's catalog is fed by both alike).
//
//   ep:{fleet}:tokens   HASH token hash -> JSON        ep:{e:ID}:cursor   HASH session, seq
//   ep:{fleet}:edges    HASH edge id -> JSON record    ep:{e:ID}:objects  HASH info hash -> piece count
//   ep:{fleet}:live     HASH edge id -> JSON liveness  ep:{e:ID}:b:IH     STRING the edge's bitfield (SETBIT order
//   ep:{fleet}:events   pub/sub channel                                    is BitTorrent's: bit 0 = high bit)
//   ep:{o:IH}:holders   SET edge ids                   ep:{o:IH}:copies   BITFIELD u16 per piece
//   ep:{o:IH}:torrent   STRING .torrent bytes
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { openRedisConnection, type RedisClient, type RedisConnectionOptions } from '../redis/index.ts';
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

export interface RedisFleetStateOptions extends RedisConnectionOptions {
  /** Prefix of every key and of the channel; default 'ep:'. Tests give each fleet its own. */
  prefix?: string;
  /** Redis came back without the fleet's keys (restarted with no persistence, or flushed): what was put back. */
  onReseeded?: (restored: { edges: number; peerId: boolean; queuedPurges: number }) => void;
}

type Client = RedisClient;

/** Redeems a token if known, unused and unexpired: one check-and-set. */
const REDEEM = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 'unknown' end
local token = cjson.decode(raw)
if token.usedBy ~= cjson.null then return 'used' end
if token.expiresAt <= tonumber(ARGV[3]) then return 'expired' end
token.usedBy = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(token))
return 'ok'`;

/**
 * An edge's whole state: KEYS cursor, objects; ARGV prefix-of-bit-keys, session, seq, then triples of info
 * hash, piece count, bitfield. Returns, per object held before or now: info hash, piece count, old bits, new bits.
 */
const REPLACE = `
local before = redis.call('HGETALL', KEYS[2])
local old = {}
for i = 1, #before, 2 do old[before[i]] = before[i + 1] end
local out = {}
local seen = {}
for i = 4, #ARGV, 3 do
  local ih, count, bits = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = ARGV[1] .. ih
  local was = redis.call('GET', key) or ''
  seen[ih] = true
  if bits ~= was or old[ih] ~= count then
    table.insert(out, ih); table.insert(out, count); table.insert(out, was); table.insert(out, bits)
  end
  redis.call('SET', key, bits)
  redis.call('HSET', KEYS[2], ih, count)
end
for ih, count in pairs(old) do
  if not seen[ih] then
    local key = ARGV[1] .. ih
    local was = redis.call('GET', key) or ''
    redis.call('DEL', key)
    redis.call('HDEL', KEYS[2], ih)
    table.insert(out, ih); table.insert(out, count); table.insert(out, was); table.insert(out, '')
  end
end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], 'session', ARGV[2], 'seq', ARGV[3]) end
return out`;

/**
 * A delta: KEYS cursor, objects; ARGV prefix-of-bit-keys, session, seq, JSON changes. 'gap' (nothing
 * changed) unless it follows the cursor and fits; else per changed object: info hash, count, old, new bits.
 */
const APPLY = `
local session = redis.call('HGET', KEYS[1], 'session')
local last = tonumber(redis.call('HGET', KEYS[1], 'seq'))
if not session or session ~= ARGV[2] or tonumber(ARGV[3]) ~= last + 1 then return 'gap' end
local changes = cjson.decode(ARGV[4])
local counts = {}
for _, change in ipairs(changes) do
  local held = counts[change.infoHash]
  if held == nil then held = tonumber(redis.call('HGET', KEYS[2], change.infoHash)) end
  if held == nil then held = change.pieceCount end
  if held ~= change.pieceCount then return 'gap' end
  if change.gone then counts[change.infoHash] = false else counts[change.infoHash] = held end
  for _, list in ipairs({change.added or {}, change.removed or {}}) do
    for _, index in ipairs(list) do
      if index < 0 or index >= change.pieceCount or index % 1 ~= 0 then return 'gap' end
    end
  end
end
redis.call('HSET', KEYS[1], 'seq', ARGV[3])
local out = {}
for _, change in ipairs(changes) do
  local key = ARGV[1] .. change.infoHash
  local was = redis.call('GET', key) or ''
  if change.gone then
    redis.call('DEL', key)
    redis.call('HDEL', KEYS[2], change.infoHash)
  else
    if was == '' then redis.call('SET', key, string.rep('\\0', math.ceil(change.pieceCount / 8))) end
    for _, index in ipairs(change.added or {}) do redis.call('SETBIT', key, index, 1) end
    for _, index in ipairs(change.removed or {}) do redis.call('SETBIT', key, index, 0) end
    if redis.call('BITCOUNT', key) == 0 then
      redis.call('DEL', key)
      redis.call('HDEL', KEYS[2], change.infoHash)
    else
      redis.call('HSET', KEYS[2], change.infoHash, change.pieceCount)
    end
  end
  table.insert(out, change.infoHash)
  table.insert(out, tostring(change.pieceCount))
  table.insert(out, was)
  table.insert(out, redis.call('GET', key) or '')
end
return out`;

/** The object's index after one edge's bitfield changed: KEYS holders, copies; ARGV edge, holds (1/0), then +indexes, then -indexes. */
const INDEX = `
if ARGV[2] == '1' then redis.call('SADD', KEYS[1], ARGV[1]) else redis.call('SREM', KEYS[1], ARGV[1]) end
local plus = cjson.decode(ARGV[3])
local minus = cjson.decode(ARGV[4])
for _, index in ipairs(plus) do redis.call('BITFIELD', KEYS[2], 'OVERFLOW', 'SAT', 'INCRBY', 'u16', '#' .. index, 1) end
for _, index in ipairs(minus) do redis.call('BITFIELD', KEYS[2], 'OVERFLOW', 'SAT', 'INCRBY', 'u16', '#' .. index, -1) end
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return 1`;

/** How long a leader's lease runs without renewal: a dead leader is replaced within this (plus a third). */
const LEASE_MS = 3000;

/** Takes the lease if free, extends it if held by ARGV[1]; 'held' or 'other'. A new holder bumps the term. */
const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 'held'
end
if holder then return 'other' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('INCR', KEYS[2])
return 'held'`;

/** Lets the lease go if ARGV[1] holds it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

interface Published {
  from: string;
  event: keyof FleetEvents;
  args: unknown[];
}

export class RedisFleetState extends EventEmitter<FleetEvents> implements FleetState {
  readonly shared = true;
  readonly #client: Client;
  readonly #subscriber: Client;
  readonly #prefix: string;
  readonly #instance = randomBytes(8).toString('hex');
  readonly #onReseeded: NonNullable<RedisFleetStateOptions['onReseeded']>;
  /**
   * What this controller knows that Redis must not lose: the enrolled edges (their key hashes: without them
   * every edge would have to enrol again), the fleet's peer id, and the purges queued for edges that were
   * down (without them an object purged fleet-wide would come back with its edge). Put back when Redis
   * comes back empty. Holdings, liveness and cursors are not kept: the edges' next heartbeats ask for their
   * whole state.
   */
  readonly #records = new Map<string, EdgeRecord>();
  #peerId: Buffer | null = null;
  /** Edge id -> info hash -> its queued purge. */
  readonly #purges = new Map<string, Map<string, QueuedPurge>>();

  private constructor(client: Client, subscriber: Client, prefix: string, options: RedisFleetStateOptions) {
    super();
    this.#client = client;
    this.#subscriber = subscriber;
    this.#prefix = prefix;
    this.#onReseeded = options.onReseeded ?? (() => {});
    this.on('edge-record', (record) => this.#records.set(record.id, { ...record }));
    this.on('edge-removed', (edgeId) => {
      this.#records.delete(edgeId);
      this.#purges.delete(edgeId);
    });
    this.on('queued-purge', (edgeId, infoHash, purge) => this.#rememberPurge(edgeId, infoHash, purge));
  }

  #rememberPurge(edgeId: string, infoHash: string, purge: QueuedPurge | null): void {
    let queued = this.#purges.get(edgeId);
    if (purge === null) {
      queued?.delete(infoHash);
      if (queued?.size === 0) this.#purges.delete(edgeId);
      return;
    }
    if (queued === undefined) {
      queued = new Map();
      this.#purges.set(edgeId, queued);
    }
    queued.set(infoHash, { ...purge });
  }

  /** Reads every known edge's queued purges anew: at start, and after a reconnection (messages may be missed). */
  async #reloadPurges(): Promise<void> {
    // Issued in one turn: the client sends them as one pipeline.
    const edgeIds = [...this.#records.keys()];
    const queues = await Promise.all(edgeIds.map((edgeId) => this.queuedPurges(edgeId)));
    this.#purges.clear();
    edgeIds.forEach((edgeId, index) => {
      for (const purge of queues[index]!) this.#rememberPurge(edgeId, purge.infoHash, purge);
    });
  }

  /** Connects (rejects when Redis cannot be reached or refuses) and follows the other controllers' changes. */
  static async open(options: RedisFleetStateOptions): Promise<RedisFleetState> {
    const { client, subscriber } = await openRedisConnection(options, { offlineQueue: true });
    const onError = options.onError ?? (() => {});
    const state = new RedisFleetState(client, subscriber, options.prefix ?? 'ep:', options);
    await subscriber.subscribe(state.#key('fleet', 'events'), (message: Buffer | string) =>
      state.#onPublished(message),
    );
    for (const record of await state.listEdges()) state.#records.set(record.id, record);
    await state.#reloadPurges();
    await client.set(state.#key('fleet', 'epoch'), state.#instance, { NX: true });
    // Every reconnection: was the fleet's state lost meanwhile?
    client.on('ready', () => void state.#reseedIfLost().catch(onError));
    return state;
  }

  /**
   * Redis without the fleet's epoch key lost everything (a restart with no persistence, a flush): puts back
   * the edges, the peer id and the queued purges this controller knows, without overwriting what another
   * controller put back first. The edges then resync their holdings at their next heartbeat (their cursors
   * are gone), and get their queued purges as after any absence. With the epoch there, nothing was lost:
   * the queued purges are read anew, for what this controller's subscription missed while it was away.
   */
  async #reseedIfLost(): Promise<void> {
    if ((await this.#client.exists(this.#key('fleet', 'epoch'))) === 1) {
      await this.#reloadPurges();
      return;
    }
    const edgesKey = this.#key('fleet', 'edges');
    let edges = 0;
    for (const record of this.#records.values()) {
      edges += Number(await this.#client.hSetNX(edgesKey, record.id, JSON.stringify(record)));
    }
    let peerId = false;
    if (this.#peerId !== null) {
      peerId = (await this.#client.set(this.#key('fleet', 'peer-id'), this.#peerId, { NX: true })) !== null;
    }
    let queuedPurges = 0;
    for (const [edgeId, queued] of this.#purges) {
      for (const purge of queued.values()) {
        const key = this.#key(`e:${edgeId}`, 'purges');
        queuedPurges += Number(await this.#client.hSetNX(key, purge.infoHash, JSON.stringify(purge)));
      }
    }
    await this.#client.set(this.#key('fleet', 'epoch'), this.#instance, { NX: true });
    this.#onReseeded({ edges, peerId, queuedPurges });
  }

  async addToken(token: EnrolmentToken): Promise<void> {
    await this.#client.hSet(this.#key('fleet', 'tokens'), token.hash, JSON.stringify(token));
  }

  async redeemToken(hash: string, edgeId: string, now: number): Promise<TokenRedemption> {
    const outcome = String(
      await this.#client.eval(REDEEM, { keys: [this.#key('fleet', 'tokens')], arguments: [hash, edgeId, String(now)] }),
    );
    return outcome === 'ok' ? { ok: true } : { ok: false, reason: outcome as 'unknown' | 'expired' | 'used' };
  }

  async listTokens(): Promise<EnrolmentToken[]> {
    return Object.values(await this.#client.hGetAll(this.#key('fleet', 'tokens'))).map(
      (raw) => JSON.parse(String(raw)) as EnrolmentToken,
    );
  }

  async addEdge(record: EdgeRecord): Promise<void> {
    await this.#client.hSet(this.#key('fleet', 'edges'), record.id, JSON.stringify(record));
    this.#tell('edge-record', [{ ...record }]);
  }

  async edge(edgeId: string): Promise<EdgeRecord | undefined> {
    const raw = await this.#client.hGet(this.#key('fleet', 'edges'), edgeId);
    return raw === null || raw === undefined ? undefined : (JSON.parse(String(raw)) as EdgeRecord);
  }

  async listEdges(): Promise<EdgeRecord[]> {
    return Object.values(await this.#client.hGetAll(this.#key('fleet', 'edges'))).map(
      (raw) => JSON.parse(String(raw)) as EdgeRecord,
    );
  }

  async setDraining(edgeId: string, draining: boolean): Promise<EdgeRecord | undefined> {
    const record = await this.edge(edgeId);
    if (record === undefined) return undefined;
    record.draining = draining;
    await this.#client.hSet(this.#key('fleet', 'edges'), edgeId, JSON.stringify(record));
    this.#tell('edge-record', [{ ...record }]);
    return { ...record };
  }

  async removeEdge(edgeId: string): Promise<boolean> {
    if ((await this.edge(edgeId)) === undefined) return false;
    await this.#replace(edgeId, null, []);
    await this.#client.hDel(this.#key('fleet', 'live'), edgeId);
    await this.#client.hDel(this.#key('fleet', 'edges'), edgeId);
    await this.#client.del(this.#key(`e:${edgeId}`, 'purges'));
    this.#tell('edge-removed', [edgeId]);
    return true;
  }

  async recordHeartbeat(edgeId: string, liveness: EdgeLiveness): Promise<void> {
    if ((await this.edge(edgeId)) === undefined) return;
    await this.#client.hSet(this.#key('fleet', 'live'), edgeId, JSON.stringify(liveness));
    this.#tell('edge-live', [edgeId, { ...liveness }]);
  }

  async liveness(edgeId: string): Promise<EdgeLiveness | undefined> {
    const raw = await this.#client.hGet(this.#key('fleet', 'live'), edgeId);
    return raw === null || raw === undefined ? undefined : (JSON.parse(String(raw)) as EdgeLiveness);
  }

  async listLiveness(): Promise<Map<string, EdgeLiveness>> {
    const all = await this.#client.hGetAll(this.#key('fleet', 'live'));
    return new Map(Object.entries(all).map(([id, raw]) => [id, JSON.parse(String(raw)) as EdgeLiveness]));
  }

  async markDown(edgeId: string): Promise<void> {
    const wasUp = (await this.#client.hDel(this.#key('fleet', 'live'), edgeId)) > 0;
    await this.#replace(edgeId, null, []);
    if (wasUp) this.#tell('edge-down', [edgeId]);
  }

  async cursor(edgeId: string): Promise<HoldingsCursor | undefined> {
    const cursor = await this.#client.hGetAll(this.#key(`e:${edgeId}`, 'cursor'));
    if (cursor.session === undefined) return undefined;
    return { session: String(cursor.session), seq: Number(String(cursor.seq)) };
  }

  async replaceHoldings(edgeId: string, cursor: HoldingsCursor, objects: HeldPieces[]): Promise<void> {
    if ((await this.edge(edgeId)) === undefined) return;
    await this.#replace(edgeId, cursor, objects);
  }

  async applyChanges(edgeId: string, cursor: HoldingsCursor, changes: HoldingsChange[]): Promise<'applied' | 'gap'> {
    const reply = await this.#client.eval(APPLY, {
      keys: [this.#key(`e:${edgeId}`, 'cursor'), this.#key(`e:${edgeId}`, 'objects')],
      arguments: [this.#key(`e:${edgeId}`, 'b:'), cursor.session, String(cursor.seq), JSON.stringify(changes)],
    });
    if (!Array.isArray(reply)) return 'gap';
    await this.#afterUpdate(edgeId, reply as Buffer[], true);
    return 'applied';
  }

  async holdersOf(infoHash: string): Promise<Array<HeldPieces & { edgeId: string }>> {
    const holders: Array<HeldPieces & { edgeId: string }> = [];
    for (const raw of await this.#client.sMembers(this.#key(`o:${infoHash}`, 'holders'))) {
      const edgeId = String(raw);
      const [count, bits] = await Promise.all([
        this.#client.hGet(this.#key(`e:${edgeId}`, 'objects'), infoHash),
        this.#client.get(this.#key(`e:${edgeId}`, `b:${infoHash}`)),
      ]);
      if (count === null || count === undefined || bits === null) continue;
      holders.push({ edgeId, infoHash, pieceCount: Number(String(count)), bitfield: Buffer.from(bits as Buffer) });
    }
    return holders;
  }

  async holdingsOf(edgeId: string): Promise<HeldPieces[]> {
    const objects = await this.#client.hGetAll(this.#key(`e:${edgeId}`, 'objects'));
    const held: HeldPieces[] = [];
    for (const [infoHash, count] of Object.entries(objects)) {
      const bits = await this.#client.get(this.#key(`e:${edgeId}`, `b:${infoHash}`));
      if (bits !== null)
        held.push({ infoHash, pieceCount: Number(String(count)), bitfield: Buffer.from(bits as Buffer) });
    }
    return held;
  }

  /** Per piece, how many edges hold the object (serving or not), from the BITFIELD counters. */
  async copiesOf(infoHash: string, pieceCount: number): Promise<number[]> {
    const key = this.#key(`o:${infoHash}`, 'copies');
    const raw = (await this.#client.get(key)) as Buffer | null;
    const copies: number[] = [];
    for (let piece = 0; piece < pieceCount; piece += 1)
      copies.push(raw === null || raw.length < piece * 2 + 2 ? 0 : raw.readUInt16BE(piece * 2));
    return copies;
  }

  // An edge's queued purges: a hash of info hash -> JSON, each with its time, read oldest first.
  async queuePurge(edgeId: string, purge: QueuedPurge): Promise<void> {
    if ((await this.edge(edgeId)) === undefined) return;
    await this.#client.hSet(this.#key(`e:${edgeId}`, 'purges'), purge.infoHash, JSON.stringify(purge));
    this.#tell('queued-purge', [edgeId, purge.infoHash, { ...purge }]);
  }

  async queuedPurges(edgeId: string): Promise<QueuedPurge[]> {
    const all = await this.#client.hGetAll(this.#key(`e:${edgeId}`, 'purges'));
    return Object.values(all)
      .map((raw) => JSON.parse(String(raw)) as QueuedPurge)
      .sort((a, b) => a.queuedAt - b.queuedAt);
  }

  async queuedPurge(edgeId: string, infoHash: string): Promise<QueuedPurge | undefined> {
    const raw = await this.#client.hGet(this.#key(`e:${edgeId}`, 'purges'), infoHash);
    return raw === null || raw === undefined ? undefined : (JSON.parse(String(raw)) as QueuedPurge);
  }

  async dropQueuedPurge(edgeId: string, infoHash: string): Promise<void> {
    if ((await this.#client.hDel(this.#key(`e:${edgeId}`, 'purges'), infoHash)) > 0) {
      this.#tell('queued-purge', [edgeId, infoHash, null]);
    }
  }

  // One round trip for the whole fleet: an ingest of many objects asks this once per object.
  async dropQueuedPurgesOf(infoHash: string): Promise<void> {
    const edgeIds = await this.#client.hKeys(this.#key('fleet', 'edges'));
    if (edgeIds.length === 0) return;
    const batch = this.#client.multi();
    for (const edgeId of edgeIds) batch.hDel(this.#key(`e:${String(edgeId)}`, 'purges'), infoHash);
    const dropped = await batch.exec();
    edgeIds.forEach((edgeId, index) => {
      if (Number(dropped[index]) > 0) this.#tell('queued-purge', [String(edgeId), infoHash, null]);
    });
  }

  async putMetainfo(infoHash: string, torrent: Uint8Array): Promise<void> {
    await this.#client.set(this.#key(`o:${infoHash}`, 'torrent'), Buffer.from(torrent));
    this.#tell('metainfo', [infoHash]);
  }

  async metainfo(infoHash: string): Promise<Uint8Array | undefined> {
    const raw = await this.#client.get(this.#key(`o:${infoHash}`, 'torrent'));
    return raw === null ? undefined : Buffer.from(raw as Buffer);
  }

  async deleteMetainfo(infoHash: string): Promise<void> {
    await this.#client.del(this.#key(`o:${infoHash}`, 'torrent'));
  }

  async putStorageControlRecord(text: string): Promise<void> {
    await this.#client.set(this.#key('fleet', 'storage-control'), text);
  }

  async storageControlRecord(): Promise<string | undefined> {
    const raw = await this.#client.get(this.#key('fleet', 'storage-control'));
    return raw === null ? undefined : raw.toString();
  }

  async sharedPeerId(candidate: Uint8Array): Promise<Uint8Array> {
    const key = this.#key('fleet', 'peer-id');
    await this.#client.set(key, Buffer.from(candidate), { NX: true });
    this.#peerId = Buffer.from((await this.#client.get(key)) as Buffer);
    return Buffer.from(this.#peerId);
  }

  /**
   * A lease in Redis: taken with SET NX PX, renewed every third of its time by the holder only (Lua
   * check-and-extend), each taking numbered (a fencing token, INCR). A holder that cannot renew in time
   * steps down before the lease can pass to another: at most one leader at any time.
   */
  leadership(onChange: (leader: boolean) => void, ttlMs = LEASE_MS): Leadership {
    const key = this.#key('fleet', 'leader');
    const me = this.#instance;
    let leader = false;
    let stopped = false;
    let heldUntil = 0;
    const set = (next: boolean) => {
      if (next === leader) return;
      leader = next;
      onChange(next);
    };
    const tick = async () => {
      if (stopped) return;
      const started = Date.now();
      try {
        const reply = String(
          await this.#client.eval(LEASE, { keys: [key, `${key}:term`], arguments: [me, String(ttlMs)] }),
        );
        if (reply === 'held') {
          heldUntil = started + ttlMs;
          set(true);
        } else set(false);
      } catch {
        // Redis away: a leader keeps its part only while its lease surely runs.
        if (Date.now() >= heldUntil - ttlMs / 3) set(false);
      }
    };
    const timer = setInterval(() => void tick(), Math.max(100, Math.floor(ttlMs / 3)));
    timer.unref();
    void tick();
    return {
      get leader() {
        return leader;
      },
      stop: async () => {
        stopped = true;
        clearInterval(timer);
        set(false);
        await this.#client.eval(RELEASE, { keys: [key], arguments: [me] }).catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#subscriber.close(), this.#client.close()]);
  }

  /** Deletes every key of this fleet (tests). */
  async clear(): Promise<void> {
    for await (const keys of this.#client.scanIterator({ MATCH: `${this.#prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await this.#client.del(keys.map(String));
    }
  }

  async #replace(edgeId: string, cursor: HoldingsCursor | null, objects: HeldPieces[]): Promise<void> {
    const argv: Array<string | Buffer> = [
      this.#key(`e:${edgeId}`, 'b:'),
      cursor?.session ?? '',
      String(cursor?.seq ?? 0),
    ];
    for (const object of objects) {
      const bitfield = Bitfield.fromBuffer(object.bitfield, object.pieceCount);
      if (bitfield.count() === 0) continue;
      argv.push(object.infoHash, String(object.pieceCount), bitfield.toBuffer());
    }
    const reply = await this.#client.eval(REPLACE, {
      keys: [this.#key(`e:${edgeId}`, 'cursor'), this.#key(`e:${edgeId}`, 'objects')],
      arguments: argv,
    });
    await this.#afterUpdate(edgeId, reply as Buffer[], false);
  }

  /** Updates the objects' indexes after an edge's bitfields changed, and tells of each change. */
  async #afterUpdate(edgeId: string, reply: Buffer[], always: boolean): Promise<void> {
    for (let i = 0; i + 3 < reply.length; i += 4) {
      const infoHash = String(reply[i]);
      const pieceCount = Number(String(reply[i + 1]));
      const before = reply[i + 2] as Buffer;
      const after = reply[i + 3] as Buffer;
      // A gone object the edge did not hold: nothing changed.
      if (before.length === 0 && after.length === 0) continue;
      const plus: number[] = [];
      const minus: number[] = [];
      for (let piece = 0; piece < pieceCount; piece += 1) {
        const had = bit(before, piece);
        const has = bit(after, piece);
        if (has && !had) plus.push(piece);
        if (had && !has) minus.push(piece);
      }
      await this.#client.eval(INDEX, {
        keys: [this.#key(`o:${infoHash}`, 'holders'), this.#key(`o:${infoHash}`, 'copies')],
        arguments: [edgeId, after.length > 0 ? '1' : '0', JSON.stringify(plus), JSON.stringify(minus)],
      });
      if (always || plus.length > 0 || minus.length > 0 || before.length !== after.length) {
        this.#tell('holdings', [edgeId, infoHash, pieceCount, new Uint8Array(after)]);
      }
    }
  }

  /** Emits here at once, and publishes for the other controllers. */
  #tell<K extends keyof FleetEvents>(event: K, args: FleetEvents[K]): void {
    (this.emit as (event: K, ...args: FleetEvents[K]) => boolean)(event, ...args);
    const wire = args.map((arg) => (arg instanceof Uint8Array ? { base64: Buffer.from(arg).toString('base64') } : arg));
    const message: Published = { from: this.#instance, event, args: wire };
    this.#client.publish(this.#key('fleet', 'events'), JSON.stringify(message)).catch(() => {});
  }

  #onPublished(raw: Buffer | string): void {
    let message: Published;
    try {
      message = JSON.parse(String(raw)) as Published;
    } catch {
      return;
    }
    if (message.from === this.#instance) return;
    const args = message.args.map((arg) =>
      arg !== null && typeof arg === 'object' && 'base64' in arg ? Buffer.from(String(arg.base64), 'base64') : arg,
    );
    (this.emit as (event: string, ...args: unknown[]) => boolean)(message.event, ...args);
  }

  #key(slot: string, name: string): string {
    return `${this.#prefix}{${slot}}:${name}`;
  }
}

function bit(bytes: Buffer, piece: number): boolean {
  const byte = bytes[piece >> 3];
  return byte !== undefined && (byte & (0x80 >> (piece & 7))) !== 0;
}
