#!/bin/bash
# A B A B: default vs $B_PARAMS, issue's cells; prints the table rows only
cd "$(git rev-parse --show-toplevel)"
for i in $(seq 1 ${PAIRS:-3}); do
  for v in A B; do
    if [ $v = A ]; then P="$A_PARAMS"; else P="$B_PARAMS"; fi
    echo "== $v pair $i $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) params: $P"
    if [ $v = B ]; then export $B_ENV; else unset ${B_ENV%%=*}; fi
    timeout 200 node bin/nixl-ts-bench.js --path socket --repeat ${REPEAT:-3} $ARGS $P 2>&1 | grep -E "^[0-9]+ "
  done
done
