#!/bin/bash
# Interleaved whole-CLI runs: A = main's tree as it is (/work/main: its dist and addon),
# B = this branch (send(), bound post, start check), each run headed by its UTC time and load.
cd "$(git rev-parse --show-toplevel)"
ARGS=${ARGS:---op READ,WRITE --path socket --block 4K,16K,64K --cells= --param busy_poll_us=400 --repeat 3 --baselines reqresp}
for r in $(seq 1 ${ROUNDS:-2}); do
  for V in ${ORDER:-A B}; do
    BIN=bin/nixl-ts-bench.js; [ $V = A ] && BIN=/work/main/bin/nixl-ts-bench.js
    echo "== $V round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) bin $BIN"
    timeout 300 node $BIN --no-progress --out /tmp/sp5/out $ARGS 2>&1 | grep -E "^[0-9]+ |^[A-Z]+ (READ|WRITE),|^socket |reqresp|floor"
  done
done
