#!/usr/bin/env bash
# Per-connection floors under the tracker benchmark's load generator (issue 23): wrk CLOSE=1 (one
# connection per announce, scripts/bench/tracker-announce.lua, 1 thread, 32 connections) against each
# server in turn; per server: connections/s, its CPU per connection (user + system, user alone), wrk's,
# and the rest of the machine's. Servers: opentracker (whole announces), a variant of
# scripts/bench/tracker-conn-floor.mjs (fixed answer; see there), or "cmd:COMMAND" (started with
# --port N appended, e.g. "cmd:node bin/run.js tracker --host 127.0.0.1 --max-swarms 100000
# --max-peers-per-address 1000000 --max-peers-per-network 1000000"; FILL=7s fills it first). Build first
# (npm run build) for the http1 and rawnet variants.
# usage: bash scripts/bench/tracker-conn-floor.sh opentracker raw net-pause ...   env: DURATION=8 FILL=
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"; NODE=$ROOT/node_modules/.bin/node; D=${DURATION:-8}; HZ=$(getconf CLK_TCK)
S=$(mktemp -d /tmp/edgepeer-conn-floor.XXXXXX); chmod 755 $S
pid=""; wrapper=""
trap 'kill $pid $wrapper 2>/dev/null; rm -rf "$S"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # median, free_port
for ((s = 0; s < 1000; s++)); do printf 'edededededededededededededededed%08x\n' "$s"; done >"$S/whitelist"; chmod 644 $S/whitelist
port=27100
for v in "$@"; do
  port=$(free_port $((port+1)))
  if [ "$v" = opentracker ]; then
    printf 'listen.tcp_udp 127.0.0.1:%s\naccess.whitelist %s/whitelist\n' $port $S >$S/ot.conf
    (cd $S && exec opentracker -f $S/ot.conf) >/dev/null 2>&1 & pid=$!
  elif [ "${v%%:*}" = cmd ]; then
    (cd "$ROOT" && eval "exec ${v#cmd:} --port $port") >$S/cmd.log 2>&1 & pid=$!
  else
    $NODE $ROOT/scripts/bench/tracker-conn-floor.mjs $v $port >/dev/null & pid=$!
  fi
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/announce?info_hash=$(printf '%%ED%.0s' {1..16})%00%00%00%00&peer_id=-WK0001-probe0000000&port=9999&left=0&compact=1" && break; sleep 0.1; done
  lpid=$(ss -Hltnp "sport = :$port" | grep -o "pid=[0-9]*" | head -1 | cut -d= -f2); wrapper=$pid; pid=${lpid:-$pid}
  [ -n "${FILL:-}" ] && MODE=fill wrk -t1 -c32 -d${FILL} -s $ROOT/scripts/bench/tracker-announce.lua http://127.0.0.1:$port/announce >/dev/null
  # a short warm-up
  CLOSE=1 wrk -t1 -c32 -d2s -s $ROOT/scripts/bench/tracker-announce.lua http://127.0.0.1:$port/announce >/dev/null
  b0=$(awk '/^cpu /{print $2+$3+$4+$9}' /proc/stat); i0=$(awk '/^cpu /{print $7+$8}' /proc/stat); p0=$(awk '{print $14+$15}' /proc/$pid/stat); u0=$(awk '{print $14}' /proc/$pid/stat)
  /usr/bin/time -f '%U %S' -o $S/wrk.time env CLOSE=1 MODE=random wrk -t1 -c32 -d${D}s --timeout 10s -s $ROOT/scripts/bench/tracker-announce.lua http://127.0.0.1:$port/announce >$S/wrk.out
  b1=$(awk '/^cpu /{print $2+$3+$4+$9}' /proc/stat); i1=$(awk '/^cpu /{print $7+$8}' /proc/stat); p1=$(awk '{print $14+$15}' /proc/$pid/stat); u1=$(awk '{print $14}' /proc/$pid/stat)
  line=$(grep RESULT $S/wrk.out)
  req=$(echo "$line" | sed 's/.*requests=\([0-9]*\).*/\1/'); us=$(echo "$line" | sed 's/.*duration_us=\([0-9]*\).*/\1/')
  errs=$(echo "$line" | sed 's/.*err_connect=\([0-9]*\).*err_write=\([0-9]*\) err_status=\([0-9]*\) err_timeout=\([0-9]*\).*/\1+\2+\3+\4/')
  awk -v v="$v" -v r=$req -v u=$us -v p=$((p1-p0)) -v uu=$((u1-u0)) -v b=$((b1-b0)) -v i=$((i1-i0)) -v hz=$HZ -v w="$(cat $S/wrk.time)" -v e="$errs" -v d=$D 'BEGIN{split(w,a," "); wc=(a[1]+a[2])*hz; rps=r/(u/1e6);
    printf "%-22s %7.0f conn/s  server %5.1f us/conn (user %4.1f) (%3.0f%% core)  wrk %5.1f us  others %5.1f us  softirq %4.1f us  machine busy %3.0f%%  errs %s\n", v, rps, p*1e6/hz/r, uu*1e6/hz/r, p*100/hz/d, wc*1e6/hz/r, (b-p-wc)*1e6/hz/r, i*1e6/hz/r, (b+i)*100/hz/d/2, e}'
  kill $pid $wrapper 2>/dev/null; wait $wrapper 2>/dev/null
done
