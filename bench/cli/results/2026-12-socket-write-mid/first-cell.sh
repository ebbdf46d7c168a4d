#!/bin/bash
# The sweep's first cell, main before this branch (OLD=/tmp/wmid-run-main.mjs:
# warm-up without recording, no time-based warm-up) against this branch's
# (dist/: recording warm-up passes, --warmup-ms 300 by default), interleaved.
# Each run times READ 4K six times in one process (--repeat 6): the per-run
# figures show whether the first run is slower than the later ones.
cd "$(dirname "$0")/../../../.."
for i in $(seq 1 "${PAIRS:-3}"); do
  for v in old new; do
    if [ $v = old ]; then cmd="node ${OLD:-/tmp/wmid-run-main.mjs}"; else cmd="node bin/nixl-ts-bench.js"; fi
    echo "== pair $i $v $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    $cmd --no-progress --op READ --path socket --block 4K --repeat 6 "$@" 2>&1 | grep -E '^4096 '
  done
done
