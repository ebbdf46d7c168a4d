#!/bin/bash
# More 128 pairs: before = cb30855 (/tmp/main-before), after = d2e9129 (/tmp/lead6/after)
S=/work/main/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before A=/tmp/lead6/after
SIZE=128 LIMIT_S=90 $S 1 $A $B p128ba2
SIZE=128 LIMIT_S=90 $S 1 $B $A p128ab2
SIZE=128 LIMIT_S=90 $S 1 $A $B p128ba3
SIZE=128 LIMIT_S=90 $S 1 $B $A p128ab3
echo CHAIN_DONE
