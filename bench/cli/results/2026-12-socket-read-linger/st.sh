#!/bin/bash
# The first cell of a process: V8's background threads (concurrent compilation, GC) on or off.
cd /work/wt-read
for i in 1 2; do for f in "" "--single-threaded"; do
  echo "== pair $i node flags '$f' $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  timeout 100 node $f bin/nixl-ts-bench.js --op READ,WRITE --block 4K,8K --path socket --iters 3000 --no-progress 2>&1 | grep -E "^(4096|8192) " | sed -E "s/ +/ /g"
done; done
echo "== end $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
