#!/usr/bin/env bash
# Peer wire: a python3-libtorrent leecher downloads a random file (1 GiB, 1 MiB pieces) on loopback, TCP
# only, from edgepeer's wire server (scripts/bench/wire-serve.ts: real store, piece cache verifying
# through the hashing pool) and, in the same run and interleaved round by round, from a python3-libtorrent
# seeder of the same data and torrent (scripts/bench/lt_seed.py, which checks the data before it seeds).
# Seconds run from add_torrent to every piece received and SHA-1-checked (test/wire/lt_client.py); every
# download is compared with the source afterwards. Seeder CPU-s = user+sys of the seeder process (worker
# threads included) during one download. Then 1,000 concurrent connections to edgepeer's server
# (scripts/bench/wire-crowd.ts): most idle, some downloading; the server's RSS and the throughput.
# Same approach as ../shared/bench/anchors/04_peer_wire.sh.
#
# edgepeer runs in four set-ups:
#   edgepeer-cold     cache CACHE_MIB (256): pieces are read from disk and SHA-1-verified while they are
#                     sent, on every read from disk (--verify always: verifyPolicy 'every-read')
#   edgepeer-once     the same, but a piece is verified only on its first read since start and trusted
#                     after (--verify once: verifyPolicy 'first-read', the former default)
#   edgepeer-checked  SHA-1 on the first read, 16 KiB block checksums on every later read from disk
#                     (--verify checksum: verifyPolicy 'checksum', what the agent does)
#   edgepeer-warm  cache larger than the file, every piece read and verified before READY (--warm), as the
#                  libtorrent seeder checks its data before it seeds; also leeched by a libtorrent offering
#                  RC4 only (edgepeer-warm-rc4: Transmission's default), which the server agrees to
# usage: bash scripts/bench/wire.sh   (env: RUNS=3, SIZE_MIB=1024, CACHE_MIB=256, LEECH_ROOT=/dev/shm,
#        CROWD_IDLE=990, CROWD_DOWNLOADERS=10, CROWD_MIB=256, QUIET_WAIT_S=60, SCRATCH_ROOT=/tmp;
#        ONLY="edgepeer-once edgepeer-checked": leech only these set-ups; CROWD=0: no 1,000-connection part)
#   BASELINE=<git revision> adds edgepeer-checked-base: that revision's wire-serve.ts (its src/, as
#   committed) in the same rounds, compared with edgepeer-checked at the end (a refactoring's before/after).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
RUNS="${RUNS:-3}"; SIZE_MIB="${SIZE_MIB:-1024}"; CACHE_MIB="${CACHE_MIB:-256}"; ONLY="${ONLY:-}"; CROWD="${CROWD:-1}"
CROWD_IDLE="${CROWD_IDLE:-990}"; CROWD_DOWNLOADERS="${CROWD_DOWNLOADERS:-10}"; CROWD_MIB="${CROWD_MIB:-256}"
NODE="$ROOT/node_modules/.bin/node"
SYSPY=/usr/bin/python3
LT_CLIENT="$ROOT/test/wire/lt_client.py"

for tool in openssl cmp; do
  command -v "$tool" >/dev/null || { echo "wire.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
"$SYSPY" -c 'import libtorrent' 2>/dev/null || { echo "wire.sh needs python3-libtorrent (bash scripts/setup-system.sh)" >&2; exit 1; }
[ -x "$NODE" ] || { echo "wire.sh needs the project's Node (npm ci)" >&2; exit 1; }

SCRATCH="$(mktemp -d "${SCRATCH_ROOT:-/tmp}/edgepeer-bench-wire.XXXXXX")"
LEECH_ROOT="${LEECH_ROOT:-/dev/shm}"; [ -d "$LEECH_ROOT" ] || LEECH_ROOT="$SCRATCH"
LEECH_DIR="$(mktemp -d "$LEECH_ROOT/edgepeer-bench-wire-dl.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$SCRATCH" "$LEECH_DIR"
}
trap cleanup EXIT

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # median, free_port
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
rss_mib() { awk '/VmRSS/{printf "%d", $2 / 1024}' "/proc/$1/status"; }
# The machine may be shared: before each round wait (up to QUIET_WAIT_S s) for a second of >= 90% idle CPU.
QUIET_WAIT_S="${QUIET_WAIT_S:-60}"; noisy_rounds=0
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
# wait_line FILE PATTERN PID: waits until FILE has a line matching PATTERN (or the process dies).
wait_line() {
  local t=0
  until grep -q "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || { echo "process $3 died:" >&2; tail -20 "$1" >&2; return 1; }
    sleep 0.1; t=$((t + 1)); [ "$t" -lt 3000 ] || { echo "timeout waiting for '$2' in $1" >&2; return 1; }
  done
}

BASELINE="${BASELINE:-}"; BASE_DIR="$SCRATCH/baseline"
if [ -n "$BASELINE" ]; then
  # The revision's files as committed (no worktree, nothing changed in the repository), with this tree's
  # node_modules; node runs its TypeScript as it is.
  mkdir -p "$BASE_DIR"
  git -C "$ROOT" archive "$BASELINE" | tar -x -C "$BASE_DIR"
  ln -s "$ROOT/node_modules" "$BASE_DIR/node_modules"
fi

DATA="$SCRATCH/data"; mkdir -p "$DATA"
F="$DATA/random_${SIZE_MIB}MiB.bin"
head -c "$((SIZE_MIB * 1024 * 1024))" < <(openssl enc -aes-128-ctr -nosalt -pass pass:edgepeer -in /dev/zero 2>/dev/null) >"$F"
BYTES="$(stat -c %s "$F")"
cat "$F" >/dev/null

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc), $(free -g | awk '/^Mem:/{print $2}') GiB RAM; $(uname -sr)"
echo "# node $("$NODE" --version); libtorrent $("$SYSPY" -c 'import libtorrent as lt; print(lt.__version__)'); edgepeer $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# $BYTES bytes random, 1 MiB pieces, loopback TCP; leecher saves to $LEECH_ROOT ($(df --output=fstype "$LEECH_ROOT" | tail -1)); runs: $RUNS, interleaved; loadavg at start: $(cut -d' ' -f1 /proc/loadavg)"

start_edgepeer() { # name extra-args... -> EP_PID EP_PORT TORRENT
  local name="$1"; shift
  local work="$SCRATCH/$name" serve="$HERE/wire-serve.ts"; mkdir -p "$work"
  [ "${name%-base}" != "$name" ] && serve="$BASE_DIR/scripts/bench/wire-serve.ts"
  "$NODE" "$serve" "$F" "$work" "$@" >"$work/out" 2>"$work/err" & EP_PID=$!; PIDS+=("$EP_PID")
  wait_line "$work/out" '^READY' "$EP_PID"
  EP_PORT="$(sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$work/out")"
  TORRENT="$(sed -n 's/^READY.* torrent=\([^ ]*\).*/\1/p' "$work/out")"
  echo "# $name: $(grep '^READY' "$work/out" | sed 's/^READY //')"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# A feature against none, the warm set-up each way, interleaved; then it stops. PAIR_ONLY=qos: egress limits
# configured but not binding (src/qos, QOS_SETTINGS; QOS_ONLY=1 means the same); PAIR_ONLY=acct: accounting
# records (src/accounting) of every session, interim ones every second; PAIR_ONLY=gate (GATE_ONLY=1):
# peerAuth: tracker, with a peer gate that names the leecher (an authorised peer).
QOS_SETTINGS="${QOS_SETTINGS:-{\"rate\":100000000000,\"wireRate\":100000000000,\"objectRate\":100000000000,\"clientRate\":100000000000,\"classes\":\"gold:3,bronze:1\"\}}"
PAIR_ONLY="${PAIR_ONLY:-}"; [ "${QOS_ONLY:-}" = 1 ] && PAIR_ONLY=qos; [ "${GATE_ONLY:-}" = 1 ] && PAIR_ONLY=gate
if [ -n "$PAIR_ONLY" ]; then
  case "$PAIR_ONLY" in
    qos) PAIR_ARGS=(--qos "$QOS_SETTINGS"); echo "# qos settings: $QOS_SETTINGS" ;;
    acct) PAIR_ARGS=(--accounting "$SCRATCH/accounting"); echo "# accounting records in $SCRATCH/accounting" ;;
    gate) PAIR_ARGS=(--peer-gate) ;;
    *) echo "PAIR_ONLY must be qos, acct or gate" >&2; exit 2 ;;
  esac
  start_edgepeer edgepeer-warm --cache-mib $((SIZE_MIB + 64)) --warm; WARM_PID="$EP_PID"; WARM_PORT="$EP_PORT"
  start_edgepeer "edgepeer-warm-$PAIR_ONLY" --cache-mib $((SIZE_MIB + 64)) --warm "${PAIR_ARGS[@]}"; PAIR_PID="$EP_PID"; PAIR_PORT="$EP_PORT"
fi
if [ -z "$PAIR_ONLY" ]; then
start_edgepeer edgepeer-cold --cache-mib "$CACHE_MIB" --verify always; COLD_PID="$EP_PID"; COLD_PORT="$EP_PORT"
start_edgepeer edgepeer-once --cache-mib "$CACHE_MIB" --verify once; ONCE_PID="$EP_PID"; ONCE_PORT="$EP_PORT"
start_edgepeer edgepeer-checked --cache-mib "$CACHE_MIB" --verify checksum; CHECKED_PID="$EP_PID"; CHECKED_PORT="$EP_PORT"
start_edgepeer edgepeer-warm --cache-mib $((SIZE_MIB + 64)) --warm; WARM_PID="$EP_PID"; WARM_PORT="$EP_PORT"
if [ -n "$BASELINE" ]; then
  start_edgepeer edgepeer-checked-base --cache-mib "$CACHE_MIB" --verify checksum; BASE_PID="$EP_PID"; BASE_PORT="$EP_PORT"
  echo "# baseline: $BASELINE = $(git -C "$ROOT" rev-parse --short "$BASELINE") (edgepeer-checked-base)"
fi
"$SYSPY" "$HERE/lt_seed.py" "$TORRENT" "$DATA" >"$SCRATCH/lt.out" 2>&1 & LT_PID=$!; PIDS+=("$LT_PID")
wait_line "$SCRATCH/lt.out" '^READY' "$LT_PID"
LT_PORT="$(sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$SCRATCH/lt.out")"
echo "# libtorrent seeder: $(sed -n 's/^READY //p' "$SCRATCH/lt.out")"
fi
echo "# commands: node scripts/bench/wire-serve.ts FILE WORK [--cache-mib N] [--warm]; /usr/bin/python3 scripts/bench/lt_seed.py TORRENT DIR;"
echo "#           leecher: /usr/bin/python3 test/wire/lt_client.py --torrent TORRENT --save DIR --peer 127.0.0.1:PORT"

declare -A SECS CPU
leech() { # seeder-name port pid [leecher args...]
  local dl="$LEECH_DIR/$1"; rm -rf "$dl"; mkdir -p "$dl"
  local c0 c1 out
  c0="$(cpu_s "$3")"
  local status=0
  out="$("$SYSPY" "$LT_CLIENT" --torrent "$TORRENT" --save "$dl" --peer "127.0.0.1:$2" --timeout 300 "${@:4}")" || status=$?
  c1="$(cpu_s "$3")"
  local seconds; seconds="$(sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' <<<"$out")"
  if [ "$status" != 0 ] || ! grep -q '"done": true' <<<"$out" || ! cmp -s "$F" "$dl/$(basename "$F")"; then
    echo "# $1: download FAILED (exit $status) or data differs: $out"; rm -rf "$dl"; return 0
  fi
  rm -rf "$dl"
  local cpu; cpu="$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}')"
  echo "#   run: $1 ${seconds} s, seeder CPU ${cpu} s, loadavg $(cut -d' ' -f1 /proc/loadavg)"
  SECS[$1]+="$seconds "; CPU[$1]+="$cpu "
}

if [ -n "$PAIR_ONLY" ]; then
  PAIR="edgepeer-warm-$PAIR_ONLY"
  for i in $(seq "$RUNS"); do
    wait_quiet; leech edgepeer-warm "$WARM_PORT" "$WARM_PID"
    wait_quiet; leech "$PAIR" "$PAIR_PORT" "$PAIR_PID"
  done
  for s in edgepeer-warm "$PAIR"; do
    m="$(tr ' ' '\n' <<<"${SECS[$s]:-}" | { grep . || true; } | median)"
    c="$(tr ' ' '\n' <<<"${CPU[$s]:-}" | { grep . || true; } | median)"
    printf '%-18s median %ss, %s MB/s, seeder CPU %ss; runs: %s\n' "$s" "$m" "$(awk -v b="$BYTES" -v s="$m" 'BEGIN{printf "%.0f", (s > 0) ? b / s / 1e6 : 0}')" "$c" "${SECS[$s]:-}"
    declare "MED_${s//-/_}=$m"; declare "CPU_${s//-/_}=$c"
  done
  med_pair="MED_${PAIR//-/_}"; cpu_pair="CPU_${PAIR//-/_}"
  echo "# ratio $PAIR_ONLY/none, warm, same run (seconds none / seconds with $PAIR_ONLY; goal >= 0.97 for qos, 0.95 for acct and gate): $(awk -v n="$MED_edgepeer_warm" -v q="${!med_pair}" 'BEGIN{printf "%.2f", (q > 0) ? n/q : 0}'); seeder CPU none/$PAIR_ONLY $(awk -v n="$CPU_edgepeer_warm" -v q="${!cpu_pair}" 'BEGIN{printf "%.2f", (q > 0) ? n/q : 0}')"
  echo "# rounds started without a quiet second: $noisy_rounds; loadavg at end: $(cut -d' ' -f1 /proc/loadavg)"
  exit 0
fi

wanted() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
for i in $(seq "$RUNS"); do
  ! wanted edgepeer-cold || { wait_quiet; leech edgepeer-cold "$COLD_PORT" "$COLD_PID"; }
  ! wanted libtorrent || { wait_quiet; leech libtorrent "$LT_PORT" "$LT_PID"; }
  ! wanted edgepeer-warm || { wait_quiet; leech edgepeer-warm "$WARM_PORT" "$WARM_PID"; }
  # The same seeder, a leecher offering RC4 only (as Transmission does by default): what RC4 costs.
  ! wanted edgepeer-warm-rc4 || { wait_quiet; leech edgepeer-warm-rc4 "$WARM_PORT" "$WARM_PID" --encryption rc4; }
  ! wanted edgepeer-once || { wait_quiet; leech edgepeer-once "$ONCE_PORT" "$ONCE_PID"; }
  ! wanted edgepeer-checked || { wait_quiet; leech edgepeer-checked "$CHECKED_PORT" "$CHECKED_PID"; }
  [ -z "$BASELINE" ] || { wait_quiet; leech edgepeer-checked-base "$BASE_PORT" "$BASE_PID"; }
done

printf '%-15s %9s %8s %14s  %s\n' seeder median_s MB/s seeder_cpu_s "seconds per run"
SEEDERS="edgepeer-cold edgepeer-once edgepeer-checked edgepeer-warm edgepeer-warm-rc4 libtorrent"
[ -z "$BASELINE" ] || SEEDERS="$SEEDERS edgepeer-checked-base"
for s in $SEEDERS; do
  m="$(tr ' ' '\n' <<<"${SECS[$s]:-}" | { grep . || true; } | median)"
  c="$(tr ' ' '\n' <<<"${CPU[$s]:-}" | { grep . || true; } | median)"
  printf '%-15s %9s %8.0f %14s  %s\n' "$s" "$m" "$(awk -v b="$BYTES" -v s="$m" 'BEGIN{print (s > 0) ? b / s / 1e6 : 0}')" "$c" "${SECS[$s]:-}"
  declare "MED_${s//-/_}=$m"
done
echo "# ratio (libtorrent seconds / edgepeer seconds; >= 1.0: edgepeer at least as fast):" \
  "cold $(awk -v l="$MED_libtorrent" -v e="$MED_edgepeer_cold" 'BEGIN{printf "%.2f", (e > 0) ? l/e : 0}')," \
  "once $(awk -v l="$MED_libtorrent" -v e="$MED_edgepeer_once" 'BEGIN{printf "%.2f", (e > 0) ? l/e : 0}')," \
  "checked $(awk -v l="$MED_libtorrent" -v e="$MED_edgepeer_checked" 'BEGIN{printf "%.2f", (e > 0) ? l/e : 0}')," \
  "warm $(awk -v l="$MED_libtorrent" -v e="$MED_edgepeer_warm" 'BEGIN{printf "%.2f", (e > 0) ? l/e : 0}')"
echo "# RC4 leecher against plaintext, warm seeder, same run (seconds plaintext / seconds RC4): $(awk -v p="$MED_edgepeer_warm" -v r="$MED_edgepeer_warm_rc4" 'BEGIN{printf "%.2f", (r > 0) ? p/r : 0}')"
echo "# checked (the default) against once (trusting), same run: $(awk -v o="$MED_edgepeer_once" -v c="$MED_edgepeer_checked" 'BEGIN{printf "%.2f", (c > 0) ? o/c : 0}')"
[ -z "$BASELINE" ] || echo "# current against baseline, checked, same run (seconds baseline / seconds current): $(awk -v b="$MED_edgepeer_checked_base" -v c="$MED_edgepeer_checked" 'BEGIN{printf "%.2f", (c > 0) ? b/c : 0}')"
echo "# rounds started without a quiet second: $noisy_rounds; loadavg at end: $(cut -d' ' -f1 /proc/loadavg)"
stop "$LT_PID"; stop "$WARM_PID"; stop "$ONCE_PID"; stop "$CHECKED_PID"; [ -z "$BASELINE" ] || stop "$BASE_PID"

# 1,000 connections to the cold set-up's server: CROWD_IDLE idle peers, CROWD_DOWNLOADERS downloading.
[ "$CROWD" = 1 ] || { stop "$COLD_PID"; exit 0; }
wait_quiet
echo "# crowd: $CROWD_IDLE idle + $CROWD_DOWNLOADERS downloading peers (${CROWD_MIB} MiB each, 16 KiB blocks, 250 in flight) on edgepeer-cold; RSS before: $(rss_mib "$COLD_PID") MiB"
echo "#   command: node scripts/bench/wire-crowd.ts PORT TORRENT SERVER_PID --idle $CROWD_IDLE --downloaders $CROWD_DOWNLOADERS --mib $CROWD_MIB"
"$NODE" "$HERE/wire-crowd.ts" "$COLD_PORT" "$TORRENT" "$COLD_PID" --idle "$CROWD_IDLE" \
  --downloaders "$CROWD_DOWNLOADERS" --mib "$CROWD_MIB"
kill -USR2 "$COLD_PID"; sleep 0.5
echo "# server stats after the crowd: $(tail -1 "$SCRATCH/edgepeer-cold/out")"
stop "$COLD_PID"
