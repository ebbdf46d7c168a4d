#!/bin/bash
# Interleaved socket cells, before (ae139f6's copy) and merged main, each run its own lock hold.
# Usage: [BLOCKS=4K,...] ab-mid.sh ROUNDS BEFORE_DIR MERGED_DIR
rounds=$1 a=$2 b=$3
for i in $(seq 1 "$rounds"); do
  for side in before merged; do
    dir=$a; [ $side = merged ] && dir=$b
    flock /tmp/bench.lock bash -c "echo \"== $side round $i \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && node bin/nixl-ts-bench.js --op READ,WRITE --path socket --block ${BLOCKS:-4K,64K,128K,256K,512K} --cells= --repeat 3 --wait poll 2>&1 | grep -E '^[0-9]+ +1 '"
  done
done
