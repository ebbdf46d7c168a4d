#!/bin/bash
# The regime signal alone: the probe build (raw/block-probe.patch) with blocking
# off on both sides (BP5_NO_TARGET, BP5_NO_CALLER), counting per process how
# many arrivals (answer read by the caller, request served by the target's
# spin) came right after a yield that lasted >= 1.5 µs (BP5_STATS files).
cd "$(git rev-parse --show-toplevel)"
cp /tmp/bp5/block-diag.node build/Release/nixl_native.node
for pin in "taskset -c 0" "" "taskset -c 0" ""; do
  rm -f /tmp/bp5/stats.*
  echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) pin '$pin'"
  BP5_STATS=1 BP5_NO_TARGET=1 BP5_NO_CALLER=1 timeout 120 $pin node bin/nixl-ts-bench.js --no-progress \
    --op READ,WRITE --path socket --block 4K --cells= --param busy_poll_us=400 --repeat 1 2>&1 | grep -E "^4096 "
  grep -H -v "arrivals 0 " /tmp/bp5/stats.* | sed 's|/tmp/bp5/stats.||'
done
cp /tmp/bp5/main.node build/Release/nixl_native.node
