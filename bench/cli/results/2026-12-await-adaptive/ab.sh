#!/bin/bash
# Alternates the tree before the change (BEFORE, default /tmp/await2-before:
# a copy of main's tree with its build) and this worktree on the UCX ack probe.
# usage: ab.sh PARAMS_JSON awaited|polled ROUNDS   (N=transfers, SPINUS=waitSpinUs)
params="$1"; mode="$2"; rounds="$3"
before=${BEFORE:-/tmp/await2-before}
after=$(git rev-parse --show-toplevel)
probe=bench/probes/results/2026-12-ucx-ack-wakeups/ack-latency.ts
for r in $(seq 1 "$rounds"); do
  for v in before after; do
    dir=$before; [[ $v == after ]] && dir=$after
    l=$(cut -d' ' -f1 /proc/loadavg)
    o=$(cd "$dir" && timeout 60 npx tsx $probe "$params" "$mode" "${N:-4000}" 2>&1 | tail -1 | sed 's/.*"us"://; s/}//')
    echo "$v $mode load=$l $o"
  done
done
