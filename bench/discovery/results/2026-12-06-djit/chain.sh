#!/bin/bash
# The A/B of this branch: 128 seeds, 3 pairs in each order (interleaved), then mDNS 32 once
# each way. B = main (cb30855, /tmp/main-before), A = the branch (/work/wt-d18jit, dist rebuilt).
S=/work/wt-d18jit/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before A=/work/wt-d18jit
for k in 1 2 3; do
  SIZE=128 LIMIT_S=90 $S 1 $B $A p128ab$k
  SIZE=128 LIMIT_S=90 $S 1 $A $B p128ba$k
done
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 $B $A m32ab1
echo CHAIN_DONE
