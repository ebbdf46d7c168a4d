#!/bin/bash
# The interleaved pairs of this stop, in the order they ran (each run its own lock hold):
# 4 pairs at 128 main first (p128ab: A = main), 4 branch first (p128ba: A = the branch),
# then one pair at 32 with seeds and one at 32 with mDNS, main first.
AB=/work/main/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
M=/tmp/main-before B=/work/wt-d18crit
SIZE=128 LIMIT_S=90 $AB 4 $M $B p128ab
SIZE=128 LIMIT_S=90 $AB 4 $B $M p128ba
SIZE=32 LIMIT_S=90 $AB 1 $M $B s32ab
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $AB 1 $M $B m32ab
