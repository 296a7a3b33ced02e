#!/usr/bin/env bash
# HTTP range serving of a 1 GiB object on loopback: the agent's HTTP server (src/http over the real store
# and piece cache, 1 MiB pieces) against nginx (sendfile on) serving the same file, in the same run.
# Load: wrk, random `Range: bytes=a-b` requests aligned to their length, 16 KiB and 1 MiB, 64 connections,
# 2 threads. The agent runs twice: with a piece cache that holds the whole object ("fits") and with one
# that holds half of it ("small"; every miss reads a whole piece from disk and checks its SHA-1).
# Same approach and wrk script as ../shared/bench/anchors/03_http_range.sh. wrk shares the CPUs.
# usage: bash scripts/bench/http.sh
#   env: RUNS=3 DURATION=15s WARMUP=10s CONNS=64 WRK_THREADS=2 SIZE_MIB=1024 HTTP_THREADS=2
#        FIT_CACHE_MIB=1280 SMALL_CACHE_MIB=512 SERVERS="nginx fit small" DATA_DIR=/tmp/edgepeer-bench-data
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
RUNS="${RUNS:-3}"; DURATION="${DURATION:-15s}"; WARMUP="${WARMUP:-10s}"; CONNS="${CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-2}"; SIZE_MIB="${SIZE_MIB:-1024}"; HTTP_THREADS="${HTTP_THREADS:-2}"
FIT_CACHE_MIB="${FIT_CACHE_MIB:-1280}"; SMALL_CACHE_MIB="${SMALL_CACHE_MIB:-512}"
SERVERS="${SERVERS:-nginx fit small}"
DATA_DIR="${DATA_DIR:-/tmp/edgepeer-bench-data}"
NODE="$ROOT/node_modules/.bin/node"

for tool in nginx wrk curl openssl ss; do
  command -v "$tool" >/dev/null || { echo "http.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
[ -x "$NODE" ] || { echo "http.sh needs the project's Node (npm ci)" >&2; exit 1; }

mkdir -p "$DATA_DIR"
SCRATCH="$(mktemp -d "$DATA_DIR/run.XXXXXX")" # same filesystem as the data: the store hard-links it
SRV_PID=""
cleanup() {
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

F="$DATA_DIR/random_${SIZE_MIB}MiB.bin"
if [ ! -f "$F" ] || [ "$(stat -c %s "$F")" != "$((SIZE_MIB * 1024 * 1024))" ]; then
  echo "# creating $F ($SIZE_MIB MiB random)..." >&2
  head -c "$((SIZE_MIB * 1024 * 1024))" < <(openssl enc -aes-128-ctr -nosalt -pass pass:edgepeer -in /dev/zero 2>/dev/null) >"$F.tmp"
  mv "$F.tmp" "$F"
fi
BYTES="$(stat -c %s "$F")"; NAME="$(basename "$F")"
chmod a+rx "$DATA_DIR"; chmod a+r "$F" # nginx workers run as an unprivileged user
cat "$F" >/dev/null                     # warm in the page cache

free_port() { local p="$1"; while [ -n "$(ss -Htln "( sport = :$p )" 2>/dev/null)" ]; do p=$((p + 1)); done; echo "$p"; }
median() { sort -g | awk '{a[NR]=$1} END{ if(NR==0){print "NA"; exit} if(NR%2){print a[(NR+1)/2]} else {printf "%.6g\n",(a[NR/2]+a[NR/2+1])/2} }'; }

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc); $(uname -sr); node $("$NODE" --version); $(nginx -v 2>&1 | cut -d' ' -f3); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "# file $BYTES bytes; wrk -t$WRK_THREADS -c$CONNS -d$DURATION (warm-up $WARMUP); runs $RUNS; agent: $HTTP_THREADS HTTP threads, caches fit=${FIT_CACHE_MIB} MiB small=${SMALL_CACHE_MIB} MiB (per thread)"
echo "# loadavg at start: $(cut -d' ' -f1 /proc/loadavg)"

start_server() { # kind -> sets SRV_PID, PORT, URL_PATH
  PORT="$(free_port 18090)"
  case "$1" in
    nginx)
      sed -e "s#@ROOT@#$DATA_DIR#g" -e "s#@PORT@#$PORT#g" -e "s#@SCRATCH@#$SCRATCH#g" "$HERE/http-nginx.conf.in" >"$SCRATCH/nginx.conf"
      nginx -p "$SCRATCH" -c "$SCRATCH/nginx.conf" -g 'daemon off;' &
      SRV_PID=$!
      URL_PATH="/$NAME"
      for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done ;;
    fit | small)
      local cache_mib="$FIT_CACHE_MIB"; [ "$1" = small ] && cache_mib="$SMALL_CACHE_MIB"
      "$NODE" "$HERE/http-serve.ts" "$F" "$SCRATCH/store" "$PORT" "$cache_mib" "$HTTP_THREADS" >"$SCRATCH/agent.log" 2>&1 &
      SRV_PID=$!
      for _ in $(seq 600); do grep -q '^READY' "$SCRATCH/agent.log" && break; sleep 0.1; done
      grep -q '^READY' "$SCRATCH/agent.log" || { echo "agent did not start" >&2; cat "$SCRATCH/agent.log" >&2; exit 1; }
      URL_PATH="$(awk '/^READY/{print $3}' "$SCRATCH/agent.log")" ;;
  esac
}
stop_server() { kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=""; }

check_range() { # fetch one range and compare it with the file
  local a=$((123 * 16384)) len=16384 got want
  got="$(curl -s -H "Range: bytes=$a-$((a + len - 1))" "http://127.0.0.1:$PORT$URL_PATH" | sha1sum | cut -d' ' -f1)"
  want="$(dd if="$F" bs="$len" skip=$((a / len)) count=1 status=none | sha1sum | cut -d' ' -f1)"
  [ "$got" = "$want" ] || { echo "range check FAILED for $1" >&2; exit 1; }
}

wrk_run() { # duration range_len -> RESULT line
  FILE_SIZE=$BYTES RANGE_LEN=$2 wrk -t"$WRK_THREADS" -c"$CONNS" -d"$1" --timeout 10s -s "$HERE/http-range.lua" \
    "http://127.0.0.1:$PORT$URL_PATH" | grep '^RESULT'
}

declare -A RPS MBS
printf '%-6s %-7s %10s %9s %8s %8s  %s\n' server range "req/s" "MB/s" "p50_ms" "p99_ms" "req/s per run; errors"
for server in $SERVERS; do
  start_server "$server"
  check_range "$server"
  # the agent's caches fill (or reach their steady state) before the measured runs: 1 MiB ranges fill
  # them fastest, and every HTTP thread has its own cache
  [ "$server" = nginx ] || wrk_run "$WARMUP" 1048576 >/dev/null
  for len in 16384 1048576; do
    rps=(); mbs=(); p50=(); p99=(); errs=""
    for _ in $(seq "$RUNS"); do
      line="$(wrk_run "$DURATION" "$len")"
      eval "$(echo "${line#RESULT }" | tr ' ' '\n' | sed 's/^/r_/')"
      rps+=("$(awk -v n="$r_requests" -v d="$r_duration_us" 'BEGIN{printf "%.0f", n/(d/1e6)}')")
      mbs+=("$(awk -v n="$r_requests" -v d="$r_duration_us" -v l="$len" 'BEGIN{printf "%.1f", n*l/(d/1e6)/1e6}')")
      p50+=("$r_lat_p50_us"); p99+=("$r_lat_p99_us")
      errs="$errs $((r_err_connect + r_err_read + r_err_write + r_err_status + r_err_timeout))"
    done
    RPS[$server.$len]="$(printf '%s\n' "${rps[@]}" | median)"
    MBS[$server.$len]="$(printf '%s\n' "${mbs[@]}" | median)"
    printf '%-6s %-7s %10s %9s %8.2f %8.2f  %s; errors:%s\n' "$server" "$((len / 1024))KiB" "${RPS[$server.$len]}" \
      "${MBS[$server.$len]}" "$(printf '%s\n' "${p50[@]}" | median | awk '{print $1/1000}')" \
      "$(printf '%s\n' "${p99[@]}" | median | awk '{print $1/1000}')" "${rps[*]}" "$errs"
  done
  stop_server
done
echo "# loadavg at end: $(cut -d' ' -f1 /proc/loadavg)"
if [[ " $SERVERS " == *" nginx "* ]]; then
  for server in fit small; do
    [[ " $SERVERS " == *" $server "* ]] || continue
    for len in 16384 1048576; do
      awk -v a="${RPS[$server.$len]}" -v n="${RPS[nginx.$len]}" -v s="$server" -v l="$((len / 1024))KiB" \
        'BEGIN{printf "# ratio agent(%s)/nginx %s: %.2fx (req/s and MB/s alike: same range length)\n", s, l, a/n}'
    done
  done
fi
