#!/usr/bin/env bash
# Storage control in the swarm simulator (src/policy/sim, docs/policy.md "The simulator"): every scenario
# under origin-only, cdn-only, LRU and LFU cache-everything, and the function (the agent's decide()), in one
# deterministic run (seed 1 unless SEED is set). Prints the table; writes docs/sim/results.md and one SVG per
# scenario (docs/sim/<scenario>.svg), the egress/p95 curve (docs/sim/tradeoff.*) and the floors under the egress
# goal (docs/sim/floors.md). Without REAL=1: no network, no processes, about four minutes on one core.
# usage: bash scripts/bench/policy.sh   (npm run bench -- policy)   env: SEED, REAL=1 (also the real-process run)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
[ -x "$NODE" ] || { echo "policy.sh needs the project's Node (npm ci)" >&2; exit 1; }
echo "# command: node scripts/sim.ts --write-docs${SEED:+ --seed $SEED}"
"$NODE" "$ROOT/scripts/sim.ts" --write-docs ${SEED:+--seed "$SEED"}
# The egress / p95 curve over top-up rates x copiesPerLeecher (docs/sim/tradeoff.md and .svg; ~1.5 min).
echo "# command: node scripts/sim.ts --curve --write-docs${SEED:+ --seed $SEED}"
"$NODE" "$ROOT/scripts/sim.ts" --curve --write-docs ${SEED:+--seed "$SEED"}
# The floors under the egress goal: the least CDN egress any policy could reach (docs/sim/floors.md; ~2 min).
echo "# command: node scripts/sim.ts --floors --write-docs${SEED:+ --seed $SEED}"
"$NODE" "$ROOT/scripts/sim.ts" --floors --write-docs ${SEED:+--seed "$SEED"}
# REAL=1: also the real-process check of the simulator (scripts/bench/policy-real.ts; ~1 min, python3-libtorrent).
if [ "${REAL:-0}" = 1 ]; then
  (cd "$ROOT" && npm run build >/dev/null)
  echo "# command: node scripts/bench/policy-real.ts (env LEECHERS PIECES PIECE_KIB UP_KIB DOWN_KIB GAP_S SEED_S SEED TOP_UP_KIB)"
  "$NODE" "$ROOT/scripts/bench/policy-real.ts"
fi
