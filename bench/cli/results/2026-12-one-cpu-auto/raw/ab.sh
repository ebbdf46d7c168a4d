#!/bin/bash
# Interleaved whole CLI runs, 4 KiB socket READ and WRITE at default params (plus $EXTRA):
# A = main's addon (OLD: poll_progress off), B = this branch's (NEW: poll_progress=auto),
# C (with VARIANTS="A B C") = main's addon with --param poll_progress=on (the caller always reads).
# PIN="taskset -c 0" puts the bench and its target child on one CPU. ROUNDS rounds of A B.
# Run under flock /tmp/bench.lock; restores B's addon at the end.
cd "$(git rev-parse --show-toplevel)"
OLD=${OLD:-/tmp/pprog/main.node}
NEW=${NEW:-/tmp/pprog/auto5.node}
for r in $(seq 1 ${ROUNDS:-4}); do
  for V in ${VARIANTS:-A B}; do
    F=$OLD; [ $V = B ] && F=$NEW
    P=""; [ $V = C ] && P="--param poll_progress=on"
    cp "$F" build/Release/nixl_native.node
    echo "== $V round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <"$F" | cut -c1-8) pin '${PIN:-}' $EXTRA $P"
    timeout 120 ${PIN:-} node bin/nixl-ts-bench.js --no-progress --op ${OP:-READ,WRITE} --path socket --block ${BLOCK:-4K} --cells=${CELLS:-} --repeat 1 --iters ${ITERS:-2000} $EXTRA $P 2>&1 | grep -E "^[0-9]+ |^TCP" | cut -c1-70
  done
done
cp "$NEW" build/Release/nixl_native.node
