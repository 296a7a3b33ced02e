-- wrk script (as ../shared/bench/anchors/http/range.lua): GET random `Range: bytes=a-b` slices of one file.
-- env: FILE_SIZE (bytes, required), RANGE_LEN (bytes, default 16384). Ranges are aligned to
-- RANGE_LEN, like BitTorrent blocks/pieces. Prints one machine-readable RESULT line at the end.
local size = tonumber(os.getenv("FILE_SIZE"))
local len = tonumber(os.getenv("RANGE_LEN") or "16384")
local slots = math.floor(size / len)

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  local a = math.random(0, slots - 1) * len
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. a .. "-" .. (a + len - 1) })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d bytes=%d duration_us=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d lat_p50_us=%d lat_p99_us=%d\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
