#!/bin/bash
# 128: after (d2e9129, /tmp/lead6/after) against the same tree without d18jit's two code commits
# (membership.ts and mesh-transport.ts as at 8d3308a: /tmp/lead6/nojit). "before" = nojit here.
S=/work/main/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=/tmp/lead6/nojit A=/tmp/lead6/after
SIZE=128 LIMIT_S=90 $S 1 $B $A j128ab1
SIZE=128 LIMIT_S=90 $S 1 $A $B j128ba1
SIZE=128 LIMIT_S=90 $S 1 $B $A j128ab2
SIZE=128 LIMIT_S=90 $S 1 $A $B j128ba2
echo CHAIN_DONE
