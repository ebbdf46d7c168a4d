#!/bin/bash
# Lead's pairs of stop 43: before = cb30855 (/tmp/main-before), after = d2e9129 (/tmp/lead6/after)
S=/work/main/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before A=/tmp/lead6/after
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 2 $B $A m32ab
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 2 $A $B m32ba
SIZE=128 LIMIT_S=90 $S 1 $B $A p128ab
SIZE=128 LIMIT_S=90 $S 1 $A $B p128ba
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 $B $A m32ab3
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 $A $B m32ba3
echo CHAIN_DONE
