#!/bin/bash
# Starts of SIZE agents (default 128), before (A) and after (B) alternating, each run its
# own lock hold. LIMIT_S (default 150) is scale.ts's --limit-s; SCALE_ARGS more of its
# flags (e.g. "--idle-ms 15000").
# Usage: [SIZE=N] [LIMIT_S=S] [SCALE_ARGS=...] scale-ab.sh PAIRS DIR_A DIR_B LOGPREFIX
pairs=$1 a=$2 b=$3 pre=$4
size=${SIZE:-128} limit=${LIMIT_S:-150}
for i in $(seq 1 "$pairs"); do
  for side in A B; do
    dir=$a; [ $side = B ] && dir=$b
    log=$pre-$side$i.log
    echo "queued $(date -u +%T) $dir" > $log
    BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 npx tsx bench/discovery/scale.ts --sizes $size --runs 1 --compiled --limit-s $limit $SCALE_ARGS; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
    grep -h "^start\|CPU ms/agent after\|^run 1\|loaded all after\|^---" $log
  done
done
