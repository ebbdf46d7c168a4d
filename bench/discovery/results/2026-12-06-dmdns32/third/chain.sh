#!/bin/bash
# The A/B runs of this folder: mDNS 32, four pairs each order (ab: main first, ba: branch first),
# then seeds 32 one pair each order. Each run is ../../2026-12-05-dcpu2/scale-ab.sh's (its own
# lock hold, compiled workers). Before: main a8540b2 in /tmp/main-before; after: this worktree.
cd "$(dirname "$0")"
AB=../../2026-12-05-dcpu2/scale-ab.sh M=/tmp/main-before B=/work/wt-d18mdns3
for i in 1 2 3 4; do
  SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $AB 1 $M $B mdns-ab$i
  SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $AB 1 $B $M mdns-ba$i
done
SIZE=32 LIMIT_S=90 $AB 1 $M $B seeds-ab1
SIZE=32 LIMIT_S=90 $AB 1 $B $M seeds-ba1
