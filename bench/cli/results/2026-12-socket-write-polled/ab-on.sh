#!/bin/bash
# Beside ab.sh: main before this branch with poll_progress=on (the caller reads
# every small answer) against the branch at its defaults, the command,
# interleaved (on-after, after-on, ...), each run its own lock hold:
# raw/on-<pair>-<on|after>.txt.
cd /work/wt-d17pollw
OUT=bench/cli/results/2026-12-socket-write-polled/raw
ARGS="--op READ,WRITE --path socket --block 4K,16K,32K,64K,256K,512K,8M --cells= --baseline --repeat 3 --wait poll --no-progress"
run() { # pair side
  local bin=bin/nixl-ts-bench.js extra=
  [ $2 = on ] && bin=/tmp/main-before/bin/nixl-ts-bench.js && extra="--param poll_progress=on"
  flock /tmp/bench.lock sh -c "echo \"== pair $1 $2 start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; node $bin $ARGS $extra --out /tmp/d17pollw-on-out-$2 2>&1; echo \"== end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $OUT/on-$1-$2.txt
  head -1 $OUT/on-$1-$2.txt; tail -1 $OUT/on-$1-$2.txt
}
for i in $(seq ${FIRST:-1} ${LAST:-2}); do
  if [ $((i % 2)) = 1 ]; then run $i on; run $i after; else run $i after; run $i on; fi
done
