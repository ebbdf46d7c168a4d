#!/bin/bash
# The CPU probe (costs.js) on two builds alternating, in one lock hold.
# Usage: flock /tmp/bench.lock probe-ab.sh PAIRS DIR_A DIR_B [costs.js args]
# (A: before, e.g. main extracted with git archive; B: after; each with its own dist/.)
pairs=$1 a=$2 b=$3; shift 3
for i in $(seq 1 "$pairs"); do
  for side in A B; do
    dir=$a; [ $side = B ] && dir=$b
    echo "== $side$i $dir $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd $dir && node dist/bench/discovery/costs.js "$@" | grep -v '^{')
  done
done
