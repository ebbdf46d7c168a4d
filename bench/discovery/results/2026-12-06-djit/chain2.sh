#!/bin/bash
# A fourth 128 pair in each order (after chain.sh).
S=/work/wt-d18jit/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before A=/work/wt-d18jit
SIZE=128 LIMIT_S=90 $S 1 $B $A p128ab4
SIZE=128 LIMIT_S=90 $S 1 $A $B p128ba4
echo CHAIN2_DONE
