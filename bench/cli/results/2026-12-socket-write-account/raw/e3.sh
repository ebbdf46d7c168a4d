#!/bin/bash
# E3: socket WRITEs handed to the I/O thread whatever their size
# (inline_write_max_bytes=0) against the default (64 KiB: the caller sends
# them when the I/O thread is idle), interleaved, READ cells as the control.
cd /work/wt-d17write
B="node bin/nixl-ts-bench.js --op READ,WRITE --path socket --block 4K,16K,32K,64K,256K,512K --cells= --repeat 3 --wait poll --no-progress --out /tmp/e3-out"
for i in $(seq 1 ${PAIRS:-3}); do
  for v in 65536 0; do
    echo "== pair $i [inline_write_max_bytes=$v] $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    $B --param inline_write_max_bytes=$v 2>&1 | grep -E '^(TCP|[0-9]+ +1 )' | awk '/^TCP/{print $2; next}{print $1, $3, $4, $7, $NF}'
  done
done
