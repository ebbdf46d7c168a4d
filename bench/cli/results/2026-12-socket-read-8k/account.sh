#!/bin/bash
# Issue #17, READ 8 KiB: the account's CLI runs (this branch's code, which is
# main's): READ 4K/8K/16K at batch 1, 5 repeats each, with the C floors, each
# run its own lock hold. raw/account-cli-<n>.txt, a "==" line (UTC, load)
# first and last. sizecmp.py reads them.
cd /work/wt-d17read8k
OUT=bench/cli/results/2026-12-socket-read-8k/raw
for i in $(seq ${FIRST:-2} ${LAST:-5}); do
  flock /tmp/bench.lock sh -c "echo \"== account-cli $i start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; node bin/nixl-ts-bench.js --op READ --path socket --block 4K,8K,16K --cells= --baseline --repeat 5 --wait poll --no-progress --out /tmp/d17r8k-out 2>&1; echo \"== end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $OUT/account-cli-$i.txt
  head -1 $OUT/account-cli-$i.txt; tail -1 $OUT/account-cli-$i.txt
done
