#!/bin/bash
# More pairs after chain.sh (same trees and names); the load was lower by then.
set -u
AB=../2026-12-05-dcpu2/scale-ab.sh
M=/tmp/main-before W=/work/wt-d18elu
export LIMIT_S=90 SCALE_ARGS=--timeline
SIZE=128 $AB 1 $M $W w1000-128-ab3
SIZE=128 $AB 1 $W $M w1000-128-ba3
SIZE=32 $AB 1 $M $W w1000-32-ab2
SIZE=32 $AB 1 $W $M w1000-32-ba2
SIZE=128 $AB 1 $M $W w1000-128-ab4
SIZE=128 $AB 1 $W $M w1000-128-ba4
