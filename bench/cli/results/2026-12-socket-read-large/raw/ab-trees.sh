#!/bin/bash
# Interleaved A/B of two builds of the tree: ROUNDS rounds of "before after", each a
# whole CLI run from its own directory (BEFORE: a checkout of the base commit, built;
# AFTER: this tree). Prints each run's table rows, headed by the UTC time and the load.
AFTER=$(git rev-parse --show-toplevel)
for r in $(seq 1 ${ROUNDS:-3}); do
  for side in BEFORE AFTER; do
    dir=${!side}
    echo "== $side round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
    (cd "$dir" && timeout 300 node bin/nixl-ts-bench.js --op ${OP:-READ,WRITE} --path socket --cells "${CELLS:-}" \
      --repeat ${REPEAT:-3} --wait poll $ARGS 2>&1 | grep -E "^[0-9]+ |^TCP (READ|WRITE)")
  done
done
