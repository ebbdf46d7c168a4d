#!/bin/bash
# forced-ab.sh: interleaved variants (VARIANTS, environment assignments; default "" and BP_HOP=1), ROUNDS rounds,
# each one forced.sh run under perf stat (context switches of both processes).
mkdir -p /tmp/bpoll2
for r in $(seq 1 ${ROUNDS:-2}); do
  for V in ${VARIANTS:-"" "BP_HOP=1"}; do
    rm -f /tmp/bpoll2/hop-*
    perf stat -x, -e context-switches,cpu-migrations -o /tmp/bpoll2/cs.txt -- "$(dirname "$(readlink -f "$0")")/forced.sh" "$V" > /tmp/bpoll2/f.txt 2>&1
    cs=$(grep context-switches /tmp/bpoll2/cs.txt | cut -d, -f1)
    echo "$(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) round $r variant '${V:-default}' $(cat /tmp/bpoll2/f.txt) ctxsw $cs $(cat /tmp/bpoll2/hop-* 2>/dev/null | grep -v 'yields 0 ' | tr '\n' ' ')"
  done
done
