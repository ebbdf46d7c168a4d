#!/bin/bash
for i in 4 5; do
  for v in A B; do
    dir=/tmp/dcost-before; [ $v = B ] && dir=/work/wt-dcost
    log=/tmp/dcost/ab/ab-128-$v$i.log
    echo "=== queued $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" > $log
    BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && npx tsx bench/discovery/scale.ts --sizes 128 --runs 1 --compiled --limit-s 240; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
  done
done
