#!/bin/bash
# Interleaved before/after of bench/probes/notif-write.ts (UCX over tcp on lo,
# 4 KiB batch-1 WRITEs with and without a notification). OLD and NEW are the
# two builds of nixl_ucx.node; each run copies one into build/Release (the
# probe's target process loads the same file). Run under the bench lock:
#   flock /tmp/bench.lock bash ab.sh OLD.node NEW.node PAIRS > raw.txt
set -euo pipefail
OLD=$1 NEW=$2 PAIRS=${3:-5}
cd "$(dirname "$0")/../../../.."
KEEP=$(mktemp)
cp build/Release/nixl_ucx.node "$KEEP"
trap 'cp "$KEEP" build/Release/nixl_ucx.node; rm -f "$KEEP"' EXIT
for i in $(seq 1 "$PAIRS"); do
  for which in old new; do
    if [ $which = old ]; then cp "$OLD" build/Release/nixl_ucx.node; else cp "$NEW" build/Release/nixl_ucx.node; fi
    echo "$which $(uptime | sed 's/.*load average: //') $(npx tsx bench/probes/notif-write.ts --backend UCX \
      --params '{"profile":"tcp","devices":"lo"}' --sizes 4096 --iters 3000 --seconds 2 | tail -1)"
  done
done
