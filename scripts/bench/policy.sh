#!/usr/bin/env bash
# Storage control in the swarm simulator (src/policy/sim, docs/policy.md "The simulator"): every scenario
# under origin-only, cdn-only, LRU and LFU cache-everything, and the function (the agent's decide()), in one
# deterministic run (seed 1 unless SEED is set). Prints the table; writes docs/sim/results.md and one SVG per
# scenario (docs/sim/<scenario>.svg). No network, no processes: seconds on one core.
# usage: bash scripts/bench/policy.sh   (npm run bench -- policy)   env: SEED
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
[ -x "$NODE" ] || { echo "policy.sh needs the project's Node (npm ci)" >&2; exit 1; }
echo "# command: node scripts/sim.ts --write-docs${SEED:+ --seed $SEED}"
"$NODE" "$ROOT/scripts/sim.ts" --write-docs ${SEED:+--seed "$SEED"}
