#!/usr/bin/env bash
# QoS (src/qos, docs/qos.md): limit accuracy at 10 MB/s, 100 MB/s and 1 GB/s on the HTTP server with curl
# clients (scripts/bench/qos-accuracy.ts), then limits configured but not binding against none: the peer
# wire (wire.sh QOS_ONLY=1: libtorrent leeching from the warm set-up with and without limits) and HTTP
# (http.sh with fit and fit-qos).
# usage: bash scripts/bench/qos.sh   (env: SECONDS_PER_LIMIT=5 CLIENTS=4 RATES=10MB,100MB,1GB, and those of
#        wire.sh and http.sh; SIZE_MIB=256 by default here)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="$HERE/../../node_modules/.bin/node"
echo "# accuracy: node scripts/bench/qos-accuracy.ts --seconds ${SECONDS_PER_LIMIT:-5} --clients ${CLIENTS:-4} --rates ${RATES:-10MB,100MB,1GB}"
"$NODE" "$HERE/qos-accuracy.ts" --seconds "${SECONDS_PER_LIMIT:-5}" --clients "${CLIENTS:-4}" --rates "${RATES:-10MB,100MB,1GB}"
echo "# wire: QOS_ONLY=1 SIZE_MIB=${SIZE_MIB:-256} bash scripts/bench/wire.sh"
QOS_ONLY=1 SIZE_MIB="${SIZE_MIB:-256}" bash "$HERE/wire.sh"
echo "# http: SERVERS=\"fit fit-qos\" SIZE_MIB=${SIZE_MIB:-256} FIT_CACHE_MIB=320 bash scripts/bench/http.sh"
SERVERS="fit fit-qos" SIZE_MIB="${SIZE_MIB:-256}" FIT_CACHE_MIB="${FIT_CACHE_MIB:-320}" bash "$HERE/http.sh"
