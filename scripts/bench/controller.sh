#!/usr/bin/env bash
# The CDN controller (issue 14, TR 23.844 6.2.2), three parts, all on 127.0.0.1, the build (dist/) measured:
# 1. fleet: 1,000 simulated edges against one controller (scripts/bench/controller-fleet.ts: the real
#    enrolment, heartbeat, state, delta, metainfo and command-poll protocol over HTTP, one process; 10,000
#    objects, 2 replicas each). Time to create the tokens and to enrol every edge (first heartbeat, whole
#    state and metainfo included); the controller's CPU (utime+stime of /proc/<pid>/stat, all threads, and
#    per thread) and RSS over a steady window of 5 s heartbeats; time from an edge's delta to the
#    controller's announce carrying it, at a tiny tracker in the generator (single announces, bitmap decoded)
#    and at the reference tracker (`edgepeer tracker`, multi-object announces, /stats long poll). Then wrk
#    against the controller's HTTP port with random /pieces/<ih>/<n> URLs (each a 302 to an edge;
#    scripts/bench/controller-redirect.lua) while the fleet keeps its heartbeats going.
# 2. redirect: edgeForwarder(catalog) in one process over a MemoryFleetState + FleetCatalog of 1,000 edges
#    and 10,000 objects filled through the FleetState API (scripts/bench/controller-redirect.ts).
# 3. wire: one edge agent (`edgepeer agent --controller`) holding a random object (SIZE_MIB, 1 MiB pieces,
#    placed by `edgepeer ingest --controller` from a local python http.server origin), a controller with a
#    CACHE_MIB piece cache (smaller than the object: it fetches from the edge, verified); the same
#    python3-libtorrent leecher (test/wire/lt_client.py, TCP, plaintext) downloads it straight from the
#    edge's peer port and through the controller's, alternating, RUNS rounds after one warm-up of each.
#    Every download is compared with the source.
#
# usage: bash scripts/bench/controller.sh   (or npm run bench -- controller)
#   env: PARTS="fleet redirect wire"; fleet: EDGES=1000 OBJECTS=10000 HEARTBEAT_MS=5000 WINDOW_S=30
#        CHANGES=100 REPEAT=0 ENROL_CONCURRENCY=100 (see controller-fleet.ts), WRK_S=10 WRK_CONNS=32;
#        wire: RUNS=3 SIZE_MIB=256 CACHE_MIB=16 LEECH_ROOT=/dev/shm QUIET_WAIT_S=30; SCRATCH_ROOT=/tmp
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
NODE="$ROOT/node_modules/.bin/node"
SYSPY=/usr/bin/python3
RUN="$ROOT/bin/run.js"
PARTS="${PARTS:-fleet redirect wire}"
WRK_S="${WRK_S:-10}"; WRK_CONNS="${WRK_CONNS:-32}"
RUNS="${RUNS:-3}"; SIZE_MIB="${SIZE_MIB:-256}"; CACHE_MIB="${CACHE_MIB:-16}"; QUIET_WAIT_S="${QUIET_WAIT_S:-30}"
part() { [[ " $PARTS " == *" $1 "* ]]; }

[ -x "$NODE" ] || { echo "controller.sh needs the project's Node (npm ci)" >&2; exit 1; }
for tool in wrk openssl cmp curl setsid; do
  command -v "$tool" >/dev/null || { echo "controller.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
if part wire; then
  "$SYSPY" -c 'import libtorrent' 2>/dev/null || { echo "controller.sh needs python3-libtorrent (bash scripts/setup-system.sh)" >&2; exit 1; }
fi

SCRATCH="$(mktemp -d "${SCRATCH_ROOT:-/tmp}/edgepeer-bench-controller.XXXXXX")"
LEECH_ROOT="${LEECH_ROOT:-/dev/shm}"; [ -d "$LEECH_ROOT" ] || LEECH_ROOT="$SCRATCH"
LEECH_DIR="$(mktemp -d "$LEECH_ROOT/edgepeer-bench-controller-dl.XXXXXX")"
PIDS=(); GEN_PID=""
cleanup() {
  # The generator runs in its own process group (setsid) with the controller and tracker it started.
  if [ -n "$GEN_PID" ]; then
    kill -TERM -- "-$GEN_PID" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 -- "-$GEN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$GEN_PID" 2>/dev/null || true
  fi
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}" "$GEN_PID"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$SCRATCH" "$LEECH_DIR"
}
trap cleanup EXIT

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # median, free_port
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
# jget JSON PATH: one field (a.b.c) of a JSON text, objects printed as JSON.
jget() {
  "$NODE" -e 'const v = process.argv[2].split(".").reduce((o, k) => o?.[k], JSON.parse(process.argv[1]));
console.log(typeof v === "object" ? JSON.stringify(v) : String(v))' "$1" "$2"
}
# wait_line FILE PATTERN PID: waits until FILE has a line matching PATTERN (or the process dies).
wait_line() {
  local t=0
  until grep -q "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || { echo "process $3 died:" >&2; tail -20 "$1" >&2; return 1; }
    sleep 0.1; t=$((t + 1)); [ "$t" -lt 6000 ] || { echo "timeout waiting for '$2' in $1" >&2; return 1; }
  done
}
# follow FILE PATTERN PID: prints FILE's lines as they come until one matches PATTERN.
follow() {
  local shown=0 total
  while :; do
    total="$(wc -l <"$1")"
    if [ "$total" -gt "$shown" ]; then sed -n "$((shown + 1)),${total}p" "$1" | grep -v '^READY_WRK\|^RESULT' || true; shown="$total"; fi
    grep -q "$2" "$1" && return 0
    kill -0 "$3" 2>/dev/null || { echo "process $3 died:" >&2; tail -20 "$1" "${1%.out}.err" >&2; return 1; }
    sleep 1
  done
}
QUIET_WAIT_S="${QUIET_WAIT_S:-30}"; noisy_rounds=0
cpu_idle_pct() {
  local a b; a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * idle / total : 100 ))
}
wait_quiet() {
  local waited=0
  while [ "$(cpu_idle_pct)" -lt 90 ]; do
    waited=$((waited + 1)); [ "$waited" -lt "$QUIET_WAIT_S" ] || { noisy_rounds=$((noisy_rounds + 1)); return; }
  done
}
verdict() { awk -v v="$1" -v g="$2" -v op="$3" 'BEGIN{ ok = (op == "<") ? (v < g) : (v >= g); print ok ? "met" : "NOT met" }'; }

(cd "$ROOT" && npm run --silent build >/dev/null 2>&1) || echo "# warning: npm run build reported errors (measuring dist/ as emitted)"
[ -f "$ROOT/dist/src/controller/controller.js" ] || { echo "build did not produce dist/src/controller" >&2; exit 1; }

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc), $(free -g | awk '/^Mem:/{print $2}') GiB RAM; $(uname -sr)"
echo "# node $("$NODE" --version); wrk $(wrk --version 2>&1 | head -1 | cut -d' ' -f2); edgepeer $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); $(date -u +%FT%TZ); loadavg $(cut -d' ' -f1 /proc/loadavg)"

# 1. The fleet.
if part fleet; then
  echo "## fleet: ${EDGES:-1000} simulated edges, ${OBJECTS:-10000} objects, heartbeats every ${HEARTBEAT_MS:-5000} ms"
  echo "# command: node scripts/bench/controller-fleet.ts SCRATCH (env EDGES OBJECTS HEARTBEAT_MS WINDOW_S CHANGES REPEAT ...)"
  : >"$SCRATCH/fleet.out"; : >"$SCRATCH/fleet.err"
  setsid "$NODE" "$HERE/controller-fleet.ts" "$SCRATCH/fleet" >"$SCRATCH/fleet.out" 2>"$SCRATCH/fleet.err" &
  GEN_PID=$!
  follow "$SCRATCH/fleet.out" '^READY_WRK' "$GEN_PID"
  FLEET="$(sed -n 's/^RESULT //p' "$SCRATCH/fleet.out")"
  READY="$(sed -n 's/^READY_WRK //p' "$SCRATCH/fleet.out")"
  CPID="$(jget "$READY" controllerPid)"; CHTTP="$(jget "$READY" httpBaseUrl)"; CADMIN="$(jget "$READY" adminUrl)"
  AUTH="Authorization: Bearer $(cat "$SCRATCH/fleet/controller/admin.token")"
  redirected() { curl -s -H "$AUTH" "$CADMIN/v1/status" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const h=JSON.parse(s).http;console.log(h.redirected, h.requests)})'; }
  read -r red0 req0 < <(redirected)
  c0="$(cpu_s "$CPID")"
  echo "# wrk -t1 -c$WRK_CONNS -d${WRK_S}s -s scripts/bench/controller-redirect.lua $CHTTP  (random /pieces/<ih>/<n>; the fleet's heartbeats go on)"
  WRK_OUT="$(OBJECTS_FILE="$(jget "$READY" objects)" wrk -t1 -c"$WRK_CONNS" -d"${WRK_S}s" -s "$HERE/controller-redirect.lua" "$CHTTP")"
  c1="$(cpu_s "$CPID")"
  read -r red1 req1 < <(redirected)
  wrk_field() { sed -n "s/.*RESULT.* $1=\([0-9]*\).*/\1/p" <<<"$WRK_OUT"; }
  W_REQ="$(wrk_field requests)"; W_US="$(wrk_field duration_us)"
  W_RPS="$(awk -v r="$W_REQ" -v d="$W_US" 'BEGIN{printf "%.0f", r / (d / 1e6)}')"
  W_CPU="$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}')"
  # Heartbeats went on during wrk: their share (the steady window's CPU %) is taken out for the per-core figure.
  HB_PCT="$(jget "$FLEET" cpuPct)"
  W_PER_CORE="$(awk -v r="$W_REQ" -v c="$W_CPU" -v d="$W_US" -v h="$HB_PCT" 'BEGIN{ c2 = c - h / 100 * d / 1e6; printf "%.0f", (c2 > 0) ? r / c2 : 0 }')"
  echo "# wrk: $W_REQ requests in $(awk -v d="$W_US" 'BEGIN{printf "%.1f", d / 1e6}') s = $W_RPS req/s, latency p50 $(wrk_field lat_p50_us) us p99 $(wrk_field lat_p99_us) us;" \
    "errors connect/read/write/status/timeout $(wrk_field err_connect)/$(wrk_field err_read)/$(wrk_field err_write)/$(wrk_field err_status)/$(wrk_field err_timeout);" \
    "controller redirected $((red1 - red0)) of $((req1 - req0)) requests; controller CPU ${W_CPU} s => $W_PER_CORE redirects per CPU-second (heartbeats' ${HB_PCT} % taken out)"
  touch "$SCRATCH/fleet/stop"
  wait "$GEN_PID" 2>/dev/null || true
  GEN_PID=""
fi

# 2. Redirect decisions in one process.
if part redirect; then
  echo "## redirect decisions in-process: edgeForwarder(catalog), ${EDGES:-1000} edges, ${OBJECTS:-10000} objects"
  echo "# command: node scripts/bench/controller-redirect.ts"
  "$NODE" "$HERE/controller-redirect.ts" >"$SCRATCH/redirect.out"
  grep -v '^RESULT' "$SCRATCH/redirect.out"
  REDIRECT="$(sed -n 's/^RESULT //p' "$SCRATCH/redirect.out")"
fi

# 3. Peer wire through the controller against straight from the edge.
if part wire; then
  echo "## peer wire: libtorrent leecher, ${SIZE_MIB} MiB object on one edge, straight from the edge vs through the controller (cache ${CACHE_MIB} MiB)"
  W="$SCRATCH/wire"; mkdir -p "$W/data"
  F="$W/data/random_${SIZE_MIB}MiB.bin"
  head -c "$((SIZE_MIB * 1024 * 1024))" < <(openssl enc -aes-128-ctr -nosalt -pass pass:edgepeer -in /dev/zero 2>/dev/null) >"$F"
  (cd "$W/data" && exec "$SYSPY" -u -m http.server 0 --bind 127.0.0.1) >"$W/origin.out" 2>&1 & ORIGIN_PID=$!; PIDS+=("$ORIGIN_PID")
  wait_line "$W/origin.out" 'Serving HTTP' "$ORIGIN_PID"
  ORIGIN="$(sed -n 's/.*(\(http[^)]*\)).*/\1/p' "$W/origin.out" | head -1)"
  CONTROLLER_ARGS=(controller --data-dir "$W/controller" --peer-port 0 --peer-host 127.0.0.1 --http-port 0 --http-host 127.0.0.1
    --edge-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --heartbeat 1000 --cache-size "${CACHE_MIB}MiB" --replicas 1
    --no-announce --log-level warn --json)
  # WIRE_CONTROLLER_NODE_ARGS: e.g. "--cpu-prof --cpu-prof-dir=DIR" to profile the controller.
  "$NODE" ${WIRE_CONTROLLER_NODE_ARGS:-} "$RUN" "${CONTROLLER_ARGS[@]}" >"$W/controller.out" 2>"$W/controller.err" & WCPID=$!; PIDS+=("$WCPID")
  wait_line "$W/controller.out" '"listening"' "$WCPID"
  CLINE="$(head -1 "$W/controller.out")"
  WCADMIN="$(jget "$CLINE" adminUrl)"; WCPEER="$(jget "$CLINE" peerPort)"
  WAUTH="Authorization: Bearer $(cat "$W/controller/admin.token")"
  TOKEN="$(jget "$("$NODE" "$RUN" controller token create --data-dir "$W/controller" --json)" token)"
  AGENT_ARGS=(agent --data-dir "$W/edge" --controller "$(jget "$CLINE" edgeUrl)" --enrol-token "$TOKEN" --peer-port 0
    --peer-host 127.0.0.1 --http-port 0 --http-host 127.0.0.1 --admin-listen 127.0.0.1:0 --scrub-rate 0 --log-level warn --json)
  "$NODE" "$RUN" "${AGENT_ARGS[@]}" >"$W/edge.out" 2>"$W/edge.err" & EPID=$!; PIDS+=("$EPID")
  wait_line "$W/edge.out" '"listening"' "$EPID"
  EPEER="$(jget "$(head -1 "$W/edge.out")" peerPort)"
  echo "# commands: node bin/run.js ${CONTROLLER_ARGS[*]}" | sed "s#$SCRATCH#\$SCRATCH#g"
  echo "#           node bin/run.js ${AGENT_ARGS[*]}" | sed "s#$SCRATCH#\$SCRATCH#g; s#ept_[A-Za-z0-9_-]*#TOKEN#"
  for _ in $(seq 100); do
    [ "$(curl -s -H "$WAUTH" "$WCADMIN/v1/status" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).edges.serving))')" = 1 ] && break
    sleep 0.2
  done
  echo "#           node bin/run.js ingest --controller ADMIN_URL --controller-token \$SCRATCH/.../admin.token $ORIGIN$(basename "$F") --piece-length 1MiB --json"
  INGEST="$("$NODE" "$RUN" ingest --controller "$WCADMIN" --controller-token "$W/controller/admin.token" "$ORIGIN$(basename "$F")" --piece-length 1MiB --json | head -1)"
  [ "$(jget "$INGEST" status)" = ingested ] || { echo "ingest failed: $INGEST" >&2; exit 1; }
  IH="$(jget "$INGEST" infoHash)"
  kill "$ORIGIN_PID" 2>/dev/null || true
  for _ in $(seq 100); do
    curl -s -H "$WAUTH" "$WCADMIN/v1/objects" | grep -q "\"$IH\".*\"complete\":true" && break
    sleep 0.2
  done
  curl -sf -H "$WAUTH" "$WCADMIN/v1/objects/$IH/torrent" -o "$W/object.torrent"
  echo "# object $IH ($(jget "$INGEST" pieces) pieces) on the edge; edge peer port $EPEER, controller peer port $WCPEER"
  echo "#           leecher: /usr/bin/python3 test/wire/lt_client.py --torrent TORRENT --save DIR --peer 127.0.0.1:PORT"
  fetched() { curl -s -H "$WAUTH" "$WCADMIN/v1/status" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).fetches.fetched))'; }

  declare -A SECS CCPU ECPU
  RATIOS=""
  FAILED_DOWNLOADS=0
  leech() { # name port [warm-up]: one download, retried once if it fails (python3-libtorrent crashed once here)
    leech_once "$@"
    [ -n "$LAST" ] || { FAILED_DOWNLOADS=$((FAILED_DOWNLOADS + 1)); leech_once "$@"; }
  }
  leech_once() { # name port [warm-up]
    local dl="$LEECH_DIR/$1"; rm -rf "$dl"; mkdir -p "$dl"
    local c0 c1 e0 e1 f0 f1 out status=0
    c0="$(cpu_s "$WCPID")"; e0="$(cpu_s "$EPID")"; f0="$(fetched)"
    out="$("$SYSPY" "$ROOT/test/wire/lt_client.py" --torrent "$W/object.torrent" --save "$dl" --peer "127.0.0.1:$2" --timeout 300)" || status=$?
    c1="$(cpu_s "$WCPID")"; e1="$(cpu_s "$EPID")"; f1="$(fetched)"
    local seconds; seconds="$(sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' <<<"$out")"
    if [ "$status" != 0 ] || ! grep -q '"done": true' <<<"$out" || ! cmp -s "$F" "$dl/$(basename "$F")"; then
      echo "# $1: download FAILED (exit $status) or data differs: $out"; rm -rf "$dl"; LAST=""; return 0
    fi
    rm -rf "$dl"
    local cc ec; cc="$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}')"; ec="$(awk -v a="$e0" -v b="$e1" 'BEGIN{printf "%.2f", b - a}')"
    echo "#   ${3:-run}: $1 ${seconds} s, controller CPU ${cc} s, edge CPU ${ec} s, pieces the controller fetched from the edge $((f1 - f0)), loadavg $(cut -d' ' -f1 /proc/loadavg)"
    LAST="$seconds"
    [ "${3:-run}" = run ] || return 0
    SECS[$1]+="$seconds "; CCPU[$1]+="$cc "; ECPU[$1]+="$ec "
  }
  wait_quiet; leech direct "$EPEER" warm-up
  wait_quiet; leech controller "$WCPEER" warm-up
  for i in $(seq "$RUNS"); do
    # Alternate which goes first.
    if [ $((i % 2)) = 1 ]; then order="direct controller"; else order="controller direct"; fi
    declare -A R=()
    for which in $order; do
      wait_quiet
      if [ "$which" = direct ]; then leech direct "$EPEER"; else leech controller "$WCPEER"; fi
      R[$which]="$LAST"
    done
    [ -z "${R[direct]}" ] || [ -z "${R[controller]}" ] || RATIOS+="$(awk -v d="${R[direct]}" -v c="${R[controller]}" 'BEGIN{printf "%.2f", d / c}') "
  done
  printf '# %-11s %9s %8s %12s %10s  %s\n' path median_s MB/s ctl_cpu_s edge_cpu_s "seconds per run"
  BYTES="$(stat -c %s "$F")"
  for s in direct controller; do
    m="$(tr ' ' '\n' <<<"${SECS[$s]:-}" | { grep . || true; } | median)"
    printf '# %-11s %9s %8.0f %12s %10s  %s\n' "$s" "$m" "$(awk -v b="$BYTES" -v s="$m" 'BEGIN{print (s > 0) ? b / s / 1e6 : 0}')" \
      "$(tr ' ' '\n' <<<"${CCPU[$s]:-}" | { grep . || true; } | median)" "$(tr ' ' '\n' <<<"${ECPU[$s]:-}" | { grep . || true; } | median)" "${SECS[$s]:-}"
    declare "MED_$s=$m"
  done
  WIRE_RATIO="$(awk -v d="$MED_direct" -v c="$MED_controller" 'BEGIN{printf "%.2f", (c > 0) ? d / c : 0}')"
  echo "# through the controller / straight from the edge (throughput; seconds direct / seconds controller): $WIRE_RATIO at the medians; per round: $RATIOS"
  echo "# downloads that failed and were retried: $FAILED_DOWNLOADS; rounds started without a quiet second: $noisy_rounds; loadavg at end: $(cut -d' ' -f1 /proc/loadavg)"
fi

echo "## summary (issue 14 goals)"
if part fleet; then
  echo "# enrolment: $(jget "$FLEET" edges) edges enrolled and up (state, metainfo) in $(jget "$FLEET" upS) s (goal < 60 s: $(verdict "$(jget "$FLEET" upS)" 60 '<')); tokens $(jget "$FLEET" tokensS) s before"
  echo "# heartbeats: controller $(jget "$FLEET" cpuPct) % of one core at $(jget "$FLEET" heartbeatsPerS) heartbeats/s (goal < 5 %: $(verdict "$(jget "$FLEET" cpuPct)" 5 '<')); RSS $(jget "$FLEET" rssMiB) MiB (peak $(jget "$FLEET" rssPeakMiB) MiB)"
  echo "# change to announce, tiny tracker (single announces): p50 $(jget "$FLEET" changeTinyMs.p50) ms, max $(jget "$FLEET" changeTinyMs.max) ms (goal < 2 s: $(verdict "$(jget "$FLEET" changeTinyMs.max)" 2000 '<'))"
  echo "# change to announce, reference tracker (multi-object): p50 $(jget "$FLEET" changeReferenceMs.p50) ms, max $(jget "$FLEET" changeReferenceMs.max) ms (goal < 2 s: $(verdict "$(jget "$FLEET" changeReferenceMs.max)" 2000 '<'))"
  echo "# redirects over HTTP (wrk, 1 thread): $W_RPS req/s, $W_PER_CORE per controller CPU-second (goal >= 5,000/s on one core: $(verdict "$W_PER_CORE" 5000 '>=')), wrk p99 $(wrk_field lat_p99_us) us"
fi
if part redirect; then
  echo "# redirect decisions in-process: $(jget "$REDIRECT" piece.perSecond)/s, p99 $(jget "$REDIRECT" piece.p99us) us for one piece; $(jget "$REDIRECT" object.perSecond)/s, p99 $(jget "$REDIRECT" object.p99us) us for a whole object" \
    "(goals >= 5,000/s: $(verdict "$(jget "$REDIRECT" piece.perSecond)" 5000 '>='), p99 < 1 ms: $(verdict "$(jget "$REDIRECT" piece.p99us)" 1000 '<'))"
fi
if part wire; then
  echo "# peer wire through the controller / straight from the edge: ${WIRE_RATIO}x (goal >= 0.8x: $(verdict "$WIRE_RATIO" 0.8 '>='))"
fi
