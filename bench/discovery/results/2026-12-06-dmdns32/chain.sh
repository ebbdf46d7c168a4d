#!/bin/bash
# mDNS 32: before (main a991072, /tmp/main-before) against this branch, both orders, each run its
# own lock hold (scale-ab.sh takes it); then seeds 32 once each way. A timeline run of the branch first.
S=../2026-12-05-dcpu2/scale-ab.sh
B=/work/wt-d18mdns
./timeline.sh mdns tl-mdns-after-1.log
for i in 1 2 3; do
  SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 /tmp/main-before $B mdns-ab$i
  SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 $B /tmp/main-before mdns-ba$i
done
SIZE=32 LIMIT_S=90 $S 1 /tmp/main-before $B seeds-ab1
SIZE=32 LIMIT_S=90 $S 1 $B /tmp/main-before seeds-ba1
