#!/usr/bin/env bash
# Topology (issue 18): address -> PID lookup cost and the tracker's announces/s with and without ALTO maps
# (scripts/bench/topology-lookup.ts), then the swarm simulator with topology on and off (npm run sim --
# --topology). In process: no network, seconds on one core.
# usage: bash scripts/bench/topology.sh   (npm run bench -- topology)   env: PREFIXES PIDS SWARMS PEERS ROUNDS
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
[ -x "$NODE" ] || { echo "topology.sh needs the project's Node (npm ci)" >&2; exit 1; }
echo "# command: node scripts/bench/topology-lookup.ts"
"$NODE" "$ROOT/scripts/bench/topology-lookup.ts"
echo "# command: node scripts/sim.ts --topology${SEED:+ --seed $SEED}"
"$NODE" "$ROOT/scripts/sim.ts" --topology ${SEED:+--seed "$SEED"}
