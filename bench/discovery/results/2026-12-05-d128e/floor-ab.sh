#!/bin/bash
# The floor (floor.ts, every layer) and the real agent (scale.ts) at SIZE (128) alternating,
# each run its own hold of the bench lock, workers compiled (dist/).
# Usage: [SIZE=N] [LAYERS=idle,imports,stack,stack-load] floor-ab.sh PAIRS DIR LOGPREFIX
pairs=$1 dir=$2 pre=$3
size=${SIZE:-128} layers=${LAYERS:-idle,imports,stack,stack-load}
for i in $(seq 1 "$pairs"); do
  for side in floor real; do
    log=$pre-$side$i.log
    if [ $side = floor ]; then
      cmd="npx tsx bench/discovery/floor/floor.ts --size $size --layers $layers --compiled"
    else
      cmd="npx tsx bench/discovery/scale.ts --sizes $size --runs 1 --compiled --limit-s 90"
    fi
    flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 $cmd; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $log 2>&1
    grep -h "^start\|^run 1\|^---" $log
  done
done
