#!/usr/bin/env bash
# The dashboard's piece map: 100,000 pieces drawn in headless chromium (goal: under a second), against one
# fillRect per piece in the same run (scripts/bench/dashboard-piecemap.mjs). Needs chromium and npm ci.
# usage: bash scripts/bench/dashboard.sh   env: PIECES=100000, RUNS=11
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v chromium >/dev/null || { echo "dashboard.sh needs chromium (bash scripts/setup-system.sh)" >&2; exit 1; }
echo "loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"
"$ROOT/node_modules/.bin/node" "$ROOT/scripts/bench/dashboard-piecemap.mjs"
