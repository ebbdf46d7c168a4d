#!/bin/bash
# Interleaved A/B, whole CLI runs: main's addon (A, $OLD) against this branch's (B, $NEW),
# copied over build/Release/nixl_native.node before each run (the target child loads the
# same file). Odd rounds run A then B, even rounds B then A (the second run of a pair is
# often slower). Each run headed by its UTC time, the 1-minute load and the addon's md5.
cd "$(git rev-parse --show-toplevel)"
OLD=${OLD:-/tmp/sp7/nodes/main.node}
NEW=${NEW:-/tmp/sp7/nodes/ring.node}
ARGS=${ARGS:---op READ,WRITE --path socket --block 4K,16K,64K --cells= --param busy_poll_us=400 --repeat 3 --baselines reqresp}
for r in $(seq 1 ${ROUNDS:-2}); do
  ORDER="A B"; [ $((r % 2)) = 0 ] && ORDER="B A"
  for V in $ORDER; do
    F=$OLD; [ $V = B ] && F=$NEW
    cp "$F" build/Release/nixl_native.node
    echo "== $V round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <"$F" | cut -c1-8)"
    timeout 300 node bin/nixl-ts-bench.js --no-progress $ARGS 2>&1 | grep -E "^[0-9]+ |^[A-Z]+ (READ|WRITE),|^socket |reqresp|floor"
  done
done
cp "$NEW" build/Release/nixl_native.node
