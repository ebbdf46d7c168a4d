#!/bin/bash
# mDNS 32, main (/tmp/main-before) against this branch: 6 pairs each order, alternating
# orders (ab: main first; ba: branch first), each run its own lock hold (scale-ab.sh).
cd "$(dirname "$0")"
AB=/work/main/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
for k in 1 2 3 4 5 6; do
  SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $AB 1 /tmp/main-before /work/wt-d18island m32ab$k
  SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $AB 1 /work/wt-d18island /tmp/main-before m32ba$k
done
