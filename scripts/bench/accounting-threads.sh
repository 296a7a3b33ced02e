#!/usr/bin/env bash
# Accounting's cost per HTTP request, thread by thread (issue 17): the agent's HTTP server with accounting
# off and on (scripts/bench/http-serve.mjs, cache fits), both on CPU 1, wrk on CPU 0, 16 KiB ranges. Each
# round runs both, in alternating order; for each it prints the requests and the CPU per request of all the
# server's threads, of its main (serving) thread and of the accounting writer thread, from
# /proc/PID/task/*/stat, then the medians of the per-round ratios. What http.sh's process totals cannot say:
# where the cost of a record goes.
#
# usage: [ROUNDS=8] [DURATION=6s] [SIZE_MIB=256] [RANGE_LEN=16384] bash scripts/bench/accounting-threads.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
NODE="$ROOT/node_modules/.bin/node"
ROUNDS="${ROUNDS:-8}"; DURATION="${DURATION:-6s}"; SIZE_MIB="${SIZE_MIB:-256}"; RANGE_LEN="${RANGE_LEN:-16384}"
DATA_DIR="${DATA_DIR:-/tmp/edgepeer-bench-data}"

for tool in wrk taskset openssl; do
  command -v "$tool" >/dev/null || { echo "accounting-threads.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
(cd "$ROOT" && npm run --silent build >/dev/null 2>&1) || echo "# warning: npm run build reported errors"
mkdir -p "$DATA_DIR"
F="$DATA_DIR/random_${SIZE_MIB}MiB.bin"
if [ ! -f "$F" ] || [ "$(stat -c %s "$F")" != "$((SIZE_MIB * 1024 * 1024))" ]; then
  head -c "$((SIZE_MIB * 1024 * 1024))" < <(openssl enc -aes-128-ctr -nosalt -pass pass:edgepeer -in /dev/zero 2>/dev/null) >"$F"
fi
SCRATCH="$(mktemp -d "$DATA_DIR/threads.XXXXXX")"
declare -A PID PORT URL_PATH
cleanup() {
  for pid in "${PID[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

port=18301
for side in off on; do
  accounting_dir=""; [ "$side" = on ] && accounting_dir="$SCRATCH/accounting"
  ACCOUNTING_DIR="$accounting_dir" VERIFY=checksum "$NODE" "$HERE/http-serve.mjs" "$F" "$SCRATCH/store-$side" "$port" $((SIZE_MIB + 64)) >"$SCRATCH/$side.log" 2>&1 &
  PID[$side]=$!; PORT[$side]=$port; port=$((port + 1))
done
for side in off on; do
  for _ in $(seq 600); do grep -q '^READY' "$SCRATCH/$side.log" && break; sleep 0.1; done
  grep -q '^READY' "$SCRATCH/$side.log" || { echo "server ($side) did not start" >&2; cat "$SCRATCH/$side.log" >&2; exit 1; }
  URL_PATH[$side]="$(awk '/^READY/{print $3}' "$SCRATCH/$side.log")"
  taskset -a -p -c 1 "${PID[$side]}" >/dev/null
done

# tid thread-name ticks (utime+stime) for every thread of a process
thread_ticks() {
  local task fields
  for task in /proc/"$1"/task/*; do
    fields="$(cat "$task/stat" 2>/dev/null)" || continue
    echo "${task##*/} $(tr ' ' '_' <"$task/comm") $(echo "${fields##*) }" | awk '{print $12 + $13}')"
  done | sort
}
wrk_run() { # side duration range_len -> requests
  FILE_SIZE="$(stat -c %s "$F")" RANGE_LEN="$3" taskset -c 0 wrk -t1 -c64 -d"$2" --timeout 10s -s "$HERE/http-range.lua" \
    "http://127.0.0.1:${PORT[$1]}${URL_PATH[$1]}" | sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p'
}

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc); node $("$NODE" --version); loadavg $(cut -d' ' -f1 /proc/loadavg)"
echo "# servers on CPU 1, wrk -t1 -c64 on CPU 0; $ROUNDS rounds of $DURATION, ${RANGE_LEN}-byte ranges; order alternates"
for side in off on; do wrk_run "$side" 3s 1048576 >/dev/null; done # fill the caches
echo "round side requests all_us main_us writer_us"
for round in $(seq "$ROUNDS"); do
  order="off on"; [ $((round % 2)) = 0 ] && order="on off"
  for side in $order; do
    thread_ticks "${PID[$side]}" >"$SCRATCH/before"
    requests="$(wrk_run "$side" "$DURATION" "$RANGE_LEN")"
    thread_ticks "${PID[$side]}" >"$SCRATCH/after"
    join "$SCRATCH/before" "$SCRATCH/after" | awk -v r="$round" -v s="$side" -v n="$requests" -v hz="$(getconf CLK_TCK)" '
      { d = $5 - $3; all += d; if ($2 == "MainThread") main = d; if ($2 ~ /^accounting/) writer = d }
      END { us = 1e6 / hz / n; printf "%s %s %d %.2f %.2f %.2f\n", r, s, n, all * us, main * us, writer * us }'
  done
done | tee "$SCRATCH/rounds"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # median, free_port
ratios() { # column: per round, on/off (req/s) or off/on (CPU per request)
  awk -v c="$1" '{v[$1, $2] = $c; rounds[$1] = 1} END {for (r in rounds) print (c == 3) ? v[r, "on"] / v[r, "off"] : v[r, "off"] / v[r, "on"]}' "$SCRATCH/rounds"
}
printf '# accounting on/off, medians of per-round ratios: req/s %.3fx; CPU per request (off/on) %.3fx\n' "$(ratios 3 | median)" "$(ratios 4 | median)"
echo "# accounting: $(wc -l <"$SCRATCH/accounting/accounting.jsonl" 2>/dev/null || echo '?') lines; loadavg at end $(cut -d' ' -f1 /proc/loadavg)"
