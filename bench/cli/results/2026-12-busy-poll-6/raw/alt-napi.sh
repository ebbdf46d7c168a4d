#!/bin/bash
# Transfer-level A/B of the bound post (raw/alt-napi-probe.patch): the probe backend calls the
# engine's bound post (own property, no napi_unwrap) in odd 2^20 ns blocks of CLOCK_MONOTONIC and
# the prototype's InstanceMethod in even ones; CTL (SP6_CTL=1): the bound post in both.
# alt-an.py splits the Tx samples by block (its "send" class is the bound post here).
cd "$(git rev-parse --show-toplevel)"
ALT=${ALT:-/tmp/sp5/bound-probe.node}
CTL=${CTL:-/tmp/sp5/bound-probe.node}
OUT=${OUT:-/tmp/sp5/dumps-napi}
mkdir -p $OUT
PARAMS=${PARAMS:---param busy_poll_us=400}
for r in $(seq 1 ${ROUNDS:-2}); do
  for V in ${ORDER:-ALT CTL}; do
    F=$ALT; CTLENV=; [ $V = CTL ] && F=$CTL && CTLENV=1
    cp "$F" build/Release/nixl_native.node
    for cell in ${CELLS:-READ:4K WRITE:4K}; do
      D=$OUT/$V-$r-${cell/:/-}.jsonl; rm -f $D
      echo "== $V round $r $cell $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <"$F" | cut -c1-8) dump $D"
      SP6_DUMP=$D timeout 120 env ${CTLENV:+SP6_CTL=1} node bin/nixl-ts-bench.js --no-progress --op ${cell%%:*} --path socket \
        --block ${cell##*:} --cells= --iters ${ITERS:-20000} --repeat 1 $PARAMS 2>&1 | grep -E "^[0-9]+ "
      python3 bench/cli/results/2026-12-busy-poll-6/raw/alt-an.py $D
    done
  done
done
cp "$ALT" build/Release/nixl_native.node
