#!/bin/bash
# Interleaved before/after of the measure command, same binary (params switch the path).
# (The "lock taken" time it prints is when the command line was built, not when flock returned; the bench prints its own start/end load.)
cd /work/wt-wbw
for i in 1 2 3; do
  for v in before after; do
    if [ $v = after ]; then P="--param inline_write_max_bytes=262144"; else P=""; fi
    echo "== pair $i $v [$P] start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    flock /tmp/bench.lock bash -c "echo \"   (lock taken $(date -u +%T), load \$(cut -d' ' -f1 /proc/loadavg))\"; node bin/nixl-ts-bench.js --op WRITE,READ --block 16K,64K,256K,512K,1M,2M,4M --path socket --repeat 3 --baselines reqresp --no-progress $P --out /tmp/wbw/final/$i-$v" 2>&1 | grep -vE "Warning|AWS|versions published|will require|To continue|security updates|More information|trace-warnings|^$|wrote "
    echo "== end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
done
