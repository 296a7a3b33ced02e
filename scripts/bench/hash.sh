#!/usr/bin/env bash
# Piece hashing: a random file (2 GiB) warm in the page cache, 1 MiB pieces. In the same run, interleaved
# round by round: edgepeer's hashFiles (dist/, Node 24), `mktorrent -t JOBS` on the same file, and the
# machine's SHA-1 limit `openssl speed -evp sha1 -bytes 16384 -seconds 3 -multi JOBS`. Median of RUNS runs;
# peak RSS of edgepeer's process from /usr/bin/time. Same approach as the anchors in
# ../shared/bench/anchors (01_hash_limit.sh, 02_torrent_create.sh).
# usage: bash scripts/bench/hash.sh   (env: RUNS=3, SIZE_MIB=2048, JOBS=$(nproc), QUIET_WAIT_S=120, SCRATCH_ROOT=/tmp)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="${RUNS:-3}"; SIZE_MIB="${SIZE_MIB:-2048}"; JOBS="${JOBS:-$(nproc)}"
PIECE=$((1024 * 1024))
NODE="$ROOT/node_modules/.bin/node"

for tool in mktorrent openssl /usr/bin/time dd; do
  command -v "$tool" >/dev/null || { echo "hash.sh needs $tool (bash scripts/setup-system.sh)" >&2; exit 1; }
done
[ -x "$NODE" ] || { echo "hash.sh needs the project's Node (npm ci)" >&2; exit 1; }

SCRATCH="$(mktemp -d "${SCRATCH_ROOT:-/tmp}/edgepeer-bench-hash.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT

# Measure what ships: the build. (Other parts' type errors do not stop tsc from emitting dist/.)
(cd "$ROOT" && npm run --silent build >"$SCRATCH/build.log" 2>&1) ||
  echo "# warning: npm run build reported errors (measuring dist/ as emitted): $(grep -c 'error TS' "$SCRATCH/build.log") TS errors"
[ -f "$ROOT/dist/src/hashing/index.js" ] && [ -f "$ROOT/dist/workers/hash-worker.js" ] ||
  { echo "build did not produce dist/src/hashing or dist/workers" >&2; cat "$SCRATCH/build.log" >&2; exit 1; }

median() { sort -g | awk '{a[NR]=$1} END{ if(NR==0){print "NA"; exit} if(NR%2){print a[(NR+1)/2]} else {printf "%.6g\n",(a[NR/2]+a[NR/2+1])/2} }'; }
gbps() { awk -v b="$1" -v s="$2" 'BEGIN{printf "%.3f", b/s/1e9}'; }
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

F="$SCRATCH/random_${SIZE_MIB}MiB.bin"
echo "# creating $F ($SIZE_MIB MiB random)..." >&2
# openssl's AES-CTR keystream: much faster than /dev/urandom and just as incompressible
head -c "$((SIZE_MIB * 1024 * 1024))" < <(openssl enc -aes-128-ctr -nosalt -pass pass:edgepeer -in /dev/zero 2>/dev/null) >"$F"
BYTES="$(stat -c %s "$F")"

echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x$(nproc), SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no), $(free -g | awk '/^Mem:/{print $2}') GiB RAM"
echo "# $(uname -sr); node $("$NODE" --version); $(openssl version | cut -d' ' -f1-2); $(mktorrent -h 2>&1 | grep -m1 -o 'mktorrent [0-9.]*')"
echo "# file: $BYTES bytes random, warm in page cache; piece $PIECE bytes; jobs: $JOBS; runs: $RUNS (interleaved); loadavg at start: $(cut -d' ' -f1 /proc/loadavg)"
echo "# commands:"
echo "#   edgepeer: /usr/bin/time -f '%e %M' node scripts/bench/hash-files.mjs FILE $PIECE $JOBS   (createHashPool({threads: $JOBS}).hashFiles)"
echo "#   mktorrent: /usr/bin/time -f '%e %M' mktorrent -l 20 -t $JOBS -o OUT.torrent FILE"
echo "#   limit: openssl speed -evp sha1 -bytes 16384 -seconds 3 -multi $JOBS"
echo "#   read(2) from page cache, 1 thread: dd if=FILE of=/dev/null bs=1M"

# The machine may be shared: before each measurement, wait (up to QUIET_WAIT_S seconds) for a second in
# which the CPUs were at least 90% idle, and count the measurements that had to start without one.
QUIET_WAIT_S="${QUIET_WAIT_S:-120}"; noisy=0
cpu_idle_pct() { # over one second, from /proc/stat
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * idle / total : 100 ))
}
wait_quiet() {
  local waited=0
  while [ "$(cpu_idle_pct)" -lt 90 ]; do
    waited=$((waited + 1))
    [ "$waited" -lt "$QUIET_WAIT_S" ] || { noisy=$((noisy + 1)); return; }
  done
}

ossl_limit() { # bytes/s; openssl speed prints 1000s of bytes/s
  openssl speed -evp sha1 -bytes 16384 -seconds 3 -multi "$JOBS" 2>/dev/null |
    awk '$1=="sha1" && $2 ~ /k$/ {sub(/k$/,"",$2); printf "%.0f\n", $2*1000}' | tail -1
}

ep_call=(); ep_wall=(); ep_rss=(); mk_wall=(); mk_rss=(); limit=(); read_bps=()
for i in $(seq "$RUNS"); do
  cat "$F" >/dev/null
  read_bps+=("$(dd if="$F" of=/dev/null bs=1M 2>&1 | awk '/bytes/ {print $1/$(NF-3)}' | tail -1)")

  wait_quiet
  /usr/bin/time -f '%e %M' -o "$SCRATCH/time" mktorrent -l 20 -t "$JOBS" -o "$SCRATCH/mk.$i.torrent" "$F" >/dev/null 2>"$SCRATCH/err" ||
    { echo "mktorrent FAILED"; cat "$SCRATCH/err"; exit 1; }
  read -r e m < <(tail -1 "$SCRATCH/time"); mk_wall+=("$e"); mk_rss+=("$m")

  cat "$F" >/dev/null
  wait_quiet
  /usr/bin/time -f '%e %M' -o "$SCRATCH/time" "$NODE" "$ROOT/scripts/bench/hash-files.mjs" "$F" "$PIECE" "$JOBS" >"$SCRATCH/ep.json" 2>"$SCRATCH/err" ||
    { echo "edgepeer hashFiles FAILED"; cat "$SCRATCH/err"; exit 1; }
  read -r e m < <(tail -1 "$SCRATCH/time"); ep_wall+=("$e"); ep_rss+=("$m")
  ep_call+=("$(json_field callSeconds <"$SCRATCH/ep.json")")

  wait_quiet
  limit+=("$(ossl_limit)")
done

# Same piece digests as mktorrent, or the figures mean nothing.
ep_pieces="$(json_field piecesSha1 <"$SCRATCH/ep.json")"
mk_pieces="$("$NODE" "$ROOT/scripts/bench/torrent-pieces-sha1.mjs" "$SCRATCH/mk.1.torrent")"
[ "$ep_pieces" = "$mk_pieces" ] || { echo "piece digests DIFFER: edgepeer $ep_pieces, mktorrent $mk_pieces"; exit 1; }

m_call="$(printf '%s\n' "${ep_call[@]}" | median)"; m_wall="$(printf '%s\n' "${ep_wall[@]}" | median)"
m_mk="$(printf '%s\n' "${mk_wall[@]}" | median)"; m_limit="$(printf '%s\n' "${limit[@]}" | median)"
m_rss="$(printf '%s\n' "${ep_rss[@]}" | median)"; max_rss="$(printf '%s\n' "${ep_rss[@]}" | sort -g | tail -1)"
m_mk_rss="$(printf '%s\n' "${mk_rss[@]}" | median)"; m_read="$(printf '%s\n' "${read_bps[@]}" | median)"

printf '%-44s %9s %8s %11s   %s\n' what median_s GB/s peakRSS_MB "per run"
printf '%-44s %9.3f %8s %11.0f   %s\n' "edgepeer hashFiles (call, pool started)" "$m_call" "$(gbps "$BYTES" "$m_call")" "$(awk -v k="$m_rss" 'BEGIN{print k/1024}')" "$(printf '%.3f ' "${ep_call[@]}")"
printf '%-44s %9.3f %8s %11.0f   %s\n' "edgepeer process (node start to exit)" "$m_wall" "$(gbps "$BYTES" "$m_wall")" "$(awk -v k="$m_rss" 'BEGIN{print k/1024}')" "${ep_wall[*]}"
printf '%-44s %9.3f %8s %11.0f   %s\n' "mktorrent -l 20 -t $JOBS" "$m_mk" "$(gbps "$BYTES" "$m_mk")" "$(awk -v k="$m_mk_rss" 'BEGIN{print k/1024}')" "${mk_wall[*]}"
printf '%-44s %9s %8.3f %11s   %s\n' "openssl speed sha1 16KiB -multi $JOBS (limit)" - "$(awk -v v="$m_limit" 'BEGIN{print v/1e9}')" - "$(printf '%s\n' "${limit[@]}" | awk '{printf "%.3f ", $1/1e9}')"
printf '%-44s %9s %8.3f %11s   %s\n' "dd bs=1M read from page cache, 1 thread" - "$(awk -v v="$m_read" 'BEGIN{print v/1e9}')" - "$(printf '%s\n' "${read_bps[@]}" | awk '{printf "%.2f ", $1/1e9}')"

ep_bps="$(awk -v b="$BYTES" -v s="$m_call" 'BEGIN{print b/s}')"
ep_wall_bps="$(awk -v b="$BYTES" -v s="$m_wall" 'BEGIN{print b/s}')"
mk_bps="$(awk -v b="$BYTES" -v s="$m_mk" 'BEGIN{print b/s}')"
# What read() + SHA-1 can reach at best: each core hashes at limit/JOBS and also pays one copy out of the page cache.
ceiling="$(awk -v l="$m_limit" -v r="$m_read" -v j="$JOBS" 'BEGIN{print j / (j/l + 1/r)}')"
echo "# ratios (throughput): edgepeer call / mktorrent = $(awk -v a="$ep_bps" -v b="$mk_bps" 'BEGIN{printf "%.2f", a/b}')," \
     "edgepeer process / mktorrent = $(awk -v a="$ep_wall_bps" -v b="$mk_bps" 'BEGIN{printf "%.2f", a/b}')," \
     "edgepeer call / openssl limit = $(awk -v a="$ep_bps" -v b="$m_limit" 'BEGIN{printf "%.2f", a/b}')," \
     "mktorrent / openssl limit = $(awk -v a="$mk_bps" -v b="$m_limit" 'BEGIN{printf "%.2f", a/b}')"
echo "# read+hash ceiling (limit with one page-cache copy per byte): $(awk -v c="$ceiling" 'BEGIN{printf "%.3f", c/1e9}') GB/s = $(awk -v c="$ceiling" -v l="$m_limit" 'BEGIN{printf "%.2f", c/l}') of the limit; edgepeer call reaches $(awk -v a="$ep_bps" -v c="$ceiling" 'BEGIN{printf "%.2f", a/c}') of it"
echo "# peak RSS of edgepeer: median $(awk -v k="$m_rss" 'BEGIN{printf "%.0f", k/1024}') MB, max $(awk -v k="$max_rss" 'BEGIN{printf "%.0f", k/1024}') MB; pieces identical to mktorrent's (sha1 of pieces $ep_pieces)"
echo "# loadavg at end: $(cut -d' ' -f1 /proc/loadavg); measurements started without a quiet second (other work on the machine): $noisy of $((RUNS * 3))"
