#!/bin/bash
# 128-agent starts, before (A) and after (B) alternating, each run its own lock hold
# (from results/2026-12-05-dcpu2, with --limit-s 90).
# Usage: scale-ab.sh PAIRS DIR_A DIR_B LOGPREFIX
pairs=$1 a=$2 b=$3 pre=$4
for i in $(seq 1 "$pairs"); do
  for side in A B; do
    dir=$a; [ $side = B ] && dir=$b
    log=$pre-$side$i.log
    echo "queued $(date -u +%T) $dir" > $log
    BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 npx tsx bench/discovery/scale.ts --sizes 128 --runs 1 --compiled --limit-s 90; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
    grep -h "^start\|CPU ms/agent after\|^run 1\|^---" $log
  done
done
