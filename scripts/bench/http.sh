#!/usr/bin/env bash
# HTTP range serving of a 1 GiB object on loopback: the agent's HTTP server (src/http over the real store
# and piece cache, 1 MiB pieces) against nginx (sendfile on) serving the same file, in the same run.
# Load: wrk, random `Range: bytes=a-b` requests aligned to their length, 16 KiB and 1 MiB, 64 connections,
# 2 threads. The agent serves from its main thread, with one piece cache (as in the agent, where the wire
# server shares it), and runs twice: with a cache that holds the whole object ("fit") and with one that
# holds half of it ("small"; a miss on a verified piece reads the range straight from disk when it is at
# most DIRECT_READ_MAX bytes, else reads the whole piece and checks its SHA-1 on the hashing pool).
# Besides req/s, each run measures the server's CPU time per request: utime+stime of the server process
# (node: all its threads; nginx: master and workers) over the run, divided by the requests wrk counted.
# It is steadier than req/s on a shared machine, where wrk and the servers compete for the same CPUs.
# Same approach and wrk script as ../shared/bench/anchors/03_http_range.sh; all servers run at once and
# the measured runs are interleaved round by round. wrk shares the CPUs with the servers.
# usage: bash scripts/bench/http.sh
#   env: RUNS=3 DURATION=15s WARMUP=10s CONNS=64 WRK_THREADS=2 SIZE_MIB=1024 DIRECT_READ_MAX=(default)
#        FIT_CACHE_MIB=1280 SMALL_CACHE_MIB=512 SERVERS="nginx fit small" DATA_DIR=/tmp/edgepeer-bench-data
#   SERVERS may add fit-trust and small-trust: the agent with the former trusting verifyPolicy 'first-read'
#   instead of the default 'checksum', compared with the checked default at the end; and fit-qos and
#   small-qos: the agent with egress limits configured but not binding (QOS_SETTINGS, default a global,
#   per-protocol, per-object and per-client limit of 100 GB/s and two classes), compared with fit and small.
#   SERVERS may add fit-token and small-token: the agent requiring signed URL tokens (one token on every
#   request, as a web seed reuses its URL), compared with the same server without tokens at the end;
#   fit-acct and small-acct: the agent writing accounting records (one per response), compared alike.
#   PIN=1: every server's threads (nginx's workers too) on CPU 1 and wrk on CPU 0 (taskset), so that wrk and
#   the server never share a core: the CPU per request is then far steadier than when the scheduler moves
#   them (bimodal rounds, ±20 %, on 2 vCPUs), which is what a 3 % goal needs.
#   BASELINE=<git revision> adds fit-base and small-base (unless SERVERS names them): that revision's build,
#   in the same run and rounds, compared with the current tree at the end (a refactoring's before/after).
#   With BASELINE, SERVERS may name fit-acct-base (small-acct-base): the revision's build writing accounting
#   records, compared with fit-base as fit-acct is with fit (a change to accounting's before/after).
#   SERVERS may add nginx-log: nginx with an access log of JSON lines the size of the agent's accounting
#   record (NGINX_LOG_PAD bytes of padding to match; buffer=256k flush=1s, escape=json), compared with nginx:
#   the cost of writing that many bytes a request on this machine (page cache included), as a yardstick.
#   LENGTHS: the range lengths measured (default "16384 1048576").
#   TRACE_FILE: append a line per measured run (start and end, epoch seconds; server; round; requests; the
#   server's CPU ticks), to lay the rounds beside what the machine did meanwhile (/proc/vmstat, /proc/stat).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
RUNS="${RUNS:-3}"; DURATION="${DURATION:-15s}"; WARMUP="${WARMUP:-10s}"; CONNS="${CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-2}"; SIZE_MIB="${SIZE_MIB:-1024}"
FIT_CACHE_MIB="${FIT_CACHE_MIB:-1280}"; SMALL_CACHE_MIB="${SMALL_CACHE_MIB:-512}"
SERVERS="${SERVERS:-nginx fit small}"
DATA_DIR="${DATA_DIR:-/tmp/edgepeer-bench-data}"
BASELINE="${BASELINE:-}"; PIN="${PIN:-0}"; LENGTHS="${LENGTHS:-16384 1048576}"; NGINX_LOG_PAD="${NGINX_LOG_PAD:-0}"
QOS_SETTINGS="${QOS_SETTINGS:-{\"rate\":100000000000,\"httpRate\":100000000000,\"objectRate\":100000000000,\"clientRate\":100000000000,\"classes\":\"gold:3,bronze:1\"\}}"
[ -n "$BASELINE" ] && [[ "$SERVERS" != *-base* ]] && SERVERS="$SERVERS fit-base small-base"
NODE="$ROOT/node_modules/.bin/node"

for tool in nginx wrk curl openssl ss pgrep; do
  command -v "$tool" >/dev/null || { echo "http.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
[ -x "$NODE" ] || { echo "http.sh needs the project's Node (npm ci)" >&2; exit 1; }

mkdir -p "$DATA_DIR"
# Measure what ships: the build. (Other parts' type errors do not stop tsc from emitting dist/.)
(cd "$ROOT" && npm run --silent build >/dev/null 2>&1) || echo "# warning: npm run build reported errors (measuring dist/ as emitted)"
[ -f "$ROOT/dist/src/http/index.js" ] || { echo "build did not produce dist/src/http" >&2; exit 1; }
SCRATCH="$(mktemp -d "$DATA_DIR/run.XXXXXX")" # same filesystem as the data: the store hard-links it
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

BASE_DIR="$SCRATCH/baseline"
if [ -n "$BASELINE" ]; then
  # The revision's files as committed (no worktree, nothing changed in the repository), built with this
  # tree's node_modules.
  mkdir -p "$BASE_DIR"
  git -C "$ROOT" archive "$BASELINE" | tar -x -C "$BASE_DIR"
  ln -s "$ROOT/node_modules" "$BASE_DIR/node_modules"
  (cd "$BASE_DIR" && "$NODE" node_modules/.bin/tsc -p tsconfig.build.json >/dev/null 2>&1) ||
    echo "# warning: building $BASELINE reported errors (measuring its dist/ as emitted)"
  [ -f "$BASE_DIR/dist/src/http/index.js" ] || { echo "building $BASELINE produced no dist/src/http" >&2; exit 1; }
  echo "# baseline: $BASELINE = $(git -C "$ROOT" rev-parse --short "$BASELINE"), against $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src scripts || echo ' + uncommitted changes')"
fi

F="$DATA_DIR/random_${SIZE_MIB}MiB.bin"
if [ ! -f "$F" ] || [ "$(stat -c %s "$F")" != "$((SIZE_MIB * 1024 * 1024))" ]; then
  echo "# creating $F ($SIZE_MIB MiB random)..." >&2
  head -c "$((SIZE_MIB * 1024 * 1024))" < <(openssl enc -aes-128-ctr -nosalt -pass pass:edgepeer -in /dev/zero 2>/dev/null) >"$F.tmp"
  mv "$F.tmp" "$F"
fi
BYTES="$(stat -c %s "$F")"; NAME="$(basename "$F")"
chmod a+rx "$DATA_DIR"; chmod a+r "$F" # nginx workers run as an unprivileged user
cat "$F" >/dev/null                     # warm in the page cache

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # median, free_port

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc); $(uname -sr); node $("$NODE" --version); $(nginx -v 2>&1 | cut -d' ' -f3); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "# file $BYTES bytes; wrk -t$WRK_THREADS -c$CONNS -d$DURATION (warm-up $WARMUP); runs $RUNS; agent: main thread, cache fit=${FIT_CACHE_MIB} MiB small=${SMALL_CACHE_MIB} MiB, direct reads up to ${DIRECT_READ_MAX:-the default} bytes"
echo "# loadavg at start: $(cut -d' ' -f1 /proc/loadavg)"

declare -A PORT URL_PATH SERVER_PID
start_server() { # kind: starts it in the background, fills PORT[kind], URL_PATH[kind], SERVER_PID[kind]
  local kind="$1" port
  port="$(free_port $((18090 + ${#PIDS[@]} * 10)))"
  PORT[$kind]="$port"
  case "$kind" in
    nginx | nginx-log)
      local log="access_log off;" scratch="$SCRATCH/$kind"
      mkdir -p "$scratch"
      if [ "$kind" = nginx-log ]; then
        # Members alike the agent's accounting line (its field names; "pad" makes up the size difference).
        log="log_format acct escape=json '{\"seq\":\$connection_requests,\"date\":\"\$time_iso8601\",\"time\":\"\$msec\",\"time-taken\":\$request_time,\"c-ip\":\"\$remote_addr\",\"c-port\":\$remote_port,\"cs-method\":\"\$request_method\",\"u-uri\":\"\$request_uri\",\"protocol\":\"\$server_protocol\",\"sc-status\":\$status,\"sc-entity-bytes\":\$body_bytes_sent,\"cs(range)\":\"\$http_range\",\"source\":\"cache\",\"s-ccid\":\"\$request_id\",\"pad\":\"$(head -c "$NGINX_LOG_PAD" /dev/zero | tr '\0' x)\"}'; access_log $scratch/access.jsonl acct buffer=256k flush=1s;"
      fi
      sed -e "s#@ROOT@#$DATA_DIR#g" -e "s#@PORT@#$port#g" -e "s#@SCRATCH@#$scratch#g" -e "s#@ACCESS_LOG@#$log#" \
        "$HERE/http-nginx.conf.in" >"$scratch/nginx.conf"
      nginx -p "$scratch" -c "$scratch/nginx.conf" -g 'daemon off;' &
      PIDS+=($!); SERVER_PID[$kind]=$!
      URL_PATH[$kind]="/$NAME"
      for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done ;;
    fit | small | fit-trust | small-trust | fit-base | small-base | fit-qos | small-qos | fit-token | small-token | fit-acct | small-acct | fit-acct-base | small-acct-base)
      local cache_mib="$FIT_CACHE_MIB" verify=checksum serve="$HERE/http-serve.mjs" base="${kind%%-*}" qos="" token_key=""
      [ "$base" = small ] && cache_mib="$SMALL_CACHE_MIB"
      [ "${kind%-trust}" != "$kind" ] && verify=first-read
      [ "${kind%-base}" != "$kind" ] && serve="$BASE_DIR/scripts/bench/http-serve.mjs"
      [ "${kind%-qos}" != "$kind" ] && qos="$QOS_SETTINGS"
      if [ "${kind%-token}" != "$kind" ]; then token_key="$SCRATCH/url-token.key"; openssl rand -hex 32 >"$token_key"; fi
      local accounting_dir=""; [[ "$kind" == *-acct* ]] && accounting_dir="$SCRATCH/accounting-$kind"
      QOS="$qos" ACCOUNTING_DIR="$accounting_dir" TOKEN_KEY="$token_key" VERIFY="$verify" "$NODE" "$serve" "$F" "$SCRATCH/store-$kind" "$port" "$cache_mib" >"$SCRATCH/$kind.log" 2>&1 &
      PIDS+=($!); SERVER_PID[$kind]=$!
      for _ in $(seq 600); do grep -q '^READY' "$SCRATCH/$kind.log" && break; sleep 0.1; done
      grep -q '^READY' "$SCRATCH/$kind.log" || { echo "agent ($kind) did not start" >&2; cat "$SCRATCH/$kind.log" >&2; exit 1; }
      URL_PATH[$kind]="$(awk '/^READY/{print $3}' "$SCRATCH/$kind.log")" ;;
  esac
}

check_range() { # kind: fetch one range and compare it with the file
  local a=$((123 * 16384)) len=16384 got want
  got="$(curl -s -H "Range: bytes=$a-$((a + len - 1))" "http://127.0.0.1:${PORT[$1]}${URL_PATH[$1]}" | sha1sum | cut -d' ' -f1)"
  want="$(dd if="$F" bs="$len" skip=$((a / len)) count=1 status=none | sha1sum | cut -d' ' -f1)"
  [ "$got" = "$want" ] || { echo "range check FAILED for $1" >&2; exit 1; }
}

CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { # pid: utime+stime of the process (all its threads) and its children (nginx's workers), in ticks
  local pid total=0 fields
  for pid in "$1" $(pgrep -P "$1"); do
    fields="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
    fields="${fields##*) }" # comm may hold spaces; utime and stime are the 12th and 13th fields after it
    total=$((total + $(echo "$fields" | awk '{print $12 + $13}')))
  done
  echo "$total"
}

WRK_PIN=(); [ "$PIN" = 1 ] && WRK_PIN=(taskset -c 0)
wrk_run() { # kind duration range_len -> RESULT line
  FILE_SIZE=$BYTES RANGE_LEN=$3 "${WRK_PIN[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$2" --timeout 10s -s "$HERE/http-range.lua" \
    "http://127.0.0.1:${PORT[$1]}${URL_PATH[$1]}" | grep '^RESULT'
}

# All servers run at once (idle ones cost nothing); the measured runs are interleaved round by round, so
# load from elsewhere on a shared machine falls on all of them alike.
for server in $SERVERS; do start_server "$server"; check_range "$server"; done
if [ "$PIN" = 1 ]; then
  for server in $SERVERS; do
    for pid in "${SERVER_PID[$server]}" $(pgrep -P "${SERVER_PID[$server]}"); do taskset -a -p -c 1 "$pid" >/dev/null; done
  done
  echo "# pinned: servers on CPU 1, wrk on CPU 0"
fi
# The agent's caches fill (or reach their steady state) before the measured runs: 1 MiB ranges fill them
# fastest.
for server in $SERVERS; do [ "${server%-log}" = nginx ] || wrk_run "$server" "$WARMUP" 1048576 >/dev/null; done

declare -A RPS MBS RUNS_RPS P50 P99 ERRS CPU_US CPU
for len in $LENGTHS; do
  for run in $(seq "$RUNS"); do
    # Every other round in reverse order: a server measured always right after another would carry the
    # same share of whatever the machine does in that part of each round.
    order="$SERVERS"; [ $((run % 2)) = 0 ] && order="$(echo "$SERVERS" | tr ' ' '\n' | tac | tr '\n' ' ')"
    for server in $order; do
      ticks_before="$(cpu_ticks "${SERVER_PID[$server]}")"
      started_at="$(date +%s.%N)"
      line="$(wrk_run "$server" "$DURATION" "$len")"
      ticks_after="$(cpu_ticks "${SERVER_PID[$server]}")"
      eval "$(echo "${line#RESULT }" | tr ' ' '\n' | sed 's/^/r_/')"
      [ -z "${TRACE_FILE:-}" ] || echo "$started_at $(date +%s.%N) $server $run $r_requests $((ticks_after - ticks_before))" >>"$TRACE_FILE"
      key="$server.$len"
      CPU_US[$key]="${CPU_US[$key]:-} $(awk -v t="$((ticks_after - ticks_before))" -v hz="$CLK_TCK" -v n="$r_requests" \
        'BEGIN{printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0)}')"
      RUNS_RPS[$key]="${RUNS_RPS[$key]:-} $(awk -v n="$r_requests" -v d="$r_duration_us" 'BEGIN{printf "%.0f", n/(d/1e6)}')"
      P50[$key]="${P50[$key]:-} $r_lat_p50_us"; P99[$key]="${P99[$key]:-} $r_lat_p99_us"
      ERRS[$key]="${ERRS[$key]:-} $((r_err_connect + r_err_read + r_err_write + r_err_status + r_err_timeout))"
    done
  done
done

printf '%-11s %-7s %10s %9s %8s %8s %11s  %s\n' server range "req/s" "MB/s" "p50_ms" "p99_ms" "cpu_us/req" \
  "req/s per run; cpu_us/req per run; errors"
for server in $SERVERS; do
  for len in $LENGTHS; do
    key="$server.$len"
    RPS[$key]="$(printf '%s\n' ${RUNS_RPS[$key]} | median)"
    MBS[$key]="$(awk -v r="${RPS[$key]}" -v l="$len" 'BEGIN{printf "%.1f", r*l/1e6}')"
    CPU[$key]="$(printf '%s\n' ${CPU_US[$key]} | median)"
    printf '%-11s %-7s %10s %9s %8.2f %8.2f %11s  %s; %s; errors:%s\n' "$server" "$((len / 1024))KiB" "${RPS[$key]}" \
      "${MBS[$key]}" "$(printf '%s\n' ${P50[$key]} | median | awk '{print $1/1000}')" \
      "$(printf '%s\n' ${P99[$key]} | median | awk '{print $1/1000}')" "${CPU[$key]}" \
      "${RUNS_RPS[$key]# }" "${CPU_US[$key]# }" "${ERRS[$key]}"
  done
done
echo "# loadavg at end: $(cut -d' ' -f1 /proc/loadavg)"
# The checked default (block checksums on every disk read) against the former trusting default, same run.
for server in fit small; do
  [[ " $SERVERS " == *" $server "* && " $SERVERS " == *" $server-trust "* ]] || continue
  for len in $LENGTHS; do
    awk -v c="${RPS[$server.$len]}" -v t="${RPS[$server-trust.$len]}" -v cc="${CPU[$server.$len]}" \
      -v ct="${CPU[$server-trust.$len]}" -v s="$server" -v l="$((len / 1024))KiB" 'BEGIN{
        printf "# ratio checked/trusting (%s) %s: req/s %.2fx; CPU per request %.2fx\n", s, l, c / t, (ct > 0 ? cc / ct : 0)}'
  done
done
# Egress limits configured but not binding against none, same run (goal >= 0.97x).
for server in fit small; do
  [[ " $SERVERS " == *" $server "* && " $SERVERS " == *" $server-qos "* ]] || continue
  for len in $LENGTHS; do
    paired="$(paste -d' ' <(printf '%s\n' ${RUNS_RPS[$server-qos.$len]}) <(printf '%s\n' ${RUNS_RPS[$server.$len]}) |
      awk '$2 > 0 {printf "%.4f\n", $1 / $2}' | median)"
    awk -v q="${RPS[$server-qos.$len]}" -v n="${RPS[$server.$len]}" -v cq="${CPU[$server-qos.$len]}" \
      -v cn="${CPU[$server.$len]}" -v s="$server" -v l="$((len / 1024))KiB" -v p="$paired" 'BEGIN{
        printf "# ratio limits-not-binding/none (%s) %s: req/s %.2fx (median of per-round ratios %.2fx); CPU per request (none/limits) %.2fx\n",
          s, l, q / n, p, (cq > 0 ? cn / cq : 0)}'
  done
done
# Signed URL tokens required, and accounting records written, against neither, same run (goal: >= 0.95x).
for variant in token acct; do
  for server in fit small; do
    [[ " $SERVERS " == *" $server "* && " $SERVERS " == *" $server-$variant "* ]] || continue
    for len in $LENGTHS; do
      paired="$(paste -d' ' <(printf '%s\n' ${RUNS_RPS[$server-$variant.$len]}) <(printf '%s\n' ${RUNS_RPS[$server.$len]}) |
        awk '$2 > 0 {printf "%.4f\n", $1 / $2}' | median)"
      awk -v t="${RPS[$server-$variant.$len]}" -v o="${RPS[$server.$len]}" -v ct="${CPU[$server-$variant.$len]}" \
        -v co="${CPU[$server.$len]}" -v s="$server" -v v="$variant" -v l="$((len / 1024))KiB" -v p="$paired" 'BEGIN{
          printf "# ratio %s/none (%s) %s: req/s %.2fx (median of per-round ratios %.2fx); CPU per request %.2fx\n",
            v, s, l, t / o, p, (co > 0 ? ct / co : 0)}'
    done
  done
done
# Accounting in the baseline revision against the baseline without, and nginx's access log against none.
for pair in "fit-base fit-acct-base" "small-base small-acct-base" "nginx nginx-log"; do
  read -r off on <<<"$pair"
  [[ " $SERVERS " == *" $off "* && " $SERVERS " == *" $on "* ]] || continue
  for len in $LENGTHS; do
    paired="$(paste -d' ' <(printf '%s\n' ${RUNS_RPS[$on.$len]}) <(printf '%s\n' ${RUNS_RPS[$off.$len]}) |
      awk '$2 > 0 {printf "%.4f\n", $1 / $2}' | median)"
    awk -v t="${RPS[$on.$len]}" -v o="${RPS[$off.$len]}" -v ct="${CPU[$on.$len]}" -v co="${CPU[$off.$len]}" \
      -v s="$on/$off" -v l="$((len / 1024))KiB" -v p="$paired" 'BEGIN{
        printf "# ratio %s %s: req/s %.2fx (median of per-round ratios %.2fx); CPU per request (off/on) %.2fx\n",
          s, l, t / o, p, (ct > 0 ? co / ct : 0)}'
  done
done
[ -f "$SCRATCH/nginx-log/access.jsonl" ] &&
  echo "# nginx-log: $(wc -l <"$SCRATCH/nginx-log/access.jsonl") lines, $(head -1000 "$SCRATCH/nginx-log/access.jsonl" | wc -c | awk '{printf "%.0f", $1 / 1000}') bytes a line"
for server in fit-acct fit-acct-base; do
  f="$SCRATCH/accounting-$server/accounting.jsonl"
  [ -f "$f" ] && echo "# $server: $(tail -1000 "$f" | wc -c | awk '{printf "%.0f", $1 / 1000}') bytes a line (the last 1000)"
done
# The current tree against the baseline revision, same run (a refactoring should leave these at 1.00x).
for server in fit small; do
  [[ " $SERVERS " == *" $server "* && " $SERVERS " == *" $server-base "* ]] || continue
  for len in $LENGTHS; do
    paired="$(paste -d' ' <(printf '%s\n' ${RUNS_RPS[$server.$len]}) <(printf '%s\n' ${RUNS_RPS[$server-base.$len]}) |
      awk '$2 > 0 {printf "%.4f\n", $1 / $2}' | median)"
    awk -v c="${RPS[$server.$len]}" -v b="${RPS[$server-base.$len]}" -v cc="${CPU[$server.$len]}" \
      -v cb="${CPU[$server-base.$len]}" -v s="$server" -v l="$((len / 1024))KiB" -v p="$paired" 'BEGIN{
        printf "# ratio current/baseline (%s) %s: req/s %.2fx (median of per-round ratios %.2fx); CPU per request %.2fx\n",
          s, l, c / b, p, (cb > 0 ? cc / cb : 0)}'
  done
done
if [[ " $SERVERS " == *" nginx "* ]]; then
  for server in fit small; do
    [[ " $SERVERS " == *" $server "* ]] || continue
    for len in $LENGTHS; do
      # Each round measured nginx and the agent one after the other: its ratio is a paired figure, and
      # their median is steadier than the ratio of the two medians when the machine's load moves.
      paired="$(paste -d' ' <(printf '%s\n' ${RUNS_RPS[$server.$len]}) <(printf '%s\n' ${RUNS_RPS[nginx.$len]}) |
        awk '$2 > 0 {printf "%.4f\n", $1 / $2}' | median)"
      awk -v a="${RPS[$server.$len]}" -v n="${RPS[nginx.$len]}" -v ca="${CPU[$server.$len]}" \
        -v cn="${CPU[nginx.$len]}" -v s="$server" -v l="$((len / 1024))KiB" -v p="$paired" 'BEGIN{
          printf "# ratio agent(%s)/nginx %s: req/s %.2fx (median of per-round ratios %.2fx; MB/s alike: same range length); CPU per request %s\n",
            s, l, a / n, p, (cn > 0 ? sprintf("%.2fx", ca / cn) : "NA")}'
    done
  done
fi
