#!/bin/bash
# A = /tmp/dcost-before (f07ae92 instrumentation, main's native build), B = /work/wt-dcost (idle tick)
SIZE=${1:-128}; PAIRS=${2:-3}; TAG=${3:-ab}
for i in $(seq 1 $PAIRS); do
  for v in A B; do
    dir=/tmp/dcost-before; [ $v = B ] && dir=/work/wt-dcost
    log=/tmp/dcost/ab/$TAG-$SIZE-$v$i.log
    echo "=== queued $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" > $log
    BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && npx tsx bench/discovery/scale.ts --sizes $SIZE --runs 1 --compiled --limit-s 240; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
  done
done
