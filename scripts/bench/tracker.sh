#!/usr/bin/env bash
# Trackers under announce load, and the announce traffic of one agent.
# 1. `edgepeer tracker` (the built CLI) against opentracker (Debian) in the same run: wrk sends standard
#    compact HTTP announces (scripts/bench/tracker-announce.lua) over 1,000 swarms x 100 peers (20 seeds
#    each, numwant 50). edgepeer runs twice: with keep-alive, and with `Connection: close` on every request
#    (one connection per announce, as BitTorrent clients do and as opentracker always answers).
#    Each tracker is first filled with all 100,000 peers, then measured; rounds
#    alternate between the two. Reported: announces/s, latency p50/p99, RSS idle, after the load and peak.
#    wrk shares the two CPUs with the trackers. A measurement during which other processes took more than
#    NOISE_PCT % of the CPUs (/proc/stat busy time minus the tracker's and wrk's own) is discarded, and
#    rounds repeat until RUNS clean ones per tracker (at most MAX_ROUNDS rounds).
#    edgepeer also runs with its swarms in Redis (`--state redis://...`, a redis-server of its own from
#    Debian, no persistence), with keep-alive and with `Connection: close`: issue 15's goal is >= 5,000
#    announces/s. For those, redis-server's CPU counts as the tracker's own (not as noise), and the CPU each
#    of the two processes took is reported (what bounds the rate).
#    With ALTO=1 (default) edgepeer also runs with an ALTO network and cost map (--alto-network-map,
#    --alto-cost-map: 256 PIDs of /24s over 127.0.0.0/16, 1,024 prefixes; issue 18), keep-alive: what
#    ordering peer lists by cost costs the hot path, against edgepeer without maps in the same run.
# 2. scripts/bench/tracker-agent-sim.ts: one agent holding 100,000 objects, over a 30-minute start-up and
#    one hour of simulated time with churn, against a plain tracker and against edgepeer's tracker
#    (multi-object announce): requests and HTTP bytes.
# 3. scripts/bench/tracker-memory.ts: bytes per peer of the in-memory swarm state, GC settled (MEM=1).
# BASELINE=<dir> also measures an earlier build of edgepeer (a checkout with bin/ and dist/ built, e.g.
# from `git archive <commit>`) in the same rounds, as `baseline` and `baseline-close`: before/after
# ratios from one run.
# usage: bash scripts/bench/tracker.sh
#   env: RUNS=3 DURATION=15 (s) FILL=20s CONNS=32 WRK_THREADS=1 SWARMS=1000 PEERS=100 NOISE_PCT=10 MAX_ROUNDS=8
#        OBJECTS=100000 SIM=1 REDIS=1 (0: without the Redis-backed runs) ALTO=1 (0: without the maps run) MEM=1 BASELINE=
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
RUNS="${RUNS:-3}"; DURATION="${DURATION:-15}"; FILL="${FILL:-20s}"; CONNS="${CONNS:-32}"
NOISE_PCT="${NOISE_PCT:-10}"; MAX_ROUNDS="${MAX_ROUNDS:-8}"
WRK_THREADS="${WRK_THREADS:-1}"; SWARMS="${SWARMS:-1000}"; PEERS="${PEERS:-100}"; SIM="${SIM:-1}"; REDIS="${REDIS:-1}"
ALTO="${ALTO:-1}"
export SWARMS PEERS
NODE="$ROOT/node_modules/.bin/node"

for tool in opentracker wrk curl ss /usr/bin/time $([ "$REDIS" = 1 ] && echo redis-server); do
  command -v "$tool" >/dev/null || { echo "tracker.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
[ -x "$NODE" ] || { echo "tracker.sh needs the project's Node (npm ci)" >&2; exit 1; }

SCRATCH="$(mktemp -d /tmp/edgepeer-tracker-bench.XXXXXX)"
chmod 755 "$SCRATCH" # opentracker, started as root, reads its whitelist as "nobody"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

# Measure what ships: the build. (Other parts' type errors do not stop tsc from emitting dist/.)
(cd "$ROOT" && npm run --silent build >/dev/null 2>&1) || echo "# warning: npm run build reported errors (measuring dist/ as emitted)"
[ -f "$ROOT/dist/commands/tracker.js" ] || { echo "build did not produce dist/commands/tracker.js" >&2; exit 1; }

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # median, free_port
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }
rss_mib() { awk -v k="$2" '$1 == k":" {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc); $(uname -sr); node $("$NODE" --version); opentracker $(dpkg-query -W -f='${Version}' opentracker 2>/dev/null); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)$([ "$REDIS" = 1 ] && echo "; redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')")"
echo "# $SWARMS swarms x $PEERS peers; wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s after a $FILL fill; clean runs wanted $RUNS (noisy = others took > $NOISE_PCT% of the CPUs; rounds <= $MAX_ROUNDS)"
echo "# loadavg at start: $(cut -d' ' -f1 /proc/loadavg)"

declare -A PORT PID
# opentracker: whitelist-only build, so every swarm's info hash is listed.
for ((s = 0; s < SWARMS; s++)); do printf 'edededededededededededededededed%08x\n' "$s"; done >"$SCRATCH/whitelist"
chmod 644 "$SCRATCH/whitelist"
PORT[opentracker]="$(free_port 26970)"
printf 'listen.tcp_udp 127.0.0.1:%s\naccess.whitelist %s/whitelist\n' "${PORT[opentracker]}" "$SCRATCH" >"$SCRATCH/opentracker.conf"
(cd "$SCRATCH" && exec opentracker -f "$SCRATCH/opentracker.conf") &
PID[opentracker]=$!; PIDS+=($!)

# Every announce comes from 127.0.0.1: the per-address and per-network quotas are raised above the load.
EDGEPEER_LIMITS=(--max-swarms 100000 --max-peers-per-address 1000000 --max-peers-per-network 1000000)
PORT[edgepeer]="$(free_port $((PORT[opentracker] + 1)))"
"$NODE" "$ROOT/bin/run.js" tracker --port "${PORT[edgepeer]}" --host 127.0.0.1 "${EDGEPEER_LIMITS[@]}" >"$SCRATCH/edgepeer.log" 2>&1 &
PID[edgepeer]=$!; PIDS+=($!)
STARTED="opentracker edgepeer"
if [ -n "${BASELINE:-}" ]; then
  [ -f "$BASELINE/dist/commands/tracker.js" ] || { echo "BASELINE=$BASELINE has no dist/commands/tracker.js (build it)" >&2; exit 1; }
  PORT[baseline]="$(free_port $((PORT[edgepeer] + 1)))"
  "$NODE" "$BASELINE/bin/run.js" tracker --port "${PORT[baseline]}" --host 127.0.0.1 "${EDGEPEER_LIMITS[@]}" >"$SCRATCH/baseline.log" 2>&1 &
  PID[baseline]=$!; PIDS+=($!)
  STARTED+=" baseline"
fi
if [ "$REDIS" = 1 ]; then
  REDIS_PORT="$(free_port $((PORT[edgepeer] + 2)))"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$SCRATCH" >"$SCRATCH/redis.log" 2>&1 &
  REDIS_PID=$!; PIDS+=($!)
  for _ in $(seq 100); do grep -q 'Ready to accept' "$SCRATCH/redis.log" && break; sleep 0.1; done
  PORT[edgepeer-redis]="$(free_port $((REDIS_PORT + 1)))"
  "$NODE" "$ROOT/bin/run.js" tracker --port "${PORT[edgepeer-redis]}" --host 127.0.0.1 "${EDGEPEER_LIMITS[@]}" \
    --state "redis://127.0.0.1:$REDIS_PORT" >"$SCRATCH/edgepeer-redis.log" 2>&1 &
  PID[edgepeer-redis]=$!; PIDS+=($!)
  STARTED+=" edgepeer-redis"
fi

if [ "$ALTO" = 1 ]; then
  # 256 PIDs of four /24s each over 127.0.0.0/16; cost between PIDs p and q: |p - q| + 1.
  "$NODE" -e '
    const pids = {}; const cost = {};
    for (let p = 0; p < 256; p++) {
      pids[`p${p}`] = { ipv4: [0, 1, 2, 3].map((i) => `127.${(p * 4 + i) >> 8}.${(p * 4 + i) & 255}.0/24`) };
      cost[`p${p}`] = {};
      for (let q = 0; q < 256; q++) cost[`p${p}`][`p${q}`] = Math.abs(p - q) + 1;
    }
    require("node:fs").writeFileSync(process.argv[1], JSON.stringify({ meta: { vtag: { "resource-id": "bench", tag: "1" } }, "network-map": pids }));
    require("node:fs").writeFileSync(process.argv[2], JSON.stringify({ meta: { "cost-type": { "cost-mode": "numerical", "cost-metric": "routingcost" } }, "cost-map": cost }));
  ' "$SCRATCH/networkmap.json" "$SCRATCH/costmap.json"
  PORT[edgepeer-alto]="$(free_port $((PORT[edgepeer] + 10)))"
  "$NODE" "$ROOT/bin/run.js" tracker --port "${PORT[edgepeer-alto]}" --host 127.0.0.1 "${EDGEPEER_LIMITS[@]}" \
    --alto-network-map "$SCRATCH/networkmap.json" --alto-cost-map "$SCRATCH/costmap.json" >"$SCRATCH/edgepeer-alto.log" 2>&1 &
  PID[edgepeer-alto]=$!; PIDS+=($!)
  STARTED+=" edgepeer-alto"
fi

probe() { # kind: one announce of swarm 0 must be answered without a failure reason
  curl -s "http://127.0.0.1:${PORT[$1]}/announce?info_hash=$(printf '%%ED%.0s' {1..16})%00%00%00%00&peer_id=-WK0001-probe0000000&port=9999&left=0&compact=1" 
}
for kind in $STARTED; do
  ok=0
  for _ in $(seq 100); do
    if probe "$kind" 2>/dev/null | grep -q 'interval'; then ok=1; break; fi
    sleep 0.1
  done
  [ "$ok" = 1 ] || { echo "$kind does not answer announces: $(probe "$kind")" >&2; cat "$SCRATCH"/edgepeer*.log >&2; exit 1; }
done

wrk_fill() { # kind: every swarm x peer pair in turn, for FILL
  MODE=fill wrk -t"$WRK_THREADS" -c"$CONNS" -d"$FILL" --timeout 10s -s "$HERE/tracker-announce.lua" "http://127.0.0.1:${PORT[$1]}/announce" | grep '^RESULT'
}

declare -A IDLE_RSS
for kind in $STARTED; do IDLE_RSS[$kind]="$(rss_mib "${PID[$kind]}" VmRSS)"; done
for kind in $STARTED; do
  line="$(wrk_fill "$kind")"
  echo "# fill $kind: $(echo "$line" | field requests) announces (need >= $((SWARMS * PEERS)))"
done
HZ="$(getconf CLK_TCK)"; CPUS="$(nproc)"
# user + nice + system + steal. Interrupt and softirq time is left out: loopback traffic is processed
# there, on behalf of the tracker and wrk, and belongs to the measurement.
busy_jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $9}' /proc/stat; }
proc_jiffies() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A RPS P50 P99 ERRS CLOSES CLEAN ALL_RPS ALL_P50 ALL_P99 CPU_TRACKER CPU_REDIS
KINDS="opentracker edgepeer edgepeer-close"
PORT[edgepeer-close]="${PORT[edgepeer]}"; PID[edgepeer-close]="${PID[edgepeer]}"; IDLE_RSS[edgepeer-close]="${IDLE_RSS[edgepeer]}"
[ "$ALTO" = 1 ] && KINDS+=" edgepeer-alto"
if [ -n "${BASELINE:-}" ]; then
  KINDS+=" baseline baseline-close"
  PORT[baseline-close]="${PORT[baseline]}"; PID[baseline-close]="${PID[baseline]}"; IDLE_RSS[baseline-close]="${IDLE_RSS[baseline]}"
fi
if [ "$REDIS" = 1 ]; then
  KINDS+=" edgepeer-redis edgepeer-redis-close"
  PORT[edgepeer-redis-close]="${PORT[edgepeer-redis]}"; PID[edgepeer-redis-close]="${PID[edgepeer-redis]}"
  IDLE_RSS[edgepeer-redis-close]="${IDLE_RSS[edgepeer-redis]}"
fi
measure() { # kind: one measured wrk run; prints "noise_pct tracker_cpu_pct redis_cpu_pct RESULT-line"
  local kind="$1" b0 b1 p0 p1 r0=0 r1=0 wrk_cpu close=0
  case "$kind" in *-close) close=1 ;; esac
  b0="$(busy_jiffies)"; p0="$(proc_jiffies "${PID[$kind]}")"
  case "$kind" in edgepeer-redis*) r0="$(proc_jiffies "$REDIS_PID")" ;; esac
  /usr/bin/time -f '%U %S' -o "$SCRATCH/wrk.time" env MODE=random CLOSE="$close" \
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$HERE/tracker-announce.lua" \
    "http://127.0.0.1:${PORT[$kind]}/announce" >"$SCRATCH/wrk.out"
  b1="$(busy_jiffies)"; p1="$(proc_jiffies "${PID[$kind]}")"
  case "$kind" in edgepeer-redis*) r1="$(proc_jiffies "$REDIS_PID")" ;; esac
  wrk_cpu="$(awk -v hz="$HZ" '{printf "%.0f", ($1 + $2) * hz}' "$SCRATCH/wrk.time")"
  # redis-server works for the Redis-backed tracker: its CPU is the tracker's own, not noise.
  awk -v b="$((b1 - b0))" -v p="$((p1 - p0))" -v r="$((r1 - r0))" -v w="$wrk_cpu" -v d="$DURATION" -v c="$CPUS" -v hz="$HZ" \
    'BEGIN{o = b - p - r - w; if (o < 0) o = 0; printf "%.1f %.0f %.0f ", o * 100 / (d * c * hz), p * 100 / (d * hz), r * 100 / (d * hz)}'
  grep '^RESULT' "$SCRATCH/wrk.out"
}

round=0
while :; do
  done_all=1
  for kind in $KINDS; do [ "${CLEAN[$kind]:-0}" -ge "$RUNS" ] || done_all=0; done
  [ "$done_all" = 1 ] && break
  [ "$round" -ge "$MAX_ROUNDS" ] && break
  round=$((round + 1))
  for kind in $KINDS; do
    [ "${CLEAN[$kind]:-0}" -ge "$RUNS" ] && continue
    out="$(measure "$kind")"; read -r noise tracker_cpu redis_cpu line <<<"$out"
    req="$(echo "$line" | field requests)"; us="$(echo "$line" | field duration_us)"
    rps="$(awk -v r="$req" -v u="$us" 'BEGIN{printf "%.0f", r / (u / 1e6)}')"
    # opentracker closes the connection after every answer (no keep-alive): wrk counts those as read
    # errors and reconnects. They are reported apart; errors are everything else.
    errors=$(( $(echo "$line" | field err_connect) + $(echo "$line" | field err_write) + $(echo "$line" | field err_status) + $(echo "$line" | field err_timeout) ))
    ALL_RPS[$kind]+="$rps "
    # CPU per announce (µs of tracker and of redis-server): moves less with the machine's load than the rate.
    CPU_TRACKER[$kind]+="$(awk -v c="$tracker_cpu" -v r="$rps" 'BEGIN{printf "%.0f", c * 10000 / r}') "
    CPU_REDIS[$kind]+="$(awk -v c="$redis_cpu" -v r="$rps" 'BEGIN{printf "%.0f", c * 10000 / r}') "
    ALL_P50[$kind]+="$(echo "$line" | field lat_p50_us) "; ALL_P99[$kind]+="$(echo "$line" | field lat_p99_us) "
    if awk -v n="$noise" -v max="$NOISE_PCT" 'BEGIN{exit !(n <= max)}'; then
      CLEAN[$kind]=$(( ${CLEAN[$kind]:-0} + 1 ))
      RPS[$kind]+="$rps "
      P50[$kind]+="$(echo "$line" | field lat_p50_us) "; P99[$kind]+="$(echo "$line" | field lat_p99_us) "
      ERRS[$kind]=$(( ${ERRS[$kind]:-0} + errors ))
      CLOSES[$kind]=$(( ${CLOSES[$kind]:-0} + $(echo "$line" | field err_read) ))
      verdict=clean
    else
      verdict=noisy
    fi
    echo "# round $round $kind: $rps announces/s, errors $errors, CPU tracker ${tracker_cpu}% redis ${redis_cpu}% (of one core), others took ${noise}% of the CPUs ($verdict)"
  done
done
noisy_note=""
for kind in $KINDS; do
  if [ "${CLEAN[$kind]:-0}" -lt "$RUNS" ]; then
    noisy_note+=" $kind"
    RPS[$kind]="${ALL_RPS[$kind]}"; P50[$kind]="${ALL_P50[$kind]}"; P99[$kind]="${ALL_P99[$kind]}"
  fi
done
[ -z "$noisy_note" ] || echo "# NOT ENOUGH CLEAN RUNS, all runs used for:$noisy_note (errors from clean runs only)"
echo "# loadavg at end: $(cut -d' ' -f1 /proc/loadavg)"

edge_counts="$(curl -s "http://127.0.0.1:${PORT[edgepeer]}/stats?limit=1" | sed -n 's/.*"swarmCount":\([0-9]*\),"peerCount":\([0-9]*\).*/swarms \1, peers \2/p')"
echo
echo "| tracker | announces/s (median; runs) | p50 / p99 ms | RSS idle / after / peak MiB | errors | connections closed by the tracker |"
echo "| --- | --- | --- | --- | --- | --- |"
for kind in $KINDS; do
  rps_runs="${RPS[$kind]% }"
  printf '| %s | **%s** (%s) | %s / %s | %s / %s / %s | %s | %s |\n' "$kind" \
    "$(echo "$rps_runs" | tr ' ' '\n' | median)" "$rps_runs" \
    "$(echo "${P50[$kind]:-}" | tr ' ' '\n' | grep . | median | awk '{printf "%.2f", $1 / 1000}')" \
    "$(echo "${P99[$kind]:-}" | tr ' ' '\n' | grep . | median | awk '{printf "%.2f", $1 / 1000}')" \
    "${IDLE_RSS[$kind]}" "$(rss_mib "${PID[$kind]}" VmRSS)" "$(rss_mib "${PID[$kind]}" VmHWM)" "${ERRS[$kind]:-0}" "${CLOSES[$kind]:-0}"
done
echo "# edgepeer tracker state after the runs: $edge_counts"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2fx", a / b; else print "NA" }'; }
med() { echo "${RPS[$1]% }" | tr ' ' '\n' | median; }
for kind in $KINDS; do
  echo "# $kind: CPU per announce (median of all runs): tracker $(echo "${CPU_TRACKER[$kind]:-}" | tr ' ' '\n' | grep . | median) µs$(case "$kind" in edgepeer-redis*) echo ", redis-server $(echo "${CPU_REDIS[$kind]:-}" | tr ' ' '\n' | grep . | median) µs" ;; esac)"
done
[ "$ALTO" = 1 ] && echo "# ratio (medians, same run): edgepeer-alto / edgepeer $(ratio "$(med edgepeer-alto)" "$(med edgepeer)")"
cpu_med() { echo "${CPU_TRACKER[$1]:-}" | tr ' ' '\n' | grep . | median; }
echo "# ratios (medians, same run): edgepeer / opentracker $(ratio "$(med edgepeer)" "$(med opentracker)"), edgepeer-close / opentracker $(ratio "$(med edgepeer-close)" "$(med opentracker)"); CPU per announce, opentracker / edgepeer $(ratio "$(cpu_med opentracker)" "$(cpu_med edgepeer)"), opentracker / edgepeer-close $(ratio "$(cpu_med opentracker)" "$(cpu_med edgepeer-close)")"
if [ -n "${BASELINE:-}" ]; then
  echo "# ratios against the baseline build (same run): edgepeer / baseline $(ratio "$(med edgepeer)" "$(med baseline)"), edgepeer-close / baseline-close $(ratio "$(med edgepeer-close)" "$(med baseline-close)"); baseline / opentracker $(ratio "$(med baseline)" "$(med opentracker)"), baseline-close / opentracker $(ratio "$(med baseline-close)" "$(med opentracker)")"
fi
if [ "$REDIS" = 1 ]; then
  echo "# ratios (medians, same run): edgepeer-redis / edgepeer $(ratio "$(med edgepeer-redis)" "$(med edgepeer)"), edgepeer-redis / opentracker $(ratio "$(med edgepeer-redis)" "$(med opentracker)"), edgepeer-redis-close / edgepeer-close $(ratio "$(med edgepeer-redis-close)" "$(med edgepeer-close)"), edgepeer-redis-close / opentracker $(ratio "$(med edgepeer-redis-close)" "$(med opentracker)")"
  redis_counts="$(curl -s "http://127.0.0.1:${PORT[edgepeer-redis]}/stats?limit=1" | sed -n 's/.*"swarmCount":\([0-9]*\),"peerCount":\([0-9]*\).*/swarms \1, peers \2/p')"
  echo "# edgepeer tracker (Redis) state after the runs: $redis_counts; redis-server RSS $(rss_mib "$REDIS_PID" VmRSS) MiB"
fi
scrape_peers() { # kind: seeds + leechers of swarm 0 by scrape (BEP 48)
  curl -s "http://127.0.0.1:${PORT[$1]}/scrape?info_hash=$(printf '%%ED%.0s' {1..16})%00%00%00%00" |
    LC_ALL=C grep -ao 'completei[0-9]*e.*incompletei[0-9]*e' | LC_ALL=C sed 's/completei\([0-9]*\)e.*incompletei\([0-9]*\)e/\1 \2/' | awk '{print $1 + $2}'
}
echo "# peers in swarm 0 by scrape: opentracker $(scrape_peers opentracker), edgepeer $(scrape_peers edgepeer)$([ "$REDIS" = 1 ] && echo ", edgepeer-redis $(scrape_peers edgepeer-redis)") (want $PEERS, + 1 probe)"

if [ "${MEM:-1}" = 1 ]; then
  echo
  echo "# in-memory swarm state, bytes per peer: node --expose-gc scripts/bench/tracker-memory.ts"
  "$NODE" --expose-gc "$HERE/tracker-memory.ts"
fi

if [ "$SIM" = 1 ]; then
  echo
  echo "# one agent, ${OBJECTS:-100000} objects: node --expose-gc scripts/bench/tracker-agent-sim.ts both"
  OBJECTS="${OBJECTS:-100000}" "$NODE" --expose-gc "$HERE/tracker-agent-sim.ts" both
fi
