#!/bin/bash
# Interleaved whole CLI runs, 4 KiB socket READ and WRITE at default params (plus $EXTRA):
# A = main's addon (OLD), B = the build that ends a read which settled a transfer without
# the recv that says EAGAIN at default params too (NEW). PIN="taskset -c 0" puts the bench
# and its target child on one CPU. Run under flock; restores A's addon at the end.
cd "$(git rev-parse --show-toplevel)"
OLD=${OLD:-/tmp/wake/main.node}
NEW=${NEW:-/tmp/wake/eagain.node}
for r in $(seq 1 ${ROUNDS:-4}); do
  for V in A B; do
    F=$OLD; [ $V = B ] && F=$NEW
    cp "$F" build/Release/nixl_native.node
    echo "== $V round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <"$F" | cut -c1-8) pin '${PIN:-}' $EXTRA"
    timeout 120 ${PIN:-} node bin/nixl-ts-bench.js --no-progress --op READ,WRITE --path socket --block 4K --cells= --repeat 1 --iters 2000 $EXTRA 2>&1 | grep -E "^4096 |^TCP" | cut -c1-60
  done
done
cp "$OLD" build/Release/nixl_native.node
