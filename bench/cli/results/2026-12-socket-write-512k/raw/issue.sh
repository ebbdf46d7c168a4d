#!/bin/bash
# The cells with the C request/response floor of the same run, RUNS times (READ too).
cd "$(git rev-parse --show-toplevel)"
for r in $(seq 1 ${RUNS:-3}); do
  echo "== run $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  timeout 200 node bin/nixl-ts-bench.js --op WRITE,READ --path socket --block 256K,512K,8M,16M --cells '' \
    --repeat 5 --wait poll --baselines reqresp 2>&1 | grep -E "^[0-9]+ |^[A-Z]+ (READ|WRITE),|^socket +(READ|WRITE)"
done
