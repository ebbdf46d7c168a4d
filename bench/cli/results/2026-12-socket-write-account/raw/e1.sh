#!/bin/bash
# E1: does poll_progress=auto's regime explain WRITE 4-16 KiB? Default params
# against poll_progress=off, READ then WRITE in one process (the sweep's order).
cd /work/wt-d17write
B="node bin/nixl-ts-bench.js --op READ,WRITE --path socket --block 4K,16K,32K,64K --cells= --repeat 3 --wait poll --no-progress --out /tmp/e1-out"
for i in 1 2; do
  for v in "" "--param poll_progress=off"; do
    echo "== pair $i [${v:-default}] $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    $B $v 2>&1 | grep -E '^(TCP|[0-9]+ +1 )' | awk '{print $1, $3, $4, $7, $NF}'
  done
done
