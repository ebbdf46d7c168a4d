#!/bin/bash
# linger_us=0 (the old behaviour) vs 20 (the new default), same binary, interleaved.
cd /work/wt-read
B="node bin/nixl-ts-bench.js --op READ,WRITE --block 4K,8K,16K --path socket --iters 3000 --no-progress --baselines reqresp"
for i in 1 2 3 4; do for v in 0 20; do
  echo "== poll pair $i linger_us=$v $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  timeout 120 $B --initiator-param linger_us=$v 2>&1 | grep -E "^(TCP|4096|8192|16384|socket) "
done; done
for v in 0 20; do
  echo "== await linger_us=$v $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  timeout 120 $B --wait await --initiator-param linger_us=$v 2>&1 | grep -E "^(TCP|4096|8192|16384|socket) "
done
for i in 1 2; do
  echo "== busy_poll_us=400 run $i $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  timeout 120 $B --param busy_poll_us=400 2>&1 | grep -E "^(TCP|4096|8192|16384|socket|- reqresp) "
done
echo "== end $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
