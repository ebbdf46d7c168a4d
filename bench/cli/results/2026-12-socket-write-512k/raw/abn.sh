#!/bin/bash
# Interleaved variants: ROUNDS rounds of V0 V1 ... each a whole CLI run. A variant is
# "ENV_ASSIGNMENTS|CLI_PARAMS" (either part may be empty; "" = the defaults).
# Prints the table rows and the floor rows (socket ...) only, each run headed by the UTC time and the 1-minute load.
cd "$(git rev-parse --show-toplevel)"
for r in $(seq 1 ${ROUNDS:-3}); do
  i=0
  for V in "$@"; do
    E=${V%%|*}; P=${V#*|}; [ "$E" = "$V" ] && P=""
    echo "== V$i round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) env: $E params: $P"
    timeout 200 env $E node bin/nixl-ts-bench.js --op ${OP:-WRITE} --path ${PATHS:-socket} --cells '' --repeat ${REPEAT:-3} $ARGS $P 2>&1 | grep -E "^[0-9]+ |^[A-Z]+ (READ|WRITE),|^socket "
    i=$((i+1))
  done
done
