#!/bin/bash
# the command, old default (poll_send=on) and new, interleaved; full output kept
cd "$(git rev-parse --show-toplevel)"
for i in $(seq 1 ${PAIRS:-2}); do
  for v in old new; do
    if [ $v = old ]; then P="--param poll_send=on"; else P=""; fi
    echo "== $v pair $i $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) params: $P"
    timeout 280 node bin/nixl-ts-bench.js --op WRITE --path socket --block 64K,128K,256K,512K,1M,2M,4M --repeat 3 --baseline $P 2>&1 | grep -vi "warning\|trace-warnings"
  done
done
