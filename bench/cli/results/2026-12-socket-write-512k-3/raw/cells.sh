#!/bin/sh
# ROUNDS rounds (default 3) of the command (256K-1M) and of the
# 4M/8M cells, each with the C request/response floor of the same run;
# a "==" line with the UTC time and load before every run.
ROUNDS=${ROUNDS:-3}
r=1
while [ "$r" -le "$ROUNDS" ]; do
  for blocks in 256K,512K,1M 4M,8M; do
    echo "== round $r $blocks $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    node bin/nixl-ts-bench.js --op WRITE --path socket --block $blocks --cells '' --repeat 5 \
      --wait poll --baselines reqresp --no-progress --out /tmp/w512c-out 2>&1 |
      grep -E '^[0-9]+ |^socket|took'
  done
  r=$((r + 1))
done
