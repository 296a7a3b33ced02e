#!/usr/bin/env bash
# Failover of two `edgepeer controller` processes on one Redis (issue 15), TRIALS times. One redis-server
# (Debian, no persistence), the reference tracker (`edgepeer tracker --min-interval 1`), two controllers
# (`--state redis://…`, the build) and one edge agent reporting to both, holding one object ingested into
# it. Each trial kills the controller holding the lease with SIGKILL and measures from the kill: the
# survivor reporting `leader: true` in its status (it took the lease: at most the lease's 3 s after the
# dead one's last renewal, plus a renewal tick), and the tracker listing the CDN's entry at the survivor's
# peer port (its first announces as leader, under the fleet's peer id). Then the killed one is started
# again on its data dir (it follows) for the next trial. Polls every POLL_MS with curl, so each figure is
# late by up to that.
# usage: bash scripts/bench/controller-failover.sh   (or npm run bench -- controller-failover)
#   env: TRIALS=10 POLL_MS=20
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
RUN="$ROOT/bin/run.js"
TRIALS="${TRIALS:-10}"; POLL_MS="${POLL_MS:-20}"
for tool in redis-server curl ss python3; do
  command -v "$tool" >/dev/null || { echo "controller-failover.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
SCRATCH="$(mktemp -d /tmp/edgepeer-controller-failover.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
(cd "$ROOT" && npm run --silent build >/dev/null 2>&1) || echo "# warning: npm run build reported errors (measuring dist/ as emitted)"

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # median, free_port
now_ms() { date +%s%3N; }
pause() { sleep "$(awk -v ms="$POLL_MS" 'BEGIN{printf "%.3f", ms / 1000}')"; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }

# Starts a daemon (bin/run.js ARGS... --json) in the background; waits for its `listening` line in NAME.out.
start_daemon() { # name args...
  local name="$1"; shift
  "$NODE" "$RUN" "$@" --json >"$SCRATCH/$name.out" 2>>"$SCRATCH/$name.log" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  for _ in $(seq 300); do grep -q '"listening"' "$SCRATCH/$name.out" 2>/dev/null && return 0; sleep 0.05; done
  echo "$name did not start: $(tail -5 "$SCRATCH/$name.log")" >&2
  exit 1
}

REDIS_PORT="$(free_port 27390)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$SCRATCH" >"$SCRATCH/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q 'Ready to accept' "$SCRATCH/redis.log" && break; sleep 0.1; done

start_daemon tracker tracker --port 0 --host 127.0.0.1 --no-udp --interval 60 --min-interval 1
STATS="$(head -1 "$SCRATCH/tracker.out" | json_field statsUrl)"
ANNOUNCE="$(head -1 "$SCRATCH/tracker.out" | json_field announceUrl)"

declare -A CONTROLLER_PID EDGE_PORT
start_controller() { # index; the edge listener's port is fixed so that the edge finds it again after a restart
  local index="$1"
  start_daemon "controller$index" controller --data-dir "$SCRATCH/controller$index" --state "redis://127.0.0.1:$REDIS_PORT" \
    --peer-port 0 --peer-host 127.0.0.1 --http-port 0 --http-host 127.0.0.1 \
    --edge-listen "127.0.0.1:${EDGE_PORT[$index]}" --admin-listen 127.0.0.1:0 --heartbeat 300 \
    --tracker "$ANNOUNCE" --log-level warn
  CONTROLLER_PID[$index]="$LAST_PID"
  : >"$SCRATCH/controller$index.seen"
}
line_of() { tail -1 "$SCRATCH/controller$1.out"; }
admin_status() { # index -> the status JSON
  local url token
  url="$(grep '"listening"' "$SCRATCH/controller$1.out" | tail -1 | json_field adminUrl)"
  token="$(cat "$SCRATCH/controller$1/admin.token")"
  curl -fsS -m 2 -H "authorization: Bearer $token" "$url/v1/status" 2>/dev/null || true
}
peer_port_of() { grep '"listening"' "$SCRATCH/controller$1.out" | tail -1 | json_field peerPort; }
is_leader() { admin_status "$1" | grep -q '"leader":true'; }

EDGE_PORT[0]="$(free_port 27400)"
EDGE_PORT[1]="$(free_port $((EDGE_PORT[0] + 1)))"
start_controller 0
start_controller 1

# The edge: enrolled with a token of controller 0, reporting to both; one object ingested into it.
TOKEN="$("$NODE" "$RUN" controller token create --data-dir "$SCRATCH/controller0" --json | json_field token)"
start_daemon edge agent --data-dir "$SCRATCH/edge" --peer-port 0 --peer-host 127.0.0.1 --http-port 0 --http-host 127.0.0.1 \
  --admin-listen 127.0.0.1:0 --controller "http://127.0.0.1:${EDGE_PORT[0]}" --controller "http://127.0.0.1:${EDGE_PORT[1]}" \
  --enrol-token "$TOKEN" --log-level warn
head -c $((8 * 1024 * 1024)) /dev/urandom >"$SCRATCH/object.bin"
IH="$("$NODE" "$RUN" ingest "$SCRATCH/object.bin" --data-dir "$SCRATCH/edge" --piece-length 256KiB --json | json_field infoHash)"

leader=""
for _ in $(seq 300); do
  if is_leader 0; then leader=0; break; fi
  if is_leader 1; then leader=1; break; fi
  pause
done
[ -n "$leader" ] || { echo "no controller took the lease" >&2; exit 1; }
listed_at() { curl -fsS -m 2 "$STATS/$IH" 2>/dev/null | grep -q "\"port\":$1[,}]"; }
for _ in $(seq 500); do listed_at "$(peer_port_of "$leader")" && break; pause; done
listed_at "$(peer_port_of "$leader")" || { echo "the tracker never listed the leader" >&2; exit 1; }

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc); $(uname -sr); node $("$NODE" --version); redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# trials $TRIALS, poll every $POLL_MS ms; object $IH (32 pieces) on one edge reporting to both controllers"
LEADS=(); LISTS=()
for trial in $(seq "$TRIALS"); do
  survivor=$((1 - leader))
  survivor_port="$(peer_port_of "$survivor")"
  t0="$(now_ms)"
  kill -9 "${CONTROLLER_PID[$leader]}"
  lead_ms=""; list_ms=""
  while [ -z "$lead_ms" ] || [ -z "$list_ms" ]; do
    [ -z "$lead_ms" ] && is_leader "$survivor" && lead_ms=$(($(now_ms) - t0))
    [ -z "$list_ms" ] && listed_at "$survivor_port" && list_ms=$(($(now_ms) - t0))
    [ $(($(now_ms) - t0)) -gt 30000 ] && { echo "trial $trial: no failover within 30 s" >&2; exit 1; }
    pause
  done
  echo "trial $trial: killed controller$leader; controller$survivor leading after $lead_ms ms, listed by the tracker after $list_ms ms"
  LEADS+=("$lead_ms"); LISTS+=("$list_ms")
  wait "${CONTROLLER_PID[$leader]}" 2>/dev/null || true
  start_controller "$leader"
  leader="$survivor"
done
lead_max="$(printf '%s\n' "${LEADS[@]}" | sort -g | tail -1)"
list_max="$(printf '%s\n' "${LISTS[@]}" | sort -g | tail -1)"
echo "# from kill -9 of the leading controller: leading again after median $(printf '%s\n' "${LEADS[@]}" | median) ms (max $lead_max); tracker listing the new leader after median $(printf '%s\n' "${LISTS[@]}" | median) ms (max $list_max)"
