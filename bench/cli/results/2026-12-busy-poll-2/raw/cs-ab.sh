#!/bin/bash
# Interleaved A/B of the cpu hop: context switches per transfer (both processes) and µs per transfer,
# 4 KiB socket READ, busy_poll_us=400, 20,000 timed transfers per run.
cd "$(git rev-parse --show-toplevel)"
mkdir -p /tmp/bpoll2
for r in $(seq 1 ${ROUNDS:-2}); do
  for V in "" "BP_HOP=1"; do
    rm -f /tmp/bpoll2/hop-*
    out=$(env $V perf stat -x, -e context-switches,cpu-migrations -o /tmp/bpoll2/cs.txt -- node bin/nixl-ts-bench.js --no-progress --cells= --op ${OP:-READ} --path socket --block 4K --param busy_poll_us=400 --iters 20000 --warmup-ms 0 2>&1 | grep -E "^[0-9]+ " | awk '{print $4}')
    cs=$(grep context-switches /tmp/bpoll2/cs.txt | cut -d, -f1); mig=$(grep migrations /tmp/bpoll2/cs.txt | cut -d, -f1)
    echo "$(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) round $r variant '${V:-default}' us/transfer $out ctxsw/transfer $(echo "scale=2; $cs/20100" | bc) migrations $mig $(cat /tmp/bpoll2/hop-* 2>/dev/null | grep -v 'yields 0 ' | tr '\n' ' ')"
  done
done
