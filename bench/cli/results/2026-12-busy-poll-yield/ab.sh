#!/bin/bash
# Interleaved old/new runs: old = main at 03f30a5 built in /tmp/busy-old, new = this branch.
# usage: [NEW_ARGS=...] ab.sh PAIRS [bench args...]; NEW_ARGS go to the new code only (flags the
# old code lacks, e.g. --warmup-ms 0); prints one "== code time load" line before each run.
PAIRS=$1; shift
for i in $(seq 1 "$PAIRS"); do
  for v in old new; do
    dir=/work/wt-busy; extra=$NEW_ARGS; [ $v = old ] && dir=/tmp/busy-old && extra=
    echo "== $v pair $i $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd $dir && flock /tmp/bench.lock node bin/nixl-ts-bench.js --no-progress --out /tmp/busy/out-$v "$@" $extra 2>&1 |
      grep -E '^(TCP|[0-9]|socket|nixl-ts-bench|- reqresp)')
  done
done
