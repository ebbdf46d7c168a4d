#!/bin/bash
# Interleaved A/F on one CPU (taskset -c 0): A = main's addon, F = the probe
# with both sides forced to block on every empty look (raw/block-probe-force.patch,
# BP5_FORCE=1). 4 KiB socket cells, busy_poll_us=400.
cd "$(git rev-parse --show-toplevel)"
for r in $(seq 1 ${ROUNDS:-3}); do
  for V in A F; do
    F=/tmp/bp5/main.node; [ $V = F ] && F=/tmp/bp5/force.node
    cp $F build/Release/nixl_native.node
    echo "== $V round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <$F | cut -c1-8) pin 'taskset -c 0' BP5_FORCE=1"
    BP5_FORCE=1 timeout 120 taskset -c 0 node bin/nixl-ts-bench.js --no-progress --op READ,WRITE --path socket --block 4K --cells= --param busy_poll_us=400 --repeat 1 2>&1 | grep -E "^4096 |^TCP"
  done
done
cp /tmp/bp5/main.node build/Release/nixl_native.node
