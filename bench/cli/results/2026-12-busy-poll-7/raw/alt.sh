#!/bin/bash
# Transfer-level A/B inside one run (part 6's method): the probe addon ($ALT,
# raw/alt-ring-probe-native.patch on the branch) adds, in even 2^20 ns blocks of
# CLOCK_MONOTONIC, a 512-byte allocation and free every 4th queue push (what std::deque's
# blocks of four TxItems cost) and runs the ring alone in odd ones (SP7_ALT=1), in both
# processes; the probe bench (raw/alt-ring-probe-js.patch, in dist/) dumps each transfer's
# start and Tx (SP6_DUMP). alt-an.py splits the transfers by block. The control ($CTL, the
# branch's addon) runs the same split with the same code in both classes.
cd "$(git rev-parse --show-toplevel)"
ALT=${ALT:-/tmp/sp7/nodes/ring-probe.node}
CTL=${CTL:-/tmp/sp7/nodes/ring2.node}
OUT=${OUT:-/tmp/sp7/dumps}
mkdir -p $OUT
PARAMS=${PARAMS:---param busy_poll_us=400}
for r in $(seq 1 ${ROUNDS:-2}); do
  ORDER="ALT CTL"; [ $((r % 2)) = 0 ] && ORDER="CTL ALT"
  for V in $ORDER; do
    F=$ALT; [ $V = CTL ] && F=$CTL
    cp "$F" build/Release/nixl_native.node
    for cell in ${CELLS:-READ:4K WRITE:4K}; do
      D=$OUT/$V-$r-${cell/:/-}.jsonl; rm -f $D
      echo "== $V round $r $cell $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <"$F" | cut -c1-8) dump $D"
      SP7_ALT=1 SP6_DUMP=$D timeout 120 node bin/nixl-ts-bench.js --no-progress --op ${cell%%:*} --path socket \
        --block ${cell##*:} --cells= --iters ${ITERS:-20000} --repeat 1 $PARAMS 2>&1 | grep -E "^[0-9]+ "
      python3 bench/cli/results/2026-12-busy-poll-7/raw/alt-an.py $D
    done
  done
done
cp "$CTL" build/Release/nixl_native.node
