#!/usr/bin/env bash
# Piece hashing: a random file (2 GiB) warm in the page cache, 1 MiB pieces. In the same run, round by
# round: edgepeer's hashFiles (dist/, Node 24), `mktorrent -t JOBS` on the same file, and the machine's SHA-1
# limit `openssl speed -evp sha1 -bytes 16384 -seconds 3 -multi JOBS`. Median of RUNS clean runs each; peak
# RSS of edgepeer's process from /usr/bin/time. Same approach as the anchors in ../shared/bench/anchors
# (01_hash_limit.sh, 02_torrent_create.sh).
#
# The machine may be shared. Every measurement counts the CPU time other processes (and the hypervisor,
# as steal) took while it ran: /proc/stat busy time minus the measured command's own user+sys time. A
# measurement where others took more than NOISE_PCT% of the CPUs is noisy; rounds repeat (up to MAX_ROUNDS)
# until each tool has RUNS clean ones. Noisy ones are printed, not used (unless too few clean ones exist).
# usage: bash scripts/bench/hash.sh
#   env: RUNS=3, MAX_ROUNDS=4*RUNS, NOISE_PCT=5, SIZE_MIB=2048, JOBS=$(nproc), SCRATCH_ROOT=/tmp
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="${RUNS:-3}"; MAX_ROUNDS="${MAX_ROUNDS:-$((RUNS * 4))}"; NOISE_PCT="${NOISE_PCT:-5}"
SIZE_MIB="${SIZE_MIB:-2048}"; JOBS="${JOBS:-$(nproc)}"
PIECE=$((1024 * 1024))
NODE="$ROOT/node_modules/.bin/node"
CLK="$(getconf CLK_TCK)"; CPUS="$(nproc)"

for tool in mktorrent openssl /usr/bin/time dd; do
  command -v "$tool" >/dev/null || { echo "hash.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
[ -x "$NODE" ] || { echo "hash.sh needs the project's Node (npm ci)" >&2; exit 1; }

SCRATCH="$(mktemp -d "${SCRATCH_ROOT:-/tmp}/edgepeer-bench-hash.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT

# Measure what ships: the build. (Type errors elsewhere in the tree do not stop tsc from emitting dist/.)
(cd "$ROOT" && npm run --silent build >"$SCRATCH/build.log" 2>&1) ||
  echo "# warning: npm run build reported errors (measuring dist/ as emitted): $(grep -c 'error TS' "$SCRATCH/build.log") TS errors"
[ -f "$ROOT/dist/src/hashing/index.js" ] && [ -f "$ROOT/dist/workers/hash-worker.js" ] ||
  { echo "build did not produce dist/src/hashing or dist/workers" >&2; cat "$SCRATCH/build.log" >&2; exit 1; }

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # median, free_port
calc() { awk "BEGIN{print $1}"; }
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

F="$SCRATCH/random_${SIZE_MIB}MiB.bin"
echo "# creating $F ($SIZE_MIB MiB random)..." >&2
# openssl's AES-CTR keystream: much faster than /dev/urandom and just as incompressible
head -c "$((SIZE_MIB * 1024 * 1024))" < <(openssl enc -aes-128-ctr -nosalt -pass pass:edgepeer -in /dev/zero 2>/dev/null) >"$F"
BYTES="$(stat -c %s "$F")"

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$CPUS, SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no), $(free -g | awk '/^Mem:/{print $2}') GiB RAM"
echo "# $(uname -sr); node $("$NODE" --version); $(openssl version | cut -d' ' -f1-2); $(mktorrent -h 2>&1 | grep -m1 -o 'mktorrent [0-9.]*')"
echo "# file: $BYTES bytes random, warm in page cache; piece $PIECE bytes; jobs: $JOBS; clean runs wanted: $RUNS (rounds <= $MAX_ROUNDS; noisy = others took > $NOISE_PCT% of the CPUs); loadavg at start: $(cut -d' ' -f1 /proc/loadavg)"
echo "# commands:"
echo "#   edgepeer: /usr/bin/time node scripts/bench/hash-files.mjs FILE $PIECE $JOBS   (createHashPool({threads: $JOBS}).hashFiles)"
echo "#   mktorrent: /usr/bin/time mktorrent -l 20 -t $JOBS -o OUT.torrent FILE"
echo "#   limit: openssl speed -evp sha1 -bytes 16384 -seconds 3 -multi $JOBS"
echo "#   read(2) from page cache, 1 thread: dd if=FILE of=/dev/null bs=1M"

busy_jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

# measure NAME CMD...: runs CMD under /usr/bin/time; sets M_WALL M_RSS_KB M_OTHERS_PCT, output in $SCRATCH/NAME.out
measure() {
  local name="$1"; shift
  local b0 b1
  b0="$(busy_jiffies)"
  /usr/bin/time -f '%e %M %U %S' -o "$SCRATCH/time" "$@" >"$SCRATCH/$name.out" 2>"$SCRATCH/$name.err" ||
    { echo "$name FAILED: $*"; cat "$SCRATCH/$name.err"; exit 1; }
  b1="$(busy_jiffies)"
  local user sys
  read -r M_WALL M_RSS_KB user sys < <(tail -1 "$SCRATCH/time")
  M_OTHERS_PCT="$(calc "(($b1 - $b0) / $CLK - $user - $sys) / ($M_WALL * $CPUS) * 100")"
  M_OTHERS_PCT="$(calc "$M_OTHERS_PCT < 0 ? 0 : $M_OTHERS_PCT" | xargs printf '%.1f')"
}
clean() { awk -v p="$1" -v n="$NOISE_PCT" 'BEGIN{exit !(p <= n)}'; }

# Per tool: clean values, all values, and a log line per measurement.
ep_call=(); ep_wall=(); ep_rss=(); mk_wall=(); mk_rss=(); limit=(); read_bps=()
ep_all=(); mk_all=(); limit_all=(); log=()
round=0
while [ "$round" -lt "$MAX_ROUNDS" ] && { [ ${#ep_call[@]} -lt "$RUNS" ] || [ ${#mk_wall[@]} -lt "$RUNS" ] || [ ${#limit[@]} -lt "$RUNS" ]; }; do
  round=$((round + 1))
  cat "$F" >/dev/null
  read_bps+=("$(dd if="$F" of=/dev/null bs=1M 2>&1 | awk '/bytes/ {print $1/$(NF-3)}' | tail -1)")

  if [ ${#mk_wall[@]} -lt "$RUNS" ]; then
    measure mktorrent mktorrent -l 20 -t "$JOBS" -o "$SCRATCH/mk.$round.torrent" "$F"
    mk_all+=("$M_WALL"); log+=("round $round mktorrent ${M_WALL}s others ${M_OTHERS_PCT}%")
    if clean "$M_OTHERS_PCT"; then mk_wall+=("$M_WALL"); mk_rss+=("$M_RSS_KB"); fi
    mk_torrent="$SCRATCH/mk.$round.torrent"
  fi

  if [ ${#ep_call[@]} -lt "$RUNS" ]; then
    cat "$F" >/dev/null
    measure edgepeer "$NODE" "$ROOT/scripts/bench/hash-files.mjs" "$F" "$PIECE" "$JOBS"
    call="$(json_field callSeconds <"$SCRATCH/edgepeer.out" | xargs printf '%.3f')"
    ep_all+=("$call"); log+=("round $round edgepeer call ${call}s process ${M_WALL}s others ${M_OTHERS_PCT}%")
    if clean "$M_OTHERS_PCT"; then ep_call+=("$call"); ep_wall+=("$M_WALL"); ep_rss+=("$M_RSS_KB"); fi
    cp "$SCRATCH/edgepeer.out" "$SCRATCH/edgepeer.json"
  fi

  if [ ${#limit[@]} -lt "$RUNS" ]; then
    measure openssl openssl speed -evp sha1 -bytes 16384 -seconds 3 -multi "$JOBS"
    # openssl speed prints 1000s of bytes/s
    v="$(awk '$1=="sha1" && $2 ~ /k$/ {sub(/k$/,"",$2); printf "%.0f\n", $2*1000}' "$SCRATCH/openssl.out" | tail -1)"
    limit_all+=("$v"); log+=("round $round openssl $(calc "$v / 1e9" | xargs printf '%.3f') GB/s others ${M_OTHERS_PCT}%")
    if clean "$M_OTHERS_PCT"; then limit+=("$v"); fi
  fi
done

# Too few clean measurements: fall back to all of them, and say so.
noisy_note=""
[ ${#ep_call[@]} -ge "$RUNS" ] || { ep_call=("${ep_all[@]}"); ep_wall=(NA); noisy_note="$noisy_note edgepeer"; }
[ ${#mk_wall[@]} -ge "$RUNS" ] || { mk_wall=("${mk_all[@]}"); noisy_note="$noisy_note mktorrent"; }
[ ${#limit[@]} -ge "$RUNS" ] || { limit=("${limit_all[@]}"); noisy_note="$noisy_note openssl"; }

# Same piece digests as mktorrent, or the figures mean nothing.
ep_pieces="$(json_field piecesSha1 <"$SCRATCH/edgepeer.json")"
mk_pieces="$("$NODE" "$ROOT/scripts/bench/torrent-pieces-sha1.mjs" "$mk_torrent")"
[ "$ep_pieces" = "$mk_pieces" ] || { echo "piece digests DIFFER: edgepeer $ep_pieces, mktorrent $mk_pieces"; exit 1; }

m_call="$(printf '%s\n' "${ep_call[@]}" | median)"; m_wall="$(printf '%s\n' "${ep_wall[@]}" | median)"
m_mk="$(printf '%s\n' "${mk_wall[@]}" | median)"; m_limit="$(printf '%s\n' "${limit[@]}" | median)"
m_rss="$(printf '%s\n' "${ep_rss[@]:-0}" | median)"; max_rss="$(printf '%s\n' "${ep_rss[@]:-0}" | sort -g | tail -1)"
m_mk_rss="$(printf '%s\n' "${mk_rss[@]:-0}" | median)"; m_read="$(printf '%s\n' "${read_bps[@]}" | median)"

printf '%s\n' "${log[@]}" | sed 's/^/#   /'
printf '%-44s %9s %8s %11s   %s\n' what median_s GB/s peakRSS_MB "clean runs"
printf '%-44s %9.3f %8.3f %11.0f   %s\n' "edgepeer hashFiles (call, pool started)" "$m_call" "$(calc "$BYTES / $m_call / 1e9")" "$(calc "$m_rss / 1024")" "${ep_call[*]}"
wall_gbps=NA; [ "$m_wall" = NA ] || wall_gbps="$(calc "$BYTES / $m_wall / 1e9" | xargs printf '%.3f')"
printf '%-44s %9s %8s %11.0f   %s\n' "edgepeer process (node start to exit)" "$m_wall" "$wall_gbps" "$(calc "$m_rss / 1024")" "${ep_wall[*]}"
printf '%-44s %9.3f %8.3f %11.0f   %s\n' "mktorrent -l 20 -t $JOBS" "$m_mk" "$(calc "$BYTES / $m_mk / 1e9")" "$(calc "$m_mk_rss / 1024")" "${mk_wall[*]}"
printf '%-44s %9s %8.3f %11s   %s\n' "openssl speed sha1 16KiB -multi $JOBS (limit)" - "$(calc "$m_limit / 1e9")" - "$(printf '%s\n' "${limit[@]}" | awk '{printf "%.3f ", $1/1e9}')"
printf '%-44s %9s %8.3f %11s   %s\n' "dd bs=1M read from page cache, 1 thread" - "$(calc "$m_read / 1e9")" - "$(printf '%s\n' "${read_bps[@]}" | awk '{printf "%.2f ", $1/1e9}')"

ep_bps="$(calc "$BYTES / $m_call")"; mk_bps="$(calc "$BYTES / $m_mk")"
# What read() + SHA-1 can reach at best: each thread hashes at limit/JOBS and also copies every byte out of
# the page cache at the dd rate.
ceiling="$(calc "$JOBS / ($JOBS / $m_limit + 1 / $m_read)")"
echo "# ratios (throughput): edgepeer call / mktorrent = $(calc "$ep_bps / $mk_bps" | xargs printf '%.2f')," \
     "edgepeer process / mktorrent = $( [ "$m_wall" = NA ] && echo NA || calc "$m_mk / $m_wall" | xargs printf '%.2f')," \
     "edgepeer call / openssl limit = $(calc "$ep_bps / $m_limit" | xargs printf '%.2f')," \
     "mktorrent / openssl limit = $(calc "$mk_bps / $m_limit" | xargs printf '%.2f')"
echo "# read+hash ceiling (the limit plus one page-cache copy per byte): $(calc "$ceiling / 1e9" | xargs printf '%.3f') GB/s" \
     "= $(calc "$ceiling / $m_limit" | xargs printf '%.2f') of the limit; edgepeer call reaches $(calc "$ep_bps / $ceiling" | xargs printf '%.2f') of it"
echo "# peak RSS of edgepeer: median $(calc "$m_rss / 1024" | xargs printf '%.0f') MB, max $(calc "$max_rss / 1024" | xargs printf '%.0f') MB;" \
     "pieces identical to mktorrent's (sha1 of pieces $ep_pieces)"
echo "# rounds: $round; loadavg at end: $(cut -d' ' -f1 /proc/loadavg)${noisy_note:+; NOT ENOUGH CLEAN RUNS, noisy figures used for:$noisy_note}"
