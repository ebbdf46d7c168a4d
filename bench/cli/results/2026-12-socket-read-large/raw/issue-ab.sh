#!/bin/bash
# The command (READ and WRITE, 1-16 MiB, the C request/response floor of the
# same run), interleaved: ROUNDS rounds of V0 V1 ..., each variant a whole CLI run.
# A variant is a string of extra CLI params ("" = the defaults). Prints each run's
# table rows and floor rows, headed by the UTC time and the 1-minute load.
cd "$(git rev-parse --show-toplevel)"
for r in $(seq 1 ${ROUNDS:-3}); do
  i=0
  for P in "$@"; do
    echo "== V$i round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) params: $P"
    timeout 300 node bin/nixl-ts-bench.js --op READ,WRITE --path socket --block ${BLOCKS:-1M,4M,8M,16M} \
      --cells '' --repeat ${REPEAT:-5} --wait poll --baselines reqresp $P 2>&1 |
      grep -E "^[0-9]+ |^TCP (READ|WRITE)|^socket "
    i=$((i+1))
  done
done
