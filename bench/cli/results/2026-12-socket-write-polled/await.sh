#!/bin/bash
# WRITE 4 KiB with an awaiting caller (--wait await: no polling, the I/O thread
# completes it): main before this branch against the branch, interleaved
# (before-after, after-before), each run its own lock hold: raw/await-<pair>-<side>.txt.
cd /work/wt-d17pollw
OUT=bench/cli/results/2026-12-socket-write-polled/raw
ARGS="--op WRITE --path socket --block 4K --cells= --repeat 3 --wait await --no-progress"
run() { # pair side
  local bin=bin/nixl-ts-bench.js; [ $2 = before ] && bin=/tmp/main-before/bin/nixl-ts-bench.js
  flock /tmp/bench.lock sh -c "echo \"== pair $1 $2 start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; node $bin $ARGS --out /tmp/d17pollw-await-out-$2 2>&1; echo \"== end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $OUT/await-$1-$2.txt
  head -1 $OUT/await-$1-$2.txt; tail -1 $OUT/await-$1-$2.txt
}
for i in $(seq ${FIRST:-1} ${LAST:-2}); do
  if [ $((i % 2)) = 1 ]; then run $i before; run $i after; else run $i after; run $i before; fi
done
