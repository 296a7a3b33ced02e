-- wrk script: standard HTTP announces (BEP 3, compact) spread over SWARMS swarms of PEERS peers each.
-- env: SWARMS (1000), PEERS (100), SEEDS (20: peers 0..SEEDS-1 of each swarm announce left=0),
--      NUMWANT (50), MODE (random | fill: every swarm x peer pair in turn, to populate the tracker),
--      CLOSE (1: send `Connection: close`, one connection per announce, as BitTorrent clients do).
-- Info hash of swarm s: 16 bytes 0xED then s as 4 bytes big-endian (tracker.sh whitelists the same for
-- opentracker). Peer p of swarm s: peer id "-WK0001-" + 12 digits, port 10000 + p (opentracker keys peers
-- by address and port; every request comes from 127.0.0.1). Prints one RESULT line at the end.
local swarms = tonumber(os.getenv("SWARMS") or "1000")
local peers = tonumber(os.getenv("PEERS") or "100")
local seeds = tonumber(os.getenv("SEEDS") or "20")
local numwant = tonumber(os.getenv("NUMWANT") or "50")
local mode = os.getenv("MODE") or "random"
local headers = nil
if os.getenv("CLOSE") == "1" then headers = { ["Connection"] = "close" } end

local hashes = {}
local counter = 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  local prefix = string.rep("%ED", 16)
  for s = 0, swarms - 1 do
    hashes[s] = prefix .. string.format("%%%02X%%%02X%%%02X%%%02X",
      math.floor(s / 16777216) % 256, math.floor(s / 65536) % 256, math.floor(s / 256) % 256, s % 256)
  end
  -- Threads start at different points of the fill sequence.
  counter = (tonumber(tostring({}):sub(8), 16) or 0) % (swarms * peers)
end

function request()
  local s, p
  if mode == "fill" then
    s = math.floor(counter / peers) % swarms
    p = counter % peers
    counter = counter + 1
  else
    s = math.random(0, swarms - 1)
    p = math.random(0, peers - 1)
  end
  local left = 1000
  if p < seeds then left = 0 end
  local path = "/announce?info_hash=" .. hashes[s]
    .. "&peer_id=-WK0001-" .. string.format("%012d", s * peers + p)
    .. "&port=" .. (10000 + p)
    .. "&uploaded=0&downloaded=0&left=" .. left
    .. "&compact=1&numwant=" .. numwant
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d bytes=%d duration_us=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d lat_p50_us=%d lat_p99_us=%d\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
