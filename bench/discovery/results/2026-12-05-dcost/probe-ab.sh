#!/bin/bash
# A = /tmp/dcost-before, B = /work/wt-dcost; the frames probe, compiled.
for i in 1 2 3; do
  for v in A B; do
    dir=/tmp/dcost-before; [ $v = B ] && dir=/work/wt-dcost
    flock /tmp/bench.lock bash -c "echo \"== $v$i start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && node dist/bench/discovery/costs.js --n 600 --only frames,frames-burst 2>&1 | tail -6"
  done
done
