#!/bin/bash
# Alternates BEFORE (default /tmp/await2-before) and this worktree on
# bench/probes/notif-write.ts (UCX, polled and awaited, with and without notif).
# usage: abp.sh PARAMS_JSON SIZES ROUNDS
params="$1"; sizes="$2"; rounds="$3"
before=${BEFORE:-/tmp/await2-before}
after=$(git rev-parse --show-toplevel)
for r in $(seq 1 "$rounds"); do
  for v in before after; do
    dir=$before; [[ $v == after ]] && dir=$after
    echo "$v $(uptime | sed 's/.*load average: //')"
    (cd "$dir" && timeout 100 npx tsx bench/probes/notif-write.ts --backend UCX --sizes "$sizes" \
      --iters 3000 --seconds 1.5 --params "$params" 2>&1 | tail -1)
  done
done
