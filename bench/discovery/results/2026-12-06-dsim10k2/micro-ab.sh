#!/bin/bash
# membership-micro.ts, A = main (/tmp/main-before, a991072), B = this branch at 6ab39f4 (/tmp/d18sim2-B, git archive); pairs in
# both orders, each run its own hold of the bench lock. Usage: micro-ab.sh PAIRS
cd "$(dirname "$0")"
run() { # label tree
  flock /tmp/bench.lock bash -c "echo \"# $1 $(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; SIM_TREE=$2 timeout 120 node --import tsx membership-micro.ts"
}
for i in $(seq 1 $1); do
  run A-ab$i /tmp/main-before; run B-ab$i /tmp/d18sim2-B
  run B-ba$i /tmp/d18sim2-B; run A-ba$i /tmp/main-before
done
