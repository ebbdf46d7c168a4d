#!/bin/bash
# The command, main before this branch (/tmp/main-before, cb30855)
# against the branch, interleaved: pairs alternate the order (before-after,
# after-before, ...). Each run holds the bench lock on its own; its output goes
# to raw/ab-<pair>-<before|after>.txt with a "==" line (UTC time, load) first.
cd /work/wt-d17pollw
OUT=bench/cli/results/2026-12-socket-write-polled/raw
ARGS="--op READ,WRITE --path socket --block 4K,16K,32K,64K,256K,512K,8M --cells= --baseline --repeat 3 --wait poll --no-progress"
run() { # pair side
  local bin=bin/nixl-ts-bench.js; [ $2 = before ] && bin=/tmp/main-before/bin/nixl-ts-bench.js
  flock /tmp/bench.lock sh -c "echo \"== pair $1 $2 start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; node $bin $ARGS --out /tmp/d17pollw-ab-out-$2 2>&1; echo \"== end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $OUT/${TAG:-ab}-$1-$2.txt
  head -1 $OUT/${TAG:-ab}-$1-$2.txt; tail -1 $OUT/${TAG:-ab}-$1-$2.txt
}
for i in $(seq ${FIRST:-1} ${LAST:-6}); do
  if [ $((i % 2)) = 1 ]; then run $i before; run $i after; else run $i after; run $i before; fi
done
