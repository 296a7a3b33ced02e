#!/usr/bin/env bash
# What open dashboards cost the agent: N overview pages over 100,000 objects following the live stream,
# against each page polling the overview, same run (scripts/bench/dashboard-live.ts).
# usage: bash scripts/bench/dashboard-live.sh   env: OBJECTS=100000, PAGES=1,10,64, CYCLES=10
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$ROOT/node_modules/.bin/node" "$ROOT/scripts/bench/dashboard-live.ts"
