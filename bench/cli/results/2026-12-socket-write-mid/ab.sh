#!/bin/bash
# Interleaved A/B: old = a copy of the code before the change (its dist/ and
# build/Release under scratch/, started through a one-line runner script that
# imports its bench/cli/main.js: OLD=/tmp/wmid-run-<name>.mjs), new = dist/ and
# build/ of the working tree.
# Usage: PAIRS=3 OLD=/tmp/wmid-run-main.mjs ab.sh <bench args...>
# (run under flock /tmp/bench.lock)
cd "$(dirname "$0")/../../../.."
for i in $(seq 1 "${PAIRS:-3}"); do
  for v in old new; do
    if [ $v = old ]; then cmd="node ${OLD:-/tmp/wmid-run-old.mjs}"; else cmd="node bin/nixl-ts-bench.js"; fi
    echo "== pair $i $v $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    $cmd --no-progress "$@" 2>&1 | grep -E '^[0-9]+ +[0-9]+ '
  done
done
