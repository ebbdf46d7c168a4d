#!/bin/bash
# Starts of SIZE agents with a longer idle window, before (A) and after (B)
# alternating, each run its own lock hold.
# Usage: scale-ab-idle.sh PAIRS DIR_A DIR_B LOGPREFIX SIZE IDLE_MS
pairs=$1 a=$2 b=$3 pre=$4 size=$5 idle=$6
for i in $(seq 1 "$pairs"); do
  for side in A B; do
    dir=$a; [ $side = B ] && dir=$b
    log=$pre-$side$i.log
    echo "queued $(date -u +%T) $dir" > $log
    BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 200 npx tsx bench/discovery/scale.ts --sizes $size --runs 1 --compiled --limit-s 90 --idle-ms $idle; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
    grep -h "^start\|^run 1\|^---" $log
  done
done
