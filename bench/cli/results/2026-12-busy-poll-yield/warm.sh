#!/bin/bash
# Same build, the first cell's warm-up by time off and on, both op orders; default params, 4 KiB.
# usage: warm.sh PAIRS
for i in $(seq 1 "$1"); do
  for order in READ,WRITE WRITE,READ; do
    for ms in 0 1000; do
      echo "== warmup-ms $ms order $order pair $i $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
      (cd /work/wt-busy && flock /tmp/bench.lock node bin/nixl-ts-bench.js --no-progress --out /tmp/busy/out-warm \
        --op $order --block 4K --path socket --warmup-ms $ms 2>&1 | grep -E '^(TCP|[0-9])')
    done
  done
done
