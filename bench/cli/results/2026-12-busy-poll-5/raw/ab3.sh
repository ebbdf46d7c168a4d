#!/bin/bash
# Interleaved A/B/C whole CLI runs, 4 KiB socket cells with busy_poll_us=400:
# A = main's addon, B = the probe build (raw/block-probe.patch) blocking in the
# one-CPU regime, C = the probe build with BP5_YIELD=1 (a yield on every empty
# look in that regime instead of blocking). PIN="taskset -c 0" puts the bench
# and its target child on one CPU (the one-CPU regime, forced).
cd "$(git rev-parse --show-toplevel)"
OLD=${OLD:-/tmp/bp5/main.node}
NEW=${NEW:-/tmp/bp5/block-diag.node}
ARGS=${ARGS:---op READ,WRITE --path socket --block 4K --cells= --param busy_poll_us=400 --repeat 1}
for r in $(seq 1 ${ROUNDS:-3}); do
  for V in A B C; do
    F=$OLD; E=X=1
    [ $V != A ] && F=$NEW
    [ $V = C ] && E=BP5_YIELD=1
    cp "$F" build/Release/nixl_native.node
    echo "== $V round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <"$F" | cut -c1-8) pin '${PIN:-}' $E"
    env $E timeout 120 ${PIN:-} node bin/nixl-ts-bench.js --no-progress $ARGS 2>&1 | grep -E "^4096 |^TCP"
  done
done
