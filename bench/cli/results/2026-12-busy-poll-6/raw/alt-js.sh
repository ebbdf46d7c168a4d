#!/bin/bash
# Transfer-level A/B of the poll loop's start check (raw/alt-js-probe.patch): in odd 2^20 ns
# blocks of CLOCK_MONOTONIC a post starts on the loop's last clock read, in even ones on a
# fresh performance.now() (SP6_CTL=1: fresh in both, the control). alt-js-an.py splits the
# intervals between consecutive post starts by block.
cd "$(git rev-parse --show-toplevel)"
OUT=${OUT:-/tmp/sp5/dumps-js}
mkdir -p $OUT
PARAMS=${PARAMS:---param busy_poll_us=400}
for r in $(seq 1 ${ROUNDS:-2}); do
  for V in ${ORDER:-PROBE CTL}; do
    for cell in ${CELLS:-READ:4K WRITE:4K}; do
      D=$OUT/$V-$r-${cell/:/-}.jsonl; rm -f $D
      echo "== $V round $r $cell $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) params '$PARAMS' dump $D"
      C=; [ $V = CTL ] && C=1
      SP6_DUMP=$D timeout 120 env ${C:+SP6_CTL=1} node bin/nixl-ts-bench.js --no-progress --op ${cell%%:*} --path socket \
        --block ${cell##*:} --cells= --iters ${ITERS:-20000} --repeat 1 $PARAMS 2>&1 | grep -E "^[0-9]+ "
      python3 bench/cli/results/2026-12-busy-poll-6/raw/alt-js-an.py $D
    done
  done
done
