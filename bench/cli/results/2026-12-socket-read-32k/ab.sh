#!/bin/bash
# Issue #17 (READ 32 KiB read by its own caller): main before this branch
# (/tmp/main-before, afc282e) against the branch, interleaved: odd pairs
# before-after, even pairs after-before. Each run holds the bench lock on its
# own; its output goes to raw/ab-<pair>-<before|after>.txt with a "==" line
# (UTC time, load) first and last. Adapted from ../2026-12-socket-read-4k/ab.sh
# (blocks 16-128 KiB, no batch cells, both ops).
cd /work/wt-d17read32k
OUT=bench/cli/results/2026-12-socket-read-32k/raw
ARGS="--op READ,WRITE --path socket --block 16K,32K,64K,128K --baseline --repeat 3 --wait poll --no-progress ${EXTRA:-}"
run() { # pair side
  local bin=bin/nixl-ts-bench.js; [ $2 = before ] && bin=/tmp/main-before/bin/nixl-ts-bench.js
  flock /tmp/bench.lock sh -c "echo \"== pair $1 $2 start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; node $bin $ARGS --out /tmp/ab-out-d17read32k-$2 2>&1; echo \"== end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $OUT/${PREFIX:-ab}-$1-$2.txt
  head -1 $OUT/${PREFIX:-ab}-$1-$2.txt; tail -1 $OUT/${PREFIX:-ab}-$1-$2.txt
}
for i in $(seq ${FIRST:-1} ${LAST:-8}); do
  if [ $((i % 2)) = 1 ]; then run $i before; run $i after; else run $i after; run $i before; fi
done
