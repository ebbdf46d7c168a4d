#!/bin/bash
# OP=READ or WRITE (default READ). Interleaved, pinned to one CPU (taskset -c 0, bench and
# target child; PIN= for unpinned): 4K socket at
# default params (A) and with poll_progress=on (B: the caller reads its answer), ROUNDS rounds,
# and the C blocking request/response floor once per round. Run under flock.
cd "$(git rev-parse --show-toplevel)"
PIN=${PIN-taskset -c 0}
for r in $(seq ${ROUNDS:-5}); do
  for v in A B; do
    p=""; [ $v = B ] && p="--param poll_progress=on"
    echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <build/Release/nixl_native.node | cut -c1-8) pin '$PIN' $v $p"
    timeout 120 $PIN node bin/nixl-ts-bench.js --no-progress --op ${OP:-READ} --path socket --block 4K --cells= --repeat 1 --iters 2000 $p 2>&1 | grep -E "^4096 "
  done
  echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) C floor ${OP:-READ} pin '$PIN'"
  $PIN /tmp/rr-wake $(echo ${OP:-READ} | tr A-Z a-z) 4096 150 0
done
