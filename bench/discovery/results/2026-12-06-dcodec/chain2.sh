#!/bin/bash
# One more 128 pair each order (pair ba3's main run started at load 5.3: others' unlocked work).
S=/work/wt-d18codec/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before A=/work/wt-d18codec
SIZE=128 LIMIT_S=90 $S 1 $B $A p128ab4
SIZE=128 LIMIT_S=90 $S 1 $A $B p128ba4
echo CHAIN2_DONE
