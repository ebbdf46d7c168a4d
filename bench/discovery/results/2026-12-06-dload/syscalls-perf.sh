#!/bin/bash
# strace -c -f and perf record -g of the micro-benchmark (PRELOAD=127 ROUNDS=8), before
# and after, under the lock. Usage: flock /tmp/bench.lock syscalls-perf.sh BEFORE AFTER OUTDIR
out=$3
for side in before:$1 after:$2; do
  name=${side%%:*} dir=${side#*:}
  cd $dir
  echo "strace $name $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  PRELOAD=127 ROUNDS=8 timeout 200 strace -f -c -o $out/strace-c-$name.txt node --import tsx bench/micro/load-md.ts
  echo "perf $name $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  PRELOAD=127 ROUNDS=8 timeout 200 perf record -q -F 2999 -g -o /tmp/dload-perf-$name.data node --import tsx bench/micro/load-md.ts
done
echo "end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
