#!/bin/bash
# main (16 KiB caller-read READ answers) vs /tmp/var32 (64 KiB), interleaved, each run its own lock hold.
OUT=/tmp/ab32
ARGS="--op READ,WRITE --path socket --block 16K,32K,64K,128K --cells= --baseline --repeat 3 --wait poll --no-progress"
run() { # pair side
  local dir=/work/main; [ $2 = after ] && dir=/tmp/var32
  flock /tmp/bench.lock sh -c "echo \"== pair $1 $2 start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && node bin/nixl-ts-bench.js $ARGS --out /tmp/ab32-out-$2 2>&1; echo \"== end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $OUT/ab-$1-$2.txt
  head -1 $OUT/ab-$1-$2.txt; tail -1 $OUT/ab-$1-$2.txt
}
for i in $(seq ${FIRST:-1} ${LAST:-6}); do
  if [ $((i % 2)) = 1 ]; then run $i before; run $i after; else run $i after; run $i before; fi
done
