#!/bin/bash
# bench/micro/load-md.ts before (A) and after (B), PAIRS pairs alternating the
# order (odd pairs A then B, even pairs B then A), each run its own lock hold.
# The "before" tree gets this tree's bench/micro/load-md.ts copied in.
# Usage: micro-ab.sh PAIRS DIR_A DIR_B LOGPREFIX   (env passed on: PRELOAD BATCH ROUNDS SETTLE_MS)
pairs=$1 a=$2 b=$3 pre=$4
for i in $(seq 1 "$pairs"); do
  order="A B"; [ $((i % 2)) = 0 ] && order="B A"
  for side in $order; do
    dir=$a; [ $side = B ] && dir=$b
    log=$pre-$i$side.log
    echo "queued $(date -u +%T) $dir order $order" > $log
    flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 300 npx tsx bench/micro/load-md.ts; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
    echo "== pair $i side $side"; grep -v queued $log
  done
done
