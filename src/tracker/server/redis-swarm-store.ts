// The reference tracker's swarm state in Redis, for several `edgepeer tracker` processes on one state
// (issue 15), as chihaya runs several instances on one Redis. Same contract as the in-memory store
// (test/tracker/swarm-store-contract.ts). Each announce, stopped and expiry is one Lua script: the whole
// update (quotas, eviction, seeds, bitmaps and piece copy counts, version) is atomic. A random sample of
// the swarm (HRANDFIELD) follows it in the same pipeline: one round trip; peers are chosen here, from it.
//
// Keys: one swarm's keys share the hash tag {s:INFOHASH} (one Cluster slot); the tracker-wide ones share {t}.
//   P{s:IH}:meta     HASH ver, seeds, downloaded, pc (piece count), size, full, bmp (bitmap peers), netn
//   P{s:IH}:peers    HASH compact address+port -> record "peerIdHex|left|up|down|lastSeen|net|kind|held|urls"
//   P{s:IH}:seen     ZSET compact -> last seen (ms): expiry
//   P{s:IH}:bitmaps  HASH compact -> bitfield bytes (peers whose pieces are known in part)
//   P{s:IH}:copies   STRING BITFIELD u32 per piece: copies among those peers (seeds are counted in meta full)
//   P{s:IH}:webs     HASH compact -> "kind|urls" of network peers (url-list and piece URLs)
//   P{s:IH}:sel      HASH compact -> "left|kind|held|" and the peer id's bytes: what choosing peers reads, short
//                    (a swarm of up to 128 peers stays a listpack; the announce's sample is one small reply);
//                    with network maps prefixed "pN@F|": its PID number N under the map of fingerprint F
//   P{t}:swarms      ZSET info hash -> announce tick (least recently announced first: eviction, listing)
//   P{t}:expiry      ZSET info hash -> last seen of its stalest peer (the sweep's work list)
//   P{t}:addr P{t}:net  HASH address / network (/24, /64) -> entries (quotas)
//   P{t}:counts      HASH peers, bitmapBytes, evicted, version (one counter: versions never repeat), tick
//   P{t}:expiry-lease, P{t}:expiry-term   the lease of the instance that runs the expiry sweep, its term
//   P{t}:tracker-id  STRING the tracker id all instances answer with (a new one when the state was lost)
//   P{t}:changes     pub/sub channel "instance infohash version": the statistics feeds of all instances
// A script that drops another swarm (eviction) names keys it was not given: on Redis Cluster the scripts
// would have to be split between the swarm's slot and {t}; one Redis server (with replicas) is what runs here.
import { createHash, randomBytes } from 'node:crypto';
import { ErrorReply } from 'redis';
import { StateUnreachableError } from '../../errors/index.ts';
import { openRedisConnection, type RedisClient, type RedisConnectionOptions, redactUrl } from '../../redis/index.ts';
import { countBits } from '../protocol/bitmap.ts';
import { bytesToIp, encodeCompactPeer } from '../protocol/compact.ts';
import { objectUrl, pieceUrlPattern } from '../protocol/extension.ts';
import { type CandidatePeer, type PeerLocality, pickPeers, samplingSize } from './peer-selection.ts';
import {
  type AnnounceOutcome,
  type ChangeListener,
  emptySwarmStats,
  type Holding,
  type NetworkPeerStats,
  networkPeerStatsOf,
  type PeerAnnounce,
  type PeerRecord,
  type PeerStats,
  type PidOfCompact,
  peerStatsOf,
  peersByPid,
  type ScrapeEntry,
  type SwarmStats,
  type SwarmStore,
  type SwarmStoreCounts,
  type SwarmStoreLimits,
  type SwarmSummary,
} from './swarm-store.ts';

export interface RedisSwarmStoreOptions extends RedisConnectionOptions {
  limits: SwarmStoreLimits;
  /** Prefix of every key and of the channel; default 'ep:t:'. Tests give each store its own. */
  prefix?: string;
}

type Client = RedisClient;

/** Functions the scripts share. P is the key prefix; G_* the tracker-wide keys. */
const COMMON = `
local P = ARGV[1]
local G_SWARMS, G_EXPIRY, G_ADDR, G_NET, G_COUNTS = KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local S = { meta = KEYS[1], peers = KEYS[2], seen = KEYS[3], bitmaps = KEYS[4], copies = KEYS[5], webs = KEYS[6],
  sel = KEYS[7] }
local function swarmKeys(ih)
  local base = P .. '{s:' .. ih .. '}:'
  return { meta = base .. 'meta', peers = base .. 'peers', seen = base .. 'seen', bitmaps = base .. 'bitmaps',
    copies = base .. 'copies', webs = base .. 'webs', sel = base .. 'sel' }
end
local function parse(rec)
  local pid, left, up, down, seen, net, kind, held, urls =
    string.match(rec, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  return { pid = pid, left = left, up = up, down = down, seen = seen, net = net == '1', kind = kind, held = held,
    urls = urls }
end
local function format(r)
  return table.concat({ r.pid, r.left, r.up, r.down, r.seen, r.net and '1' or '0', r.kind, r.held, r.urls }, '|')
end
local function addrOf(k) return string.sub(k, 1, #k - 2) end
local function netOf(k)
  if #k == 6 then return '4' .. string.sub(k, 1, 3) end
  return '6' .. string.sub(k, 1, 8)
end
local function countEntry(k, sign)
  if redis.call('HINCRBY', G_ADDR, addrOf(k), sign) <= 0 then redis.call('HDEL', G_ADDR, addrOf(k)) end
  if redis.call('HINCRBY', G_NET, netOf(k), sign) <= 0 then redis.call('HDEL', G_NET, netOf(k)) end
end
-- Piece copy counts follow a bitmap change: +1 for pieces in new only, -1 for pieces in old only.
local function moveCopies(key, old, new)
  local ops, n = { 'OVERFLOW', 'SAT' }, 0
  for i = 1, math.max(#old, #new) do
    local o, w = string.byte(old, i) or 0, string.byte(new, i) or 0
    if o ~= w then
      for b = 0, 7 do
        local mask = bit.rshift(128, b)
        local had, has = bit.band(o, mask) ~= 0, bit.band(w, mask) ~= 0
        if had ~= has then
          ops[#ops + 1] = 'INCRBY'; ops[#ops + 1] = 'u32'; ops[#ops + 1] = '#' .. ((i - 1) * 8 + b)
          ops[#ops + 1] = has and 1 or -1
          n = n + 1
          if n >= 200 then
            redis.call('BITFIELD', key, unpack(ops))
            ops, n = { 'OVERFLOW', 'SAT' }, 0
          end
        end
      end
    end
  end
  if n > 0 then redis.call('BITFIELD', key, unpack(ops)) end
end
local function setHolding(s, k, r, oldBits, kind, bits, held)
  if r.kind == 'f' then redis.call('HINCRBY', s.meta, 'full', -1)
  elseif r.kind == 'b' then
    redis.call('HINCRBY', s.meta, 'bmp', -1)
    redis.call('HINCRBY', G_COUNTS, 'bitmapBytes', -#oldBits)
  end
  if kind == 'f' then redis.call('HINCRBY', s.meta, 'full', 1)
  elseif kind == 'b' then
    redis.call('HINCRBY', s.meta, 'bmp', 1)
    redis.call('HINCRBY', G_COUNTS, 'bitmapBytes', #bits)
  end
  moveCopies(s.copies, oldBits, bits)
  if kind == 'b' then redis.call('HSET', s.bitmaps, k, bits)
  elseif r.kind == 'b' then redis.call('HDEL', s.bitmaps, k) end
  r.kind, r.held = kind, held
end
local function write(s, k, r, wasNet)
  redis.call('HSET', s.peers, k, format(r))
  redis.call('ZADD', s.seen, r.seen, k)
  if r.net then redis.call('HSET', s.webs, k, r.kind .. '|' .. r.urls)
  elseif wasNet then redis.call('HDEL', s.webs, k) end
end
local function removePeer(s, k, r)
  local oldBits = ''
  if r.kind == 'b' then oldBits = redis.call('HGET', s.bitmaps, k) or '' end
  setHolding(s, k, r, oldBits, 'u', '', '0')
  redis.call('HDEL', s.peers, k)
  redis.call('ZREM', s.seen, k)
  redis.call('HDEL', s.webs, k)
  redis.call('HDEL', s.sel, k)
  redis.call('HINCRBY', G_COUNTS, 'peers', -1)
  countEntry(k, -1)
  if r.left == '0' then redis.call('HINCRBY', s.meta, 'seeds', -1) end
  if r.net then redis.call('HINCRBY', s.meta, 'netn', -1) end
end
local function dropSwarm(s, ih)
  redis.call('DEL', s.meta, s.peers, s.seen, s.bitmaps, s.copies, s.webs, s.sel)
  redis.call('ZREM', G_SWARMS, ih)
  redis.call('ZREM', G_EXPIRY, ih)
end
local function bump(s)
  local version = redis.call('HINCRBY', G_COUNTS, 'version', 1)
  redis.call('HSET', s.meta, 'ver', version)
  return version
end
-- The swarm's stalest peer, in meta (oldest) and in the sweep's work list.
local function updateExpiry(s, ih)
  local oldest = redis.call('ZRANGE', s.seen, 0, 0, 'WITHSCORES')
  if oldest[2] then
    redis.call('ZADD', G_EXPIRY, oldest[2], ih)
    redis.call('HSET', s.meta, 'oldest', oldest[2])
  else
    redis.call('ZREM', G_EXPIRY, ih)
  end
end
-- Drops the least recently announced swarm but keep, peers and all.
local function evictOldest(keep)
  for _, ih in ipairs(redis.call('ZRANGE', G_SWARMS, 0, 1)) do
    if ih ~= keep then
      local s = swarmKeys(ih)
      local all = redis.call('HGETALL', s.peers)
      for i = 1, #all, 2 do
        countEntry(all[i], -1)
        if parse(all[i + 1]).kind == 'b' then
          redis.call('HINCRBY', G_COUNTS, 'bitmapBytes', -redis.call('HSTRLEN', s.bitmaps, all[i]))
        end
      end
      redis.call('HINCRBY', G_COUNTS, 'peers', -(#all / 2))
      dropSwarm(s, ih)
      redis.call('HINCRBY', G_COUNTS, 'evicted', 1)
      return
    end
  end
end
`;

/**
 * One announce. ARGV: prefix, info hash, key (compact), event, peer id (hex), left, uploaded, downloaded, now,
 * network (1/0), ep_pieces, ep_size, bitmap bytes, pieces held in it, URLs (\\n), then the limits maxSwarms,
 * maxPeersPerSwarm, maxPeers, maxPeersPerAddress, maxPeersPerNetwork, maxBitmapBytes, and the peer id's 20
 * bytes. Returns failure,
 * seeds, leechers, downloaded, version, changed, warnings, piece count, size, the asker's holding kind,
 * held, its kept bitmap (when it left it out of this announce), and the network peers (key, "kind|urls", ...). Few calls on the common path (a known
 * peer announcing again): the swarm's meta is read once and the counts are kept here.
 */
const ANNOUNCE = `${COMMON}
local IH, K, EV = ARGV[2], ARGV[3], ARGV[4]
local PID, LEFT, UP, DOWN, NOW = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local NET, NPC, NSIZE, BITS, HELD, URLS = ARGV[10] == '1', ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15]
local MAX_SWARMS, MAX_PER_SWARM, MAX_PEERS = tonumber(ARGV[16]), tonumber(ARGV[17]), tonumber(ARGV[18])
local MAX_ADDR, MAX_NET, MAX_BITMAP = tonumber(ARGV[19]), tonumber(ARGV[20]), tonumber(ARGV[21])
local RAW_PID, LOC = ARGV[22], ARGV[23]
local warnings = {}
local function writeSel(k, r)
  redis.call('HSET', S.sel, k, LOC .. r.left .. '|' .. r.kind .. '|' .. r.held .. '|' .. RAW_PID)
end
local function reply(failure, seeds, leechers, downloaded, version, changed, x)
  x = x or {}
  return { failure, seeds, leechers, downloaded, version, changed, warnings, x.pc or '', x.size or '', x.kind or 'u',
    x.held or '0', x.bits or '', x.webs or {} }
end
local function overQuota(k)
  if tonumber(redis.call('HGET', G_ADDR, addrOf(k)) or '0') >= MAX_ADDR then
    return 'your address holds ' .. ARGV[19] .. ' entries, the most this tracker keeps per address: not listed'
  end
  if tonumber(redis.call('HGET', G_NET, netOf(k)) or '0') >= MAX_NET then
    return 'your network holds ' .. ARGV[20] .. ' entries, the most this tracker keeps per /24 or /64: not listed'
  end
  return false
end

local m = redis.call('HMGET', S.meta, 'ver', 'seeds', 'downloaded', 'pc', 'size', 'bmp', 'oldest', 'netn')
local version, seeds, downloaded = tonumber(m[1] or '0'), tonumber(m[2] or '0'), tonumber(m[3] or '0')
local pc, size, bmp, oldest = m[4], m[5], tonumber(m[6] or '0'), m[7]
local webs = tonumber(m[8] or '0') > 0 or NET
if not m[1] then
  if EV == 'stopped' then return reply('', 0, 0, 0, 0, 0) end
  local quota = overQuota(K)
  if quota then return reply(quota, 0, 0, 0, 0, 0) end
  -- Full: the least recently announced swarm makes room, so a flood cannot lock new swarms out.
  if redis.call('ZCARD', G_SWARMS) >= MAX_SWARMS then evictOldest(IH) end
  redis.call('HSET', S.meta, 'ver', 0)
end
if EV ~= 'stopped' then redis.call('ZADD', G_SWARMS, redis.call('HINCRBY', G_COUNTS, 'tick', 1), IH) end
local raw = redis.call('HGET', S.peers, K)
local existing = nil
if raw then existing = parse(raw) end

if EV == 'stopped' then
  local count = redis.call('HLEN', S.peers)
  if not existing then return reply('', seeds, count - seeds, downloaded, version, 0) end
  local wasOldest = existing.seen == oldest
  removePeer(S, K, existing)
  version = bump(S)
  if existing.left == '0' then seeds = seeds - 1 end
  count = count - 1
  if count == 0 then dropSwarm(S, IH) elseif wasOldest then updateExpiry(S, IH) end
  return reply('', seeds, count - seeds, downloaded, version, 1)
end

local existingBits = ''
if existing and existing.kind == 'b' then existingBits = redis.call('HGET', S.bitmaps, K) or '' end
-- What the announce says the peer holds; problems become warnings and leave the bitmap unknown.
local function holdingOf()
  if NET and NPC ~= '' then
    if not pc or (bmp == 0 and pc ~= NPC) then
      pc = NPC
      redis.call('HSET', S.meta, 'pc', pc)
      redis.call('DEL', S.copies)
    elseif pc ~= NPC then
      warnings[#warnings + 1] = 'ep_pieces=' .. NPC .. " disagrees with the swarm's " .. pc .. ' pieces: bitmap ignored'
      if LEFT == '0' then return 'f', '', '0' end
      return 'u', '', '0'
    end
  end
  if NET and NSIZE ~= '' and not size then
    size = NSIZE
    redis.call('HSET', S.meta, 'size', size)
  end
  if LEFT == '0' then return 'f', '', '0' end
  if BITS ~= '' and pc then
    if HELD == pc then return 'f', '', '0' end
    local total = tonumber(redis.call('HGET', G_COUNTS, 'bitmapBytes') or '0')
    if total - #existingBits + #BITS > MAX_BITMAP then
      warnings[#warnings + 1] = 'tracker bitmap memory is full: bitmap not kept'
      return 'u', '', '0'
    end
    return 'b', BITS, HELD
  end
  -- A network peer that left its bitmap out (too large for a GET) keeps the one it sent before.
  if NET and existing and existing.kind == 'b' then return 'b', existingBits, existing.held end
  return 'u', '', '0'
end
local kind, bits, held = holdingOf()

local changed = false
local count = nil
local leftBefore = nil
if existing then leftBefore = existing.left end
if not existing then
  count = redis.call('HLEN', S.peers)
  local quota = overQuota(K)
  local full = count >= MAX_PER_SWARM
  local function peerCount() return tonumber(redis.call('HGET', G_COUNTS, 'peers') or '0') end
  if not quota and not full and peerCount() >= MAX_PEERS then evictOldest(IH) end
  if quota then warnings[#warnings + 1] = quota
  elseif full then warnings[#warnings + 1] = 'swarm is full (' .. ARGV[17] .. ' peers): you are not listed'
  elseif peerCount() >= MAX_PEERS then
    warnings[#warnings + 1] = 'tracker is full (' .. ARGV[18] .. ' peers): you are not listed'
  else
    local record = { pid = PID, left = LEFT, up = UP, down = DOWN, seen = NOW, net = NET, kind = 'u', held = '0',
      urls = URLS }
    redis.call('HINCRBY', G_COUNTS, 'peers', 1)
    countEntry(K, 1)
    if LEFT == '0' then seeds = redis.call('HINCRBY', S.meta, 'seeds', 1) end
    if NET then redis.call('HINCRBY', S.meta, 'netn', 1) end
    setHolding(S, K, record, '', kind, bits, held)
    write(S, K, record, false)
    writeSel(K, record)
    count = count + 1
    if not oldest or tonumber(NOW) < tonumber(oldest) then
      redis.call('HSET', S.meta, 'oldest', NOW)
      redis.call('ZADD', G_EXPIRY, NOW, IH)
    end
    changed = true
  end
else
  local r = existing
  local wasNet, wasOldest = r.net, r.seen == oldest
  local selected = r.pid .. r.left .. r.kind .. r.held
  if r.pid ~= PID then r.pid = PID; changed = true end -- the client restarted on this address and port
  if r.left ~= LEFT then
    if r.left == '0' then seeds = redis.call('HINCRBY', S.meta, 'seeds', -1) end
    if LEFT == '0' then seeds = redis.call('HINCRBY', S.meta, 'seeds', 1) end
    r.left = LEFT
    changed = true
  end
  if r.net ~= NET then
    redis.call('HINCRBY', S.meta, 'netn', NET and 1 or -1)
    r.net = NET
    changed = true
  end
  if r.urls ~= URLS then r.urls = URLS; changed = true end
  r.up, r.down, r.seen = UP, DOWN, NOW
  if kind ~= r.kind or (kind == 'b' and bits ~= existingBits) then
    setHolding(S, K, r, existingBits, kind, bits, held)
    changed = true
  end
  write(S, K, r, wasNet)
  if r.pid .. r.left .. r.kind .. r.held ~= selected then
    writeSel(K, r)
  elseif LOC ~= '' and string.sub(redis.call('HGET', S.sel, K) or '', 1, #LOC) ~= LOC then
    writeSel(K, r) -- its PID number under the map in use (a map reload, or a tracker that had none)
  end
  -- (Another instance's clock may be behind: a peer seen "earlier" than the stalest becomes the stalest.)
  if wasOldest or not oldest or tonumber(NOW) < tonumber(oldest) then updateExpiry(S, IH) end
end
if EV == 'completed' and leftBefore ~= '0' then
  downloaded = redis.call('HINCRBY', S.meta, 'downloaded', 1)
  changed = true
end
if changed then version = bump(S) end
if count == nil then count = redis.call('HLEN', S.peers) end
if count == 0 then
  dropSwarm(S, IH)
  return reply('', seeds, 0, downloaded, version, changed and 1 or 0)
end
local x = { pc = pc or '', size = size or '', kind = kind, held = held }
if kind == 'b' and BITS == '' then x.bits = bits end
-- The network peers' URLs (a few edges; at most about 100 read): only in swarms that have network peers.
if webs then x.webs = redis.call('HSCAN', S.webs, 0, 'COUNT', 100)[2] end
return reply('', seeds, count - seeds, downloaded, version, changed and 1 or 0, x)
`;

/** Drops one swarm's peers last seen before ARGV[3]; KEYS[13] is the expiry lease, held by ARGV[4] if given. */
const EXPIRE = `${COMMON}
local IH, BEFORE, FENCE = ARGV[2], ARGV[3], ARGV[4]
if FENCE ~= '' and redis.call('GET', KEYS[13]) ~= FENCE then return -1 end
if redis.call('EXISTS', S.meta) == 0 then
  redis.call('ZREM', G_EXPIRY, IH)
  return 0
end
local old = redis.call('ZRANGEBYSCORE', S.seen, '-inf', '(' .. BEFORE)
if #old == 0 then
  updateExpiry(S, IH)
  return 0
end
for _, k in ipairs(old) do
  local raw = redis.call('HGET', S.peers, k)
  if raw then removePeer(S, k, parse(raw)) else redis.call('ZREM', S.seen, k) end
end
local version = bump(S)
if redis.call('HLEN', S.peers) == 0 then dropSwarm(S, IH) else updateExpiry(S, IH) end
return version
`;

/** One swarm's whole state, read at one instant: meta, peers, copies, bitmaps. */
const READ_SWARM = `
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('GET', KEYS[3]) or '',
  redis.call('HGETALL', KEYS[4]) }`;

/** One swarm's counts: seeds, peers, downloaded, version, network peers, piece count ('' when unknown). */
const READ_COUNTS = `
local m = redis.call('HMGET', KEYS[1], 'seeds', 'downloaded', 'ver', 'netn', 'pc')
if not m[3] then return false end
return { tonumber(m[1] or '0'), redis.call('HLEN', KEYS[2]), tonumber(m[2] or '0'), tonumber(m[3]),
  tonumber(m[4] or '0'), m[5] or '' }`;

/** Takes the lease if free, extends it if held by ARGV[1]: 1 or 0. A new holder bumps the term. */
const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('INCR', KEYS[2])
return 1`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  announce: script(ANNOUNCE),
  expire: script(EXPIRE),
  readSwarm: script(READ_SWARM),
  readCounts: script(READ_COUNTS),
  lease: script(LEASE),
  release: script(RELEASE),
};

/** Replies of Redis that mean "not now" rather than a bug in a script. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MISCONF|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOAUTH|WRONGPASS|OOM)/;

const EXPIRE_BATCH = 500;
/** Swarms one sweep looks at, at most: EXPIRE_BATCH x this. */
const MAX_EXPIRE_ROUNDS = 1000;

export class RedisSwarmStore implements SwarmStore {
  readonly #client: Client;
  readonly #subscriber: Client;
  readonly #prefix: string;
  readonly #limits: SwarmStoreLimits;
  readonly #url: string;
  readonly #instance = randomBytes(8).toString('hex');
  readonly #listeners = new Set<ChangeListener>();
  #trackerId = randomBytes(6).toString('hex');
  /** Set while this instance holds the expiry lease: expire() runs only while the lease is still its own. */
  #expiryFence = '';

  private constructor(client: Client, subscriber: Client, options: RedisSwarmStoreOptions) {
    this.#client = client;
    this.#subscriber = subscriber;
    this.#prefix = options.prefix ?? 'ep:t:';
    this.#limits = options.limits;
    this.#url = redactUrl(options.url);
  }

  /** Connects (rejects with EDGEPEER_STATE_UNREACHABLE when Redis cannot be reached or refuses) and follows changes. */
  static async open(options: RedisSwarmStoreOptions): Promise<RedisSwarmStore> {
    const { client, subscriber } = await openRedisConnection(options, { offlineQueue: false });
    const store = new RedisSwarmStore(client, subscriber, options);
    await subscriber.subscribe(store.#globalKey('changes'), (message: Buffer | string) => store.#onPublished(message));
    await store.#adoptTrackerId();
    // Back after an outage: a Redis that lost the state gets a new tracker id (clients then resend bitmaps).
    client.on('ready', () => void store.#adoptTrackerId().catch(() => {}));
    return store;
  }

  /**
   * The tracker id every instance on this state answers with: clients resend acknowledged bitmaps when it
   * changes, which must happen when the state is lost (a Redis restarted empty), not when a client's
   * announces reach another instance or an instance restarts.
   */
  get trackerId(): string {
    return this.#trackerId;
  }

  async #adoptTrackerId(): Promise<void> {
    const key = this.#globalKey('tracker-id');
    await this.#client.set(key, randomBytes(6).toString('hex'), { NX: true });
    const stored = await this.#client.get(key);
    if (stored !== null) this.#trackerId = String(stored);
  }

  async announce(announce: PeerAnnounce, locality?: PeerLocality): Promise<AnnounceOutcome> {
    const compact = encodeCompactPeer(announce.ip, announce.port);
    if (compact === undefined) {
      return { ...emptyOutcome([]), failure: `cannot list address ${announce.ip} port ${announce.port}` };
    }
    const key = compact.toString('latin1');
    const network = announce.network;
    const bitmap = network?.bitmap;
    const limits = this.#limits;
    const keys = this.#swarmKeys(announce.infoHash);
    const stopped = announce.event === 'stopped';
    const pids = locality?.pids;
    const sample =
      announce.numWant > 0 && !stopped ? Math.ceil(samplingSize(announce.numWant, bitmap?.length ?? 0)) : 0;
    // The update and the sample of candidates go in one pipeline (one round trip), in this order: the
    // sample is read after the update. Choosing among the candidates is done here.
    const [reply, sampled] = await Promise.all([
      this.#run(SCRIPTS.announce, keys, [
        this.#prefix,
        announce.infoHash,
        compact,
        announce.event ?? '',
        announce.peerId.toString('hex'),
        String(announce.left),
        String(announce.uploaded),
        String(announce.downloaded),
        String(announce.now),
        network === undefined ? '0' : '1',
        network?.pieceCount === undefined ? '' : String(network.pieceCount),
        network?.size === undefined ? '' : String(network.size),
        bitmap === undefined ? '' : Buffer.from(bitmap.buffer, bitmap.byteOffset, bitmap.byteLength),
        bitmap === undefined ? '0' : String(countBits(bitmap)),
        (network?.urls ?? []).join('\n'),
        String(limits.maxSwarms),
        String(limits.maxPeersPerSwarm),
        String(limits.maxPeers),
        String(limits.maxPeersPerAddress),
        String(limits.maxPeersPerNetwork),
        String(limits.maxBitmapBytes),
        announce.peerId,
        // The asker's PID number under this map, kept beside its selection fields (SampledPeer).
        pids === undefined ? '' : `p${pids.asker}@${pids.fingerprint}|`,
      ]) as Promise<AnnounceReply>,
      sample > 0
        ? this.#call(() => this.#client.sendCommand(['HRANDFIELD', keys[6]!, String(sample), 'WITHVALUES']))
        : undefined,
    ]);
    const [failure, seeds, leechers, downloaded, version, changed, warningList] = reply;
    const warnings = warningList.map(String);
    if (failure.length > 0) return { ...emptyOutcome(warnings), failure: String(failure) };
    const outcome: AnnounceOutcome = {
      complete: seeds,
      incomplete: leechers,
      downloaded,
      peers: [],
      urlList: [],
      pieceUrls: [],
      warnings,
      version,
      changed: changed === 1,
    };
    if (outcome.changed) this.#tell(announce.infoHash, version);
    if (stopped) return outcome;
    const [, , , , , , , pieceCountText, sizeText, kindText, heldText, keptBits, webs] = reply;
    const pieceCount = pieceCountText.length === 0 ? null : Number(String(pieceCountText));
    const size = sizeText.length === 0 ? null : Number(String(sizeText));
    const kind = String(kindText);
    const askerHolding: Holding =
      kind === 'f'
        ? { kind: 'full' }
        : kind === 'b'
          ? {
              kind: 'bitmap',
              bitmap: keptBits.length > 0 ? keptBits : (bitmap ?? new Uint8Array()),
              held: Number(String(heldText)),
            }
          : { kind: 'unknown' };
    const candidates = pairs(sampled);
    if (candidates.length > 0) {
      const fingerprint = pids?.fingerprint;
      const list = candidates.map(([peerKey, raw]) => new SampledPeer(peerKey, raw, fingerprint));
      // Exact scoring compares bitmaps: fetched only for a bitmap-carrying asker, and only those of the sample.
      if (askerHolding.kind === 'bitmap') await this.#loadBitmaps(keys[3]!, list);
      outcome.peers = pickPeers(
        { list, pieceCount, size },
        null,
        askerHolding,
        announce.numWant,
        announce.wantFamily,
        key,
        locality,
      );
    }
    const max = this.#limits.maxUrlsPerAnswer;
    for (const [peerKey, value] of pairs(webs)) {
      if (peerKey.toString('latin1') === key) continue;
      const text = value.toString('utf8');
      const holdingKind = text[0];
      for (const url of text.slice(2).split('\n')) {
        if (url.length === 0) continue;
        if (holdingKind === 'f' && outcome.urlList.length < max)
          outcome.urlList.push(objectUrl(url, announce.infoHash));
        if (holdingKind !== 'u' && outcome.pieceUrls.length < max) {
          outcome.pieceUrls.push(pieceUrlPattern(url, announce.infoHash));
        }
      }
    }
    return outcome;
  }

  async #loadBitmaps(bitmapsKey: string, peers: SampledPeer[]): Promise<void> {
    const partial = peers.filter((peer) => peer.holding.kind === 'bitmap');
    if (partial.length === 0) return;
    const found = (await this.#call(() =>
      this.#client.sendCommand(['HMGET', bitmapsKey, ...partial.map((peer) => peer.keyBytes)]),
    )) as Array<Buffer | null>;
    partial.forEach((peer, i) => {
      const bits = found[i];
      if (bits && peer.holding.kind === 'bitmap') peer.holding = { ...peer.holding, bitmap: bits };
    });
  }

  async scrape(infoHashes: readonly string[] | undefined, limit: number): Promise<ScrapeEntry[]> {
    const hashes = infoHashes?.slice(0, limit) ?? (await this.#swarmsByRecency(limit));
    const counts = await Promise.all(hashes.map((infoHash) => this.#readCounts(infoHash)));
    return hashes.map((infoHash, i) => {
      const entry = counts[i];
      return {
        infoHash,
        complete: entry?.seeds ?? 0,
        incomplete: entry === undefined ? 0 : entry.peers - entry.seeds,
        downloaded: entry?.downloaded ?? 0,
      };
    });
  }

  async stats(infoHash: string, maxPeers: number, pidOf?: PidOfCompact): Promise<SwarmStats> {
    const [metaKey = '', peersKey = '', , bitmapsKey = '', copiesKey = ''] = this.#swarmKeys(infoHash);
    const [metaList, peerList, copiesRaw, bitmapList] = (await this.#run(
      SCRIPTS.readSwarm,
      [metaKey, peersKey, copiesKey, bitmapsKey],
      [],
    )) as [Buffer[], Buffer[], Buffer, Buffer[]];
    if (metaList.length === 0) return emptySwarmStats(infoHash, pidOf);
    const meta = new Map<string, string>();
    for (let i = 0; i + 1 < metaList.length; i += 2) meta.set(String(metaList[i]), String(metaList[i + 1]));
    const number = (name: string) => Number(meta.get(name) ?? 0);
    const pieceCount = meta.has('pc') ? number('pc') : null;
    const size = meta.has('size') ? number('size') : null;
    const bitmaps = new Map<string, Buffer>();
    for (let i = 0; i + 1 < bitmapList.length; i += 2)
      bitmaps.set(bitmapList[i]!.toString('latin1'), bitmapList[i + 1]!);
    const records: PeerRecord[] = [];
    for (let i = 0; i + 1 < peerList.length; i += 2) {
      records.push(new StoredPeer(peerList[i]!, peerList[i + 1]!, records.length, bitmaps));
    }
    const full = number('full');
    let pieceCopies: number[] | null = null;
    if (pieceCount !== null) {
      pieceCopies = new Array(pieceCount);
      for (let piece = 0; piece < pieceCount; piece++) {
        pieceCopies[piece] = (copiesRaw.length >= piece * 4 + 4 ? copiesRaw.readUInt32BE(piece * 4) : 0) + full;
      }
    }
    const pool = { pieceCount, size, infoHash };
    const seeds = number('seeds');
    return {
      infoHash,
      version: number('ver'),
      pieceCount,
      size,
      seeds,
      leechers: records.length - seeds,
      downloaded: number('downloaded'),
      pieceCopies,
      peersWithUnknownPieces: records.filter((record) => record.holding.kind === 'unknown').length,
      networkPeers: records
        .filter((record) => record.network)
        .map((record): NetworkPeerStats => networkPeerStatsOf(pool, record)),
      peers: [...records]
        .sort((a, b) => b.lastSeen - a.lastSeen)
        .slice(0, maxPeers)
        .map((record): PeerStats => peerStatsOf(pool, record)),
      peerCount: records.length,
      ...(pidOf === undefined ? {} : { pids: peersByPid(records, pidOf) }),
    };
  }

  async list(limit: number): Promise<SwarmSummary[]> {
    const hashes = await this.#swarmsByRecency(limit);
    const counts = await Promise.all(hashes.map((infoHash) => this.#readCounts(infoHash)));
    const summaries: SwarmSummary[] = [];
    hashes.forEach((infoHash, i) => {
      const entry = counts[i];
      if (entry === undefined) return; // dropped since it was listed
      summaries.push({
        infoHash,
        version: entry.version,
        seeds: entry.seeds,
        leechers: entry.peers - entry.seeds,
        networkPeers: entry.networkPeers,
        pieceCount: entry.pieceCount,
      });
    });
    return summaries;
  }

  async expire(before: number): Promise<string[]> {
    const changed: string[] = [];
    const fence = this.#expiryFence;
    // Each script moves its swarm's entry in the work list to its stalest remaining peer (or removes it), so
    // a batch never comes back; the bound on rounds only guards against a bug looping the sweep forever.
    for (let round = 0; round < MAX_EXPIRE_ROUNDS; round++) {
      const due = (await this.#call(() =>
        this.#client.zRangeByScore(this.#globalKey('expiry'), '-inf', `(${before}`, {
          LIMIT: { offset: 0, count: EXPIRE_BATCH },
        }),
      )) as unknown as Buffer[];
      for (const raw of due) {
        const infoHash = String(raw);
        const version = Number(
          await this.#run(
            SCRIPTS.expire,
            [...this.#swarmKeys(infoHash), this.#globalKey('expiry-lease')],
            [this.#prefix, infoHash, String(before), fence],
          ),
        );
        if (version === -1) return changed; // the lease passed to another instance: it sweeps now
        if (version > 0) {
          changed.push(infoHash);
          this.#tell(infoHash, version);
        }
      }
      if (due.length < EXPIRE_BATCH) break;
    }
    return changed;
  }

  async counts(): Promise<SwarmStoreCounts> {
    const [fields, swarms] = await this.#call(() =>
      Promise.all([
        this.#client.hmGet(this.#globalKey('counts'), ['peers', 'bitmapBytes', 'evicted']),
        this.#client.zCard(this.#globalKey('swarms')),
      ]),
    );
    const value = (i: number) => Number(fields[i] === null ? 0 : String(fields[i]));
    return { swarms, peers: value(0), bitmapBytes: value(1), evictedSwarms: value(2) };
  }

  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The expiry lease: SET NX PX, renewed by its holder only (a Lua check-and-extend), each new holder
   * numbered (the term, INCR). While held, expire() runs its scripts only if the lease is still this
   * instance's (the fence), so a holder that paused past its lease cannot sweep alongside the next one.
   */
  async claimExpiry(holdMs: number): Promise<boolean> {
    const held =
      Number(
        await this.#run(
          SCRIPTS.lease,
          [this.#globalKey('expiry-lease'), this.#globalKey('expiry-term')],
          [this.#instance, String(Math.max(1, Math.round(holdMs)))],
        ),
      ) === 1;
    this.#expiryFence = held ? this.#instance : '';
    return held;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    if (this.#expiryFence !== '') {
      await this.#run(SCRIPTS.release, [this.#globalKey('expiry-lease')], [this.#instance]).catch(() => {});
    }
    await Promise.allSettled([this.#subscriber.close(), this.#client.close()]);
  }

  /** Deletes every key of this store (tests). */
  async clear(): Promise<void> {
    for await (const keys of this.#client.scanIterator({ MATCH: `${this.#prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await this.#client.del(keys.map(String));
    }
  }

  async #swarmsByRecency(limit: number): Promise<string[]> {
    const raw = (await this.#call(() =>
      this.#client.zRange(this.#globalKey('swarms'), 0, limit - 1),
    )) as unknown as Buffer[];
    return raw.map(String);
  }

  async #readCounts(infoHash: string) {
    const reply = (await this.#run(SCRIPTS.readCounts, this.#swarmKeys(infoHash).slice(0, 2), [])) as
      | [number, number, number, number, number, Buffer]
      | null;
    if (reply === null) return undefined;
    const [seeds, peers, downloaded, version, networkPeers, pieceCount] = reply;
    return {
      seeds,
      peers,
      downloaded,
      version,
      networkPeers,
      pieceCount: pieceCount.length === 0 ? null : Number(String(pieceCount)),
    };
  }

  /** EVALSHA, loading the script when Redis does not have it (first use, or a Redis restarted empty). */
  async #run(script: Script, keys: string[], args: Array<string | Buffer>): Promise<unknown> {
    return this.#call(async () => {
      try {
        return await this.#client.evalSha(script.sha, { keys, arguments: args });
      } catch (err) {
        if (!(err instanceof ErrorReply) || !err.message.startsWith('NOSCRIPT')) throw err;
        return await this.#client.eval(script.source, { keys, arguments: args });
      }
    });
  }

  /** Runs a command; Redis away (or answering "not now") becomes EDGEPEER_STATE_UNREACHABLE. */
  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      if (err instanceof ErrorReply && !UNAVAILABLE_REPLY.test(err.message)) throw err;
      throw new StateUnreachableError(`tracker state in Redis at ${this.#url}: ${(err as Error).message}`, {
        subject: this.#url,
        cause: err,
      });
    }
  }

  /** Tells this process's listeners at once, and the other instances through the channel. */
  #tell(infoHash: string, version: number): void {
    for (const listener of [...this.#listeners]) listener(infoHash, version);
    this.#client.publish(this.#globalKey('changes'), `${this.#instance} ${infoHash} ${version}`).catch(() => {});
  }

  #onPublished(raw: Buffer | string): void {
    const [from, infoHash, version] = String(raw).split(' ');
    if (from === this.#instance || infoHash === undefined || version === undefined) return;
    for (const listener of [...this.#listeners]) listener(infoHash, Number(version));
  }

  /** The keys of one swarm, then the tracker-wide ones, in the order the scripts take them. */
  #swarmKeys(infoHash: string): string[] {
    const swarm = `${this.#prefix}{s:${infoHash}}:`;
    return [
      `${swarm}meta`,
      `${swarm}peers`,
      `${swarm}seen`,
      `${swarm}bitmaps`,
      `${swarm}copies`,
      `${swarm}webs`,
      `${swarm}sel`,
      this.#globalKey('swarms'),
      this.#globalKey('expiry'),
      this.#globalKey('addr'),
      this.#globalKey('net'),
      this.#globalKey('counts'),
    ];
  }

  #globalKey(name: string): string {
    return `${this.#prefix}{t}:${name}`;
  }
}

type AnnounceReply = [
  failure: Buffer,
  seeds: number,
  leechers: number,
  downloaded: number,
  version: number,
  changed: number,
  warnings: Buffer[],
  pieceCount: Buffer,
  size: Buffer,
  kind: Buffer,
  held: Buffer,
  keptBits: Buffer,
  webs: Buffer[],
];

function emptyOutcome(warnings: string[]): AnnounceOutcome {
  return {
    complete: 0,
    incomplete: 0,
    downloaded: 0,
    peers: [],
    urlList: [],
    pieceUrls: [],
    warnings,
    version: 0,
    changed: false,
  };
}

/** Field-value pairs of a reply, flat (RESP2) or as pairs (RESP3). */
function pairs(reply: unknown): Array<[Buffer, Buffer]> {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  if (Array.isArray(reply[0])) return reply as Array<[Buffer, Buffer]>;
  const out: Array<[Buffer, Buffer]> = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push([reply[i] as Buffer, reply[i + 1] as Buffer]);
  return out;
}

/**
 * A candidate from the announce's sample: "left|kind|held|" and the bytes of its peer id, after "pN@F|" (its
 * PID number N under the map of fingerprint F) when a tracker with maps wrote it.
 */
class SampledPeer implements CandidatePeer {
  readonly key: string;
  readonly keyBytes: Buffer;
  readonly family: 4 | 6;
  readonly left: number;
  holding: Holding;
  /** Set when the kept number belongs to the map in use (`fingerprint`); else the locality looks it up. */
  pidNumber?: number;
  readonly #value: Buffer;
  readonly #peerIdAt: number;

  // Read from the bytes: a hundred of these per announce, so no intermediate strings (measured: building
  // them from latin1 strings took about a sixth of the store's CPU).
  constructor(keyBytes: Buffer, value: Buffer, fingerprint?: string) {
    this.keyBytes = keyBytes;
    this.key = latin1(keyBytes, 0, keyBytes.length);
    this.family = keyBytes.length === 6 ? 4 : 6;
    this.#value = value;
    let at = 0;
    if (value[0] === LOCATION) {
      const atSign = value.indexOf(AT);
      const bar = value.indexOf(BAR, atSign);
      if (fingerprint !== undefined && atSign > 0 && value.toString('latin1', atSign + 1, bar) === fingerprint) {
        this.pidNumber = Number(value.toString('latin1', 1, atSign));
      }
      at = bar + 1;
    }
    let left = 0;
    for (let byte = value[at]; byte !== undefined && byte !== BAR; byte = value[++at]) left = left * 10 + byte - 48;
    this.left = left;
    const kind = value[at + 1];
    at += 3;
    let held = 0;
    for (let byte = value[at]; byte !== undefined && byte !== BAR; byte = value[++at]) held = held * 10 + byte - 48;
    this.#peerIdAt = at + 1;
    this.holding =
      kind === KIND_FULL
        ? { kind: 'full' }
        : kind === KIND_BITMAP
          ? { kind: 'bitmap', bitmap: new Uint8Array(), held }
          : { kind: 'unknown' };
  }

  get compact(): string {
    return this.key;
  }

  get port(): number {
    return this.keyBytes.readUInt16BE(this.keyBytes.length - 2);
  }

  get peerId(): string {
    return latin1(this.#value, this.#peerIdAt, this.#value.length);
  }

  get ip(): string {
    return bytesToIp(this.keyBytes.subarray(0, this.keyBytes.length - 2));
  }
}

const BAR = 0x7c;
const LOCATION = 0x70; // 'p'
const AT = 0x40; // '@'
const KIND_FULL = 0x66; // 'f'
const KIND_BITMAP = 0x62; // 'b'

/** Bytes as a latin1 string; short ones without a call into C++ (which costs more than the copy). */
function latin1(bytes: Buffer, start: number, end: number): string {
  if (end - start > 32) return bytes.toString('latin1', start, end);
  let text = '';
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

/**
 * A peer's record as the scripts store it: "peerIdHex|left|up|down|lastSeen|net|kind|held|urls", keyed by
 * its compact address and port. The address text and the peer id are made only when an answer needs them.
 */
class StoredPeer implements PeerRecord {
  readonly key: string;
  readonly compact: string;
  readonly keyBytes: Buffer;
  readonly family: 4 | 6;
  readonly port: number;
  readonly left: number;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly lastSeen: number;
  readonly network: boolean;
  readonly urls: string[];
  readonly index: number;
  holding: Holding;
  readonly #peerIdHex: string;

  constructor(keyBytes: Buffer, raw: Buffer, index: number, bitmaps?: Map<string, Buffer>) {
    this.keyBytes = keyBytes;
    this.key = keyBytes.toString('latin1');
    this.compact = this.key;
    this.index = index;
    const addressLength = keyBytes.length - 2;
    this.family = addressLength === 4 ? 4 : 6;
    this.port = keyBytes.readUInt16BE(addressLength);
    const text = raw.toString('latin1');
    const fields: string[] = [];
    let at = 0;
    for (let i = 0; i < 8; i++) {
      const bar = text.indexOf('|', at);
      fields.push(text.slice(at, bar));
      at = bar + 1;
    }
    const [peerIdHex = '', left = '0', uploaded = '0', downloaded = '0', lastSeen = '0', network, kind, held] = fields;
    this.#peerIdHex = peerIdHex;
    this.left = Number(left);
    this.uploaded = Number(uploaded);
    this.downloaded = Number(downloaded);
    this.lastSeen = Number(lastSeen);
    this.network = network === '1';
    const urls = text.slice(at);
    this.urls = urls.length === 0 ? [] : Buffer.from(urls, 'latin1').toString('utf8').split('\n');
    this.holding =
      kind === 'f'
        ? { kind: 'full' }
        : kind === 'b'
          ? { kind: 'bitmap', bitmap: bitmaps?.get(this.key) ?? new Uint8Array(), held: Number(held) }
          : { kind: 'unknown' };
  }

  get peerId(): string {
    return Buffer.from(this.#peerIdHex, 'hex').toString('latin1');
  }

  get ip(): string {
    return bytesToIp(this.keyBytes.subarray(0, this.keyBytes.length - 2));
  }
}
