#!/bin/bash
# Interleaved A/B of the HELLO flood case of test/integration/ucx-auth.test.ts
# (a stranger floods a target with HELLOs for 5 s while a loaded agent writes
# and notifies): its line "flood: ... target progress thread N s CPU ...".
# A and B are two builds of nixl_ucx.node, copied into build/Release in turn.
# Run under the bench lock:
#   flock /tmp/bench.lock bash ab-flood.sh A.node B.node PAIRS > raw.txt
set -euo pipefail
A=$1 B=$2 PAIRS=${3:-3}
cd "$(dirname "$0")/../../../.."
KEEP=$(mktemp)
cp build/Release/nixl_ucx.node "$KEEP"
trap 'cp "$KEEP" build/Release/nixl_ucx.node; rm -f "$KEEP"' EXIT
for i in $(seq 1 "$PAIRS"); do
  for which in A B; do
    if [ $which = A ]; then cp "$A" build/Release/nixl_ucx.node; else cp "$B" build/Release/nixl_ucx.node; fi
    line=$(timeout 120 npx vitest run test/integration/ucx-auth.test.ts -t 'flood of strangers' 2>&1 |
      sed 's/\x1b\[[0-9;]*m//g' | grep -E '^flood:|Tests ' | tr '\n' ' ' || true)
    echo "$which $(uptime | sed 's/.*load average: //') $line"
  done
done
