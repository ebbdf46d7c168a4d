#!/bin/bash
# The A/B pairs of this section, in the order they ran. main = /tmp/main-before (a8067af);
# w1000 = this branch (/work/wt-d18elu); w640 = the same with saturatedBatchMs 640
# (/tmp/wt-d18elu-w640). "ab": main is A (runs first), "ba": the branch is A.
# Every run holds /tmp/bench.lock on its own (scale-ab.sh).
set -u
AB=../2026-12-05-dcpu2/scale-ab.sh
M=/tmp/main-before W=/work/wt-d18elu W640=/tmp/wt-d18elu-w640
export LIMIT_S=90 SCALE_ARGS=--timeline
SIZE=128 $AB 1 $M $W w1000-128-ab1
SIZE=128 $AB 1 $W $M w1000-128-ba1
SIZE=128 $AB 1 $M $W w1000-128-ab2
SIZE=128 $AB 1 $W $M w1000-128-ba2
SIZE=32 $AB 1 $M $W w1000-32-ab1
SIZE=32 $AB 1 $W $M w1000-32-ba1
SIZE=128 $AB 1 $M $W640 w640-128-ab1
SIZE=128 $AB 1 $W640 $M w640-128-ba1
