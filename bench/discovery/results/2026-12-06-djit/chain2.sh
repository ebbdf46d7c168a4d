#!/bin/bash
# A fourth 128 pair in each order (after chain.sh; run twice: p128ab4/ba4 at 16:05, p128ab5/ba5 at 16:15).
S=/work/wt-d18jit/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before A=/work/wt-d18jit
SIZE=128 LIMIT_S=90 $S 1 $B $A p128ab5
SIZE=128 LIMIT_S=90 $S 1 $A $B p128ba5
echo CHAIN2_DONE
