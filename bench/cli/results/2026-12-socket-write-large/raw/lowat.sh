#!/bin/bash
# gcc -O2 -o /tmp/write-lanes bench/probes/write-lanes.c; run under flock /tmp/bench.lock
for r in 1 2 3 4; do
  echo "== round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  for sz in 131072 524288 4194304; do
    for lw in 0 65536 262144 4194304; do
      echo -n "lowat $lw "; /tmp/write-lanes $sz 200 1 1 0 0 reno $lw 2>&1 | tr '\n' ' '; echo
    done
  done
done
