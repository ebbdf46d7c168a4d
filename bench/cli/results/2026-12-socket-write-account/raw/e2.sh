#!/bin/bash
# E2: WRITE and READ 4-16 KiB with the caller reading every answer
# (poll_progress=on) against the I/O thread reading them (off).
cd /work/wt-d17write
B="node bin/nixl-ts-bench.js --op READ,WRITE --path socket --block 4K,16K --cells= --repeat 3 --wait poll --no-progress --out /tmp/e1-out"
for i in 1 2 3; do
  for v in on off; do
    echo "== pair $i [poll_progress=$v] $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    $B --param poll_progress=$v 2>&1 | grep -E '^(TCP|[0-9]+ +1 )' | awk '/^TCP/{print $2; next}{print $1, $3, $4, $7, $NF}'
  done
done
