#!/bin/bash
# After chain2.sh: a second pair per order of the 640 ms variant, then one more pair per order
# of the branch (1000 ms) as the time allows (no new run after 07:48 UTC).
set -u
while kill -0 29676 2>/dev/null; do sleep 5; done
AB=../2026-12-05-dcpu2/scale-ab.sh
M=/tmp/main-before W=/work/wt-d18elu W640=/tmp/wt-d18elu-w640
export LIMIT_S=90 SCALE_ARGS=--timeline
late() { [ $(date -u +%H%M) -ge 0748 ]; }
late || SIZE=128 $AB 1 $W640 $M w640-128-ba2
late || SIZE=128 $AB 1 $M $W640 w640-128-ab2
late || SIZE=128 $AB 1 $M $W w1000-128-ab5
late || SIZE=128 $AB 1 $W $M w1000-128-ba5
