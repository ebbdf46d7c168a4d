#!/bin/bash
# Interleaved A/B of two runner scripts (each imports a copy's bench/cli/main.js,
# see README): A=/tmp/wmid-run-e0.mjs B=/tmp/wmid-run-old.mjs PAIRS=3 ab2.sh <bench args>
# (run under flock /tmp/bench.lock)
for i in $(seq 1 "${PAIRS:-3}"); do
  for v in A B; do
    echo "== pair $i $v ${!v} $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    node "${!v}" --no-progress "$@" 2>&1 | grep -E '^[0-9]+ +[0-9]+ '
  done
done
