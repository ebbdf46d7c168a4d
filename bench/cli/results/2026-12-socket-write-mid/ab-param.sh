#!/bin/bash
# Interleaved A/B of parameter sets on one binary (dist/ and build/).
# Usage: PAIRS=3 A="--param x=1" B="--param x=2" ab-param.sh <bench args...>
# (run under flock /tmp/bench.lock)
cd "$(dirname "$0")/../../../.."
for i in $(seq 1 "${PAIRS:-3}"); do
  for v in A B; do
    echo "== pair $i $v [${!v}] $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    node bin/nixl-ts-bench.js --no-progress "$@" ${!v} 2>&1 | grep -E '^[0-9]+ +[0-9]+ '
  done
done
