#!/bin/bash
# load-wake.ts (results/2026-12-05-dmemb) with two builds of the native addon, A and B
# alternating, each pair one hold of the bench lock.
# Usage: load-wake-ab.sh PAIRS A.node B.node LOAD-WAKE-ARGS...
pairs=$1 a=$2 b=$3
shift 3
root=$(cd "$(dirname "$0")/../../../.." && pwd)
keep=$(mktemp)
cp "$root/build/Release/nixl_native.node" "$keep"
for i in $(seq 1 "$pairs"); do
  flock /tmp/bench.lock bash -c "
    echo \"pair $i \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"
    for side in A B; do
      [ \$side = A ] && cp '$a' '$root/build/Release/nixl_native.node' || cp '$b' '$root/build/Release/nixl_native.node'
      (cd '$root' && npx tsx bench/discovery/results/2026-12-05-dmemb/load-wake.ts $*) | grep -v '^---' | sed \"s/^/\$side /\"
    done"
done
cp "$keep" "$root/build/Release/nixl_native.node"
rm -f "$keep"
