#!/bin/bash
# E5 (after the A/B said the opposite of what E2 suggested): the caller reads
# every small answer (poll_progress=on) against the default, one lock hold,
# 4 pairs alternating the order; main at cb30855 (this tree after the revert).
cd /work/wt-d17write
B="node bin/nixl-ts-bench.js --op READ,WRITE --path socket --block 4K,16K,32K,64K --cells= --repeat 3 --wait poll --no-progress --out /tmp/e5-out"
one() {
  echo "== pair $1 [poll_progress=$2] $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  $B --param poll_progress=$2 2>&1 | grep -E '^(TCP|[0-9]+ +1 )' | awk '/^TCP/{op=$2; next}{print op, $1, $3, $4, "post", $7}'
}
for i in 1 2 3 4; do
  if [ $((i % 2)) = 1 ]; then one $i auto; one $i on; else one $i on; one $i auto; fi
done
