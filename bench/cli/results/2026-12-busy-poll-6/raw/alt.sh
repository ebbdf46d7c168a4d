#!/bin/bash
# Transfer-level A/B inside one run: the probe addon ($ALT, raw/alt-probe.patch) uses send()
# for a one-buffer frame only in odd 2^20 ns blocks of CLOCK_MONOTONIC (SP6_ALT=1), sendmsg()
# in even ones, in both processes; the probe bench dumps each transfer's start and Tx
# (SP6_DUMP). alt-an.py splits the transfers by block. The control ($CTL, main's addon)
# runs the same split with sendmsg() in both classes.
cd "$(git rev-parse --show-toplevel)"
ALT=${ALT:-/tmp/sp5/alt.node}
CTL=${CTL:-/tmp/sp5/main.node}
OUT=${OUT:-/tmp/sp5/dumps}
mkdir -p $OUT
PARAMS=${PARAMS:---param busy_poll_us=400}
for r in $(seq 1 ${ROUNDS:-2}); do
  for V in ${ORDER:-ALT CTL}; do
    F=$ALT; [ $V = CTL ] && F=$CTL
    cp "$F" build/Release/nixl_native.node
    for cell in ${CELLS:-READ:4K WRITE:4K}; do
      D=$OUT/$V-$r-${cell/:/-}.jsonl; rm -f $D
      echo "== $V round $r $cell $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <"$F" | cut -c1-8) dump $D"
      SP6_ALT=1 SP6_DUMP=$D timeout 120 node bin/nixl-ts-bench.js --no-progress --op ${cell%%:*} --path socket \
        --block ${cell##*:} --cells= --iters ${ITERS:-20000} --repeat 1 $PARAMS 2>&1 | grep -E "^[0-9]+ "
      python3 bench/cli/results/2026-12-busy-poll-6/raw/alt-an.py $D
    done
  done
done
cp "$ALT" build/Release/nixl_native.node
