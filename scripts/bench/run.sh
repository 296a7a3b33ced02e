#!/usr/bin/env bash
# Runs the benchmarks: every scripts/bench/*.sh except this one and helpers named _*.sh.
# usage: npm run bench [-- NAME...]   (only scripts whose file name contains one of the NAMEs)
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

selected() { # script name, filters...
  local name="$1"; shift
  [ $# -eq 0 ] && return 0
  for filter in "$@"; do [[ "$name" == *"$filter"* ]] && return 0; done
  return 1
}

ran=0; failed=()
for script in "$HERE"/*.sh; do
  name="$(basename "$script" .sh)"
  [ "$name" = run ] || [[ "$name" == _* ]] && continue
  selected "$name" "$@" || continue
  echo "=== bench: $name ($(date -u +%FT%TZ))"
  bash "$script" || failed+=("$name")
  ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || { echo "no benchmark matches: $*" >&2; exit 2; }
[ ${#failed[@]} -eq 0 ] || { echo "benchmarks failed: ${failed[*]}" >&2; exit 1; }
