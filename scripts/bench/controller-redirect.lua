-- wrk script for scripts/bench/controller.sh: GET /pieces/<info hash>/<n> of random objects and pieces from
-- the controller's HTTP port, which answers each with a 302 to an edge holding the piece (wrk does not
-- follow it). env: OBJECTS_FILE (lines "<info hash> <pieces held>": pieces 0 .. held-1 are asked).
-- Prints one machine-readable RESULT line at the end.
local hashes, held = {}, {}

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  for line in io.lines(os.getenv("OBJECTS_FILE")) do
    local hash, count = line:match("^(%x+) (%d+)$")
    if hash then
      hashes[#hashes + 1] = hash
      held[#held + 1] = tonumber(count)
    end
  end
end

function request()
  local i = math.random(1, #hashes)
  return wrk.format("GET", "/pieces/" .. hashes[i] .. "/" .. math.random(0, held[i] - 1))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d lat_p50_us=%d lat_p99_us=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
