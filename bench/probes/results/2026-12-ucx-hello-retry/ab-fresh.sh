#!/bin/bash
# Interleaved before/after of bench/probes/fresh-endpoint-notif.ts (the first
# notified WRITE on a fresh UCX endpoint, and the second). OLD and NEW are two
# builds of nixl_ucx.node, copied into build/Release in turn (the probe's
# target process loads the same file). Run under the bench lock:
#   flock /tmp/bench.lock bash ab-fresh.sh OLD.node NEW.node PAIRS > raw.txt
set -euo pipefail
OLD=$1 NEW=$2 PAIRS=${3:-4}
cd "$(dirname "$0")/../../../.."
KEEP=$(mktemp)
cp build/Release/nixl_ucx.node "$KEEP"
trap 'cp "$KEEP" build/Release/nixl_ucx.node; rm -f "$KEEP"' EXIT
for i in $(seq 1 "$PAIRS"); do
  for which in old new; do
    if [ $which = old ]; then cp "$OLD" build/Release/nixl_ucx.node; else cp "$NEW" build/Release/nixl_ucx.node; fi
    echo "$which $(uptime | sed 's/.*load average: //') $(timeout 120 npx tsx bench/probes/fresh-endpoint-notif.ts --rounds 100 | tail -1)"
  done
done
