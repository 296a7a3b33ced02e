#!/usr/bin/env bash
# HTTP serving on threads (http.threads): what a second serving thread sharing the port and one piece slab
# costs per request, and what it buys. The agent's HTTP server (scripts/bench/http-serve.mjs, as built)
# serves a 1 GiB object, 1 MiB pieces, a cache that holds it all, random 16 KiB ranges from wrk:
#   t1     one thread, the one-thread cache (the agent's default: http.threads 1)
#   slab1  one thread over the shared slab (the slab's cost without a second thread)
#   t2     two threads on one port (SO_REUSEPORT), one shared slab (http.threads 2)
# Phase 1, as the machine is (no pinning): rounds interleaved t1, slab1, t2; req/s and the server's CPU per
# request (utime+stime of all its threads over the run / requests). wrk shares the 2 cores with the server,
# so req/s cannot show a second thread's gain here; CPU per request shows what sharing costs (goal: t2
# within 5 % of t1).
# Phase 2, pinned (taskset): the server's threads all on CPU 1, wrk on CPU 0: a core's worth of serving
# with one thread and with two threads taking turns on it. With a core per serving thread (a 4-core
# machine: 2 for the server, 2 for wrk), two threads serve 2 x the one-thread rate divided by the CPU per
# request ratio t2/t1; the script prints that estimate.
# After each phase every server says how many requests each of its threads answered (both must serve).
# Then the same for the peer wire (peer.threads 1 vs 2, free and pinned): scripts/bench/wire-threads.ts, CPU
# per 16 KiB block and MB/s. WIRE=0 skips it, WIRE=only runs it alone; WIRE_MIB (1024) per run.
# usage: bash scripts/bench/serving-threads.sh
#   env: RUNS=3 DURATION=10s WARMUP=8s CONNS=64 WRK_THREADS=2 SIZE_MIB=1024 CACHE_MIB=1280 SERVERS="t1 slab1 t2"
#        PIN=1 (0: skip phase 2) DATA_DIR=/tmp/edgepeer-bench-data BASE_ROOT=(a built checkout to compare with)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
RUNS="${RUNS:-3}"; DURATION="${DURATION:-10s}"; WARMUP="${WARMUP:-8s}"; CONNS="${CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-2}"; SIZE_MIB="${SIZE_MIB:-1024}"; CACHE_MIB="${CACHE_MIB:-1280}"
SERVERS="${SERVERS:-t1 slab1 t2}"; PIN="${PIN:-1}"; BASE_ROOT="${BASE_ROOT:-}"
# With BASE_ROOT (a checkout of an earlier commit, built), each server also runs as built there (base-t1,
# base-slab1, base-t2), in the same rounds: a change's before and after under the same load.
if [ -n "$BASE_ROOT" ]; then
  [ -f "$BASE_ROOT/dist/src/http/index.js" ] || { echo "BASE_ROOT $BASE_ROOT has no build (npm run build there)" >&2; exit 1; }
  for server in $SERVERS; do BASE_SERVERS="${BASE_SERVERS:-} base-$server"; done
  SERVERS="$SERVERS$BASE_SERVERS"
fi
DATA_DIR="${DATA_DIR:-/tmp/edgepeer-bench-data}"
NODE="$ROOT/node_modules/.bin/node"
LEN=16384
WIRE="${WIRE:-1}"; WIRE_MIB="${WIRE_MIB:-1024}"
if [ "$WIRE" = only ]; then
  echo "# peer.threads: node scripts/bench/wire-threads.ts $WIRE_MIB (ROUNDS=$RUNS PIN=$PIN)"
  ROUNDS="$RUNS" PIN="$PIN" DATA_DIR="$DATA_DIR" exec "$NODE" "$HERE/wire-threads.ts" "$WIRE_MIB"
fi

for tool in wrk curl openssl ss taskset; do
  command -v "$tool" >/dev/null || { echo "serving-threads.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "serving-threads.sh needs 2 CPUs" >&2; exit 1; }

mkdir -p "$DATA_DIR"
(cd "$ROOT" && npm run --silent build >/dev/null 2>&1) || echo "# warning: npm run build reported errors (measuring dist/ as emitted)"
SCRATCH="$(mktemp -d "$DATA_DIR/run.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

F="$DATA_DIR/random_${SIZE_MIB}MiB.bin"
if [ ! -f "$F" ] || [ "$(stat -c %s "$F")" != "$((SIZE_MIB * 1024 * 1024))" ]; then
  echo "# creating $F ($SIZE_MIB MiB random)..." >&2
  head -c "$((SIZE_MIB * 1024 * 1024))" < <(openssl enc -aes-128-ctr -nosalt -pass pass:edgepeer -in /dev/zero 2>/dev/null) >"$F.tmp"
  mv "$F.tmp" "$F"
fi
BYTES="$(stat -c %s "$F")"
cat "$F" >/dev/null

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # median, free_port

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc); $(uname -sr); node $("$NODE" --version); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "# file $BYTES bytes, 16 KiB random ranges; wrk -t$WRK_THREADS -c$CONNS -d$DURATION (caches filled, then warm-up $WARMUP); runs $RUNS; cache ${CACHE_MIB} MiB"
echo "# loadavg at start: $(cut -d' ' -f1 /proc/loadavg)"

declare -A PORT URL_PATH SERVER_PID LOG
start_server() {
  local kind="$1" port threads=1 slab=0
  port="$(free_port $((18190 + ${#PIDS[@]} * 10)))"
  PORT[$kind]="$port"
  local serve="$HERE/http-serve.mjs"
  # base-*: the same server as built in BASE_ROOT (another checkout, built): before/after in one run.
  [[ "$kind" == base-* ]] && serve="$BASE_ROOT/scripts/bench/http-serve.mjs"
  case "${kind#base-}" in t1) ;; slab1) slab=1 ;; t2) threads=2 ;; *) echo "unknown server $kind" >&2; exit 2 ;; esac
  LOG[$kind]="$SCRATCH/$kind.log"
  THREADS="$threads" SLAB="$slab" "$NODE" "$serve" "$F" "$SCRATCH/store-$kind" "$port" "$CACHE_MIB" >"${LOG[$kind]}" 2>&1 &
  PIDS+=($!); SERVER_PID[$kind]=$!
  for _ in $(seq 900); do grep -q '^READY' "${LOG[$kind]}" && break; sleep 0.1; done
  grep -q '^READY' "${LOG[$kind]}" || { echo "server $kind did not start" >&2; cat "${LOG[$kind]}" >&2; exit 1; }
  URL_PATH[$kind]="$(awk '/^READY/{print $3}' "${LOG[$kind]}")"
  local a=$((123 * LEN)) got want
  got="$(curl -s -H "Range: bytes=$a-$((a + LEN - 1))" "http://127.0.0.1:$port${URL_PATH[$kind]}" | sha1sum | cut -d' ' -f1)"
  want="$(dd if="$F" bs="$LEN" skip=$((a / LEN)) count=1 status=none | sha1sum | cut -d' ' -f1)"
  [ "$got" = "$want" ] || { echo "range check FAILED for $kind" >&2; exit 1; }
}

CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { local fields; fields="$(cat "/proc/$1/stat")"; fields="${fields##*) }"; echo "$fields" | awk '{print $12 + $13}'; }

wrk_run() { # kind duration range_len [cpu list for wrk]
  local pin=()
  [ -n "${4:-}" ] && pin=(taskset -c "$4")
  FILE_SIZE=$BYTES RANGE_LEN=$3 "${pin[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$2" --timeout 10s -s "$HERE/http-range.lua" \
    "http://127.0.0.1:${PORT[$1]}${URL_PATH[$1]}" | grep '^RESULT'
}

threads_served() { # kind: requests per thread so far, from the server
  local before
  before="$(grep -c '^THREADS' "${LOG[$1]}" || true)"
  kill -USR2 "${SERVER_PID[$1]}"
  for _ in $(seq 100); do [ "$(grep -c '^THREADS' "${LOG[$1]}" || true)" -gt "$before" ] && break; sleep 0.05; done
  grep '^THREADS' "${LOG[$1]}" | tail -1 | cut -d' ' -f2-
}

declare -A RPS_RUNS CPU_RUNS
measure() { # phase kind [wrk cpus]
  local ticks_before ticks_after line key="$1.$2"
  ticks_before="$(cpu_ticks "${SERVER_PID[$2]}")"
  line="$(wrk_run "$2" "$DURATION" "$LEN" "${3:-}")"
  ticks_after="$(cpu_ticks "${SERVER_PID[$2]}")"
  eval "$(echo "${line#RESULT }" | tr ' ' '\n' | sed 's/^/r_/')"
  [ "$((r_err_connect + r_err_read + r_err_write + r_err_status + r_err_timeout))" = 0 ] || echo "# $key: wrk counted errors: $line" >&2
  CPU_RUNS[$key]="${CPU_RUNS[$key]:-} $(awk -v t="$((ticks_after - ticks_before))" -v hz="$CLK_TCK" -v n="$r_requests" 'BEGIN{printf "%.2f", (n > 0 ? t * 1e6 / hz / n : 0)}')"
  RPS_RUNS[$key]="${RPS_RUNS[$key]:-} $(awk -v n="$r_requests" -v d="$r_duration_us" 'BEGIN{printf "%.0f", n/(d/1e6)}')"
}

report() { # phase
  printf '%-7s %-7s %10s %11s  %s\n' phase server "req/s" "cpu_us/req" "req/s per run; cpu_us/req per run; requests per thread"
  for server in $SERVERS; do
    local key="$1.$server"
    printf '%-7s %-7s %10s %11s  %s; %s; %s\n' "$1" "$server" "$(printf '%s\n' ${RPS_RUNS[$key]} | median)" \
      "$(printf '%s\n' ${CPU_RUNS[$key]} | median)" "${RPS_RUNS[$key]# }" "${CPU_RUNS[$key]# }" "$(threads_served "$server")"
  done
}

ratio() { # phase a b what: median of per-round ratios a/b of what (RPS or CPU)
  local -n runs="$4"
  paste -d' ' <(printf '%s\n' ${runs[$1.$2]}) <(printf '%s\n' ${runs[$1.$3]}) | awk '$2 > 0 {printf "%.4f\n", $1 / $2}' | median
}

fill_cache() { # kind: every MiB of the object once, in one curl on one connection, so the cache holds it all
  local config="$SCRATCH/fill-$1.curl" offset
  : >"$config"
  for ((offset = 0; offset < BYTES; offset += 1048576)); do
    [ "$offset" = 0 ] || echo next >>"$config"
    printf 'url = "http://127.0.0.1:%s%s"\nrange = "%s-%s"\noutput = "/dev/null"\n' "${PORT[$1]}" "${URL_PATH[$1]}" \
      "$offset" "$((offset + 1048576 - 1))" >>"$config"
  done
  curl -s -K "$config"
}

for server in $SERVERS; do start_server "$server"; done
# Caches filled first (a cold miss reads and hashes a whole piece: a warm-up of random ranges under load
# left some servers cold in their first measured round), then wrk warms the code paths.
for server in $SERVERS; do fill_cache "$server"; wrk_run "$server" "$WARMUP" "$LEN" >/dev/null; done

for _ in $(seq "$RUNS"); do for server in $SERVERS; do measure free "$server"; done; done
report free
if [[ " $SERVERS " == *" t1 "* && " $SERVERS " == *" t2 "* ]]; then
  printf '# ratio t2/t1 (free): CPU per request %.3fx, req/s %.3fx (median of per-round ratios)\n' \
    "$(ratio free t2 t1 CPU_RUNS)" "$(ratio free t2 t1 RPS_RUNS)"
fi
if [[ " $SERVERS " == *" slab1 "* && " $SERVERS " == *" t1 "* ]]; then
  printf '# ratio slab1/t1 (free): CPU per request %.3fx, req/s %.3fx\n' "$(ratio free slab1 t1 CPU_RUNS)" "$(ratio free slab1 t1 RPS_RUNS)"
fi
if [[ " $SERVERS " == *" slab1 "* && " $SERVERS " == *" t2 "* ]]; then
  printf '# ratio t2/slab1 (free): CPU per request %.3fx, req/s %.3fx\n' "$(ratio free t2 slab1 CPU_RUNS)" "$(ratio free t2 slab1 RPS_RUNS)"
fi
base_ratios() { # phase: each server against its base, and the base's own t2/t1 and slab1/t1
  [ -n "$BASE_ROOT" ] || return 0
  for server in t1 slab1 t2; do
    [[ " $SERVERS " == *" $server "* ]] || continue
    printf '# ratio %s/base-%s (%s): CPU per request %.3fx, req/s %.3fx\n' "$server" "$server" "$1" \
      "$(ratio "$1" "$server" "base-$server" CPU_RUNS)" "$(ratio "$1" "$server" "base-$server" RPS_RUNS)"
  done
  for pair in "t2 t1" "slab1 t1"; do
    set -- "$1" $pair
    [[ " $SERVERS " == *" base-$2 "* && " $SERVERS " == *" base-$3 "* ]] || continue
    printf '# ratio base-%s/base-%s (%s): CPU per request %.3fx\n' "$2" "$3" "$1" "$(ratio "$1" "base-$2" "base-$3" CPU_RUNS)"
  done
}
base_ratios free
echo "# loadavg after phase free: $(cut -d' ' -f1 /proc/loadavg)"

if [ "$PIN" = 1 ]; then
  # Every thread of every server (node's, the hashing pool's, libuv's) on CPU 1; wrk on CPU 0.
  for server in $SERVERS; do taskset -a -p -c 1 "${SERVER_PID[$server]}" >/dev/null; done
  for _ in $(seq "$RUNS"); do for server in $SERVERS; do measure pinned "$server" 0; done; done
  report pinned
  if [[ " $SERVERS " == *" t1 "* && " $SERVERS " == *" t2 "* ]]; then
    cpu_ratio="$(ratio pinned t2 t1 CPU_RUNS)"
    rps_ratio="$(ratio pinned t2 t1 RPS_RUNS)"
    free_ratio="$(ratio free t2 t1 CPU_RUNS)"
    one="$(printf '%s\n' ${RPS_RUNS[pinned.t1]} | median)"
    printf '# ratio t2/t1 (pinned, both on one core): req/s %.3fx, CPU per request %.3fx\n' "$rps_ratio" "$cpu_ratio"
    # Each thread on a core of its own serves at one thread's pinned rate, over the CPU per request ratio of
    # two threads on separate cores (phase free).
    printf '# estimate for a core per serving thread (4 cores: 2 server, 2 wrk): t1 %s req/s, t2 %.0f req/s = %.2fx\n' \
      "$one" "$(awk -v o="$one" -v c="$free_ratio" 'BEGIN{print 2 * o / c}')" "$(awk -v c="$free_ratio" 'BEGIN{print 2 / c}')"
  fi
  if [[ " $SERVERS " == *" slab1 "* && " $SERVERS " == *" t1 "* ]]; then
    printf '# ratio slab1/t1 (pinned): CPU per request %.3fx, req/s %.3fx\n' "$(ratio pinned slab1 t1 CPU_RUNS)" "$(ratio pinned slab1 t1 RPS_RUNS)"
  fi
  base_ratios pinned
  echo "# loadavg after phase pinned: $(cut -d' ' -f1 /proc/loadavg)"
fi

if [ "$WIRE" = 1 ]; then
  cleanup; PIDS=() # the HTTP servers' memory back before the wire's servers start
  echo "# peer.threads: node scripts/bench/wire-threads.ts $WIRE_MIB (ROUNDS=$RUNS PIN=$PIN)"
  ROUNDS="$RUNS" PIN="$PIN" DATA_DIR="$DATA_DIR" "$NODE" "$HERE/wire-threads.ts" "$WIRE_MIB"
fi
