#!/bin/bash
# 128 at the end of the stop: before = cb30855 (/tmp/main-before), after = main 45236ed (/work/main: d18jit's code reverted)
S=/work/main/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before A=/work/main
SIZE=128 LIMIT_S=90 $S 1 $B $A e128ab1
SIZE=128 LIMIT_S=90 $S 1 $A $B e128ba1
SIZE=128 LIMIT_S=90 $S 1 $B $A e128ab2
SIZE=128 LIMIT_S=90 $S 1 $A $B e128ba2
echo CHAIN_DONE
