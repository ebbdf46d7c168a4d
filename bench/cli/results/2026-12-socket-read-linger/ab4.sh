#!/bin/bash
# The state command, linger_us=0 (old behaviour) vs the new default 20, interleaved.
cd /work/wt-read
for i in 1 2; do for v in 0 20; do
  echo "== pair $i linger_us=$v $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  timeout 200 node bin/nixl-ts-bench.js --op READ,WRITE --block 4K,8K,16K --path socket --baseline --repeat 3 --wait poll --no-progress --initiator-param linger_us=$v 2>&1 | grep -E "^(TCP|4096|8192|16384|socket) " | sed -E "s/ +/ /g"
done; done
echo "== end $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
