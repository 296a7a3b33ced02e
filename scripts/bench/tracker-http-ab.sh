#!/usr/bin/env bash
# The tracker's HTTP cost alone, this build against an earlier one in the same run: one fixed announce
# (numwant=0, one peer: the swarm store does next to nothing), wrk with keep-alive and with
# `Connection: close`, rounds alternating; CPU per request of each tracker process from /proc.
# usage: BASELINE=<dir with bin/ and dist/ built, e.g. from git archive> bash scripts/bench/tracker-http-ab.sh
#   env: ROUNDS=3 DURATION=5 CONNS=32
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-5}"; CONNS="${CONNS:-32}"
[ -f "${BASELINE:-}/dist/commands/tracker.js" ] || { echo "BASELINE must name a built checkout" >&2; exit 1; }
(cd "$ROOT" && npm run --silent build >/dev/null 2>&1) || echo "# warning: npm run build reported errors"
HZ="$(getconf CLK_TCK)"
SCRATCH="$(mktemp -d /tmp/edgepeer-tracker-http.XXXXXX)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait; rm -rf "$SCRATCH"' EXIT
"$NODE" "$ROOT/bin/run.js" tracker --port 28101 --host 127.0.0.1 >/dev/null 2>&1 & PIDS+=($!); NEW=$!
"$NODE" "$BASELINE/bin/run.js" tracker --port 28102 --host 127.0.0.1 >/dev/null 2>&1 & PIDS+=($!); BASE=$!
for port in 28101 28102; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
done
QUERY='info_hash=%ed%ed%ed%ed%ed%ed%ed%ed%ed%ed%ed%ed%ed%ed%ed%ed%00%00%00%01&peer_id=-EP0001-000000000001&port=1234&uploaded=0&downloaded=0&left=0&compact=1&numwant=0'
echo 'wrk.headers["Connection"] = "close"' >"$SCRATCH/close.lua"
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc); loadavg at start $(cut -d' ' -f1 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  for which in "new:$NEW:28101" "baseline:$BASE:28102"; do
    IFS=: read -r name pid port <<<"$which"
    for mode in keep-alive close; do
      script=(); [ "$mode" = close ] && script=(-s "$SCRATCH/close.lua")
      c0="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
      requests="$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "${script[@]}" "http://127.0.0.1:$port/announce?$QUERY" | awk '/requests in/{print $1}')"
      c1="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
      awk -v r="$round" -v n="$name" -v m="$mode" -v q="$requests" -v c="$((c1 - c0))" -v hz="$HZ" -v d="$DURATION" \
        'BEGIN{printf "round %s %s %s: %.0f announces/s, %.1f us CPU per announce\n", r, n, m, q / d, c / hz * 1e6 / q}'
    done
  done
done
echo "# loadavg at end $(cut -d' ' -f1 /proc/loadavg)"
