#!/usr/bin/env bash
# Failover of two `edgepeer tracker` processes on one Redis (issue 15), TRIALS times: both trackers run
# (the built CLI, --peer-timeout PEER_TIMEOUT_S: the expiry sweep runs every quarter of it and its lease
# lasts three sweeps); once one of them reports `sweeping: true` in /stats, it is killed with SIGKILL.
# Measured from the kill: the first announce the survivor answers without a failure reason, the first
# /stats in which the survivor sweeps (it took the expiry lease), and the moment a peer announced just
# before the kill, already stale, is gone (expired by the survivor). Polls every POLL_MS with curl, so each
# figure is late by up to that. Redis: a redis-server of its own (Debian), no persistence.
# usage: bash scripts/bench/tracker-failover.sh
#   env: TRIALS=10 PEER_TIMEOUT_S=2 POLL_MS=20
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
TRIALS="${TRIALS:-10}"; PEER_TIMEOUT_S="${PEER_TIMEOUT_S:-2}"; POLL_MS="${POLL_MS:-20}"
for tool in redis-server curl ss; do
  command -v "$tool" >/dev/null || { echo "tracker-failover.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
SCRATCH="$(mktemp -d /tmp/edgepeer-tracker-failover.XXXXXX)"
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

REDIS_PORT="$(free_port 27370)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$SCRATCH" >"$SCRATCH/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q 'Ready to accept' "$SCRATCH/redis.log" && break; sleep 0.1; done

start_tracker() { # name -> prints "pid port"
  local port; port="$(free_port "$1")"
  "$NODE" "$ROOT/bin/run.js" tracker --port "$port" --host 127.0.0.1 --no-udp --peer-timeout "$PEER_TIMEOUT_S" \
    --state "redis://127.0.0.1:$REDIS_PORT" >"$SCRATCH/tracker-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$port/stats" >/dev/null 2>&1 && { echo "$pid $port"; return; }
    sleep 0.05
  done
  echo "tracker on $port did not start: $(cat "$SCRATCH/tracker-$port.log")" >&2; exit 1
}
sweeping() { curl -s "http://127.0.0.1:$1/stats?limit=1" | grep -q '"sweeping":true'; }
HASH="$(printf '%%AB%.0s' {1..20})"
announce() { # port, peer port: 0 when answered without a failure reason
  curl -s "http://127.0.0.1:$1/announce?info_hash=$HASH&peer_id=-FO0001-000000000000&port=$2&left=5&compact=1" |
    LC_ALL=C grep -q interval
}
peer_count() { curl -s "http://127.0.0.1:$1/stats/$(printf 'ab%.0s' {1..20})" | sed -n 's/.*"peerCount":\([0-9]*\).*/\1/p'; }

echo "# $TRIALS trials; two trackers on one redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'); --peer-timeout $PEER_TIMEOUT_S (sweep every $(awk -v t="$PEER_TIMEOUT_S" 'BEGIN{print t * 250}') ms, lease $(awk -v t="$PEER_TIMEOUT_S" 'BEGIN{print t * 750}') ms); polled every $POLL_MS ms"
SERVE=(); SWEEP=(); EXPIRED=()
for trial in $(seq "$TRIALS"); do
  read -r pid_a port_a <<<"$(start_tracker 27400)"
  read -r pid_b port_b <<<"$(start_tracker $((port_a + 1)))"
  PIDS+=("$pid_a" "$pid_b")
  deadline=$(( $(now_ms) + 10000 ))
  until sweeping "$port_a" || sweeping "$port_b"; do
    [ "$(now_ms)" -lt "$deadline" ] || { echo "no tracker sweeps" >&2; exit 1; }
    pause
  done
  if sweeping "$port_a"; then victim=$pid_a; survivor=$port_b; survivor_pid=$pid_b; else victim=$pid_b; survivor=$port_a; survivor_pid=$pid_a; fi
  # A peer that will be stale soon after the kill: only a sweep by the survivor removes it.
  announce "$survivor" 50000 || { echo "survivor refused the announce" >&2; exit 1; }
  kill -9 "$victim"; t0="$(now_ms)"
  served="" swept="" expired=""
  deadline=$(( t0 + PEER_TIMEOUT_S * 1000 * 4 + 10000 ))
  while [ -z "$served" ] || [ -z "$swept" ] || [ -z "$expired" ]; do
    [ "$(now_ms)" -lt "$deadline" ] || { echo "trial $trial: timed out (served=$served swept=$swept expired=$expired)" >&2; exit 1; }
    [ -n "$served" ] || { announce "$survivor" 50001 && served=$(( $(now_ms) - t0 )); }
    [ -n "$swept" ] || { sweeping "$survivor" && swept=$(( $(now_ms) - t0 )); }
    # Peer 50001 keeps being announced below; 50000 alone goes stale and must be expired.
    [ -z "$served" ] || [ -n "$expired" ] || { [ "$(peer_count "$survivor")" = 1 ] && expired=$(( $(now_ms) - t0 )); }
    [ -z "$served" ] || announce "$survivor" 50001 || true
    pause
  done
  echo "# trial $trial: survivor answers after $served ms, sweeps after $swept ms, stale peer gone after $expired ms"
  SERVE+=("$served"); SWEEP+=("$swept"); EXPIRED+=("$expired")
  kill "$survivor_pid"; wait "$survivor_pid" 2>/dev/null || true; wait "$victim" 2>/dev/null || true
done
row() { printf '%s\n' "$@" | median; }
mx() { printf '%s\n' "$@" | sort -g | tail -1; }
echo
echo "| from kill -9 of the sweeping tracker to | median ms | max ms |"
echo "| --- | --- | --- |"
echo "| an announce answered by the other | $(row "${SERVE[@]}") | $(mx "${SERVE[@]}") |"
echo "| the other sweeping (expiry lease taken) | $(row "${SWEEP[@]}") | $(mx "${SWEEP[@]}") |"
echo "| a stale peer expired by the other | $(row "${EXPIRED[@]}") | $(mx "${EXPIRED[@]}") |"
