#!/bin/bash
# gcc -O2 -o /tmp/write-lanes bench/probes/write-lanes.c; run under flock /tmp/bench.lock
# interleaved rounds of write-lanes variants (LANES CSPIN SSPIN)
for r in 1 2 3; do
  echo "== round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  for sz in 131072 524288 4194304; do
    for a in "1 0 0" "1 1 0" "1 1 1" "2 1 0" "2 1 1"; do
      /tmp/write-lanes $sz 200 $a 0 reno 2>&1 | tr '\n' ' '; echo
    done
  done
done
