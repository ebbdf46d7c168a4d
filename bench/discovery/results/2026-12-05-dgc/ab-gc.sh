#!/bin/bash
# Starts of SIZE agents (default 128), the sides A, B (C, ...) in turn, each run its own
# hold of /tmp/bench.lock, every worker with the gc-stats.mjs preload (its GC files moved to
# LOGPREFIX-SIDEi.gc/ after the run). Each side is "DIR|EXTRA_NODE_ARGS" (the workers' node
# flags beside the preload; empty for none).
# Usage: [SIZE=N] [LIMIT_S=S] ab-gc.sh ROUNDS LOGPREFIX "DIR_A|ARGS_A" "DIR_B|ARGS_B" [...]
rounds=$1 pre=$2
shift 2
size=${SIZE:-128} limit=${LIMIT_S:-90}
here=$(cd "$(dirname "$0")" && pwd)
labels=(A B C D E)
for i in $(seq 1 "$rounds"); do
  k=0
  for spec in "$@"; do
    side=${labels[$k]}
    k=$((k + 1))
    dir=${spec%%|*} extra=${spec#*|}
    log=$pre-$side$i.log
    echo "queued $(date -u +%T) $dir extra node args: $extra" > $log
    BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 npx tsx bench/discovery/scale.ts --sizes $size --runs 1 --compiled --limit-s $limit --node-args \"--import $here/gc-stats.mjs $extra\"; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
    # The workers write their GC files as they exit, after scale.ts has printed its table.
    for _ in $(seq 1 30); do pgrep -f "gc-stats.mjs" > /dev/null || break; sleep 1; done
    mkdir -p $pre-$side$i.gc
    mv /tmp/dgc/gc-*.json $pre-$side$i.gc/
    python3 $here/gc-summary.py $pre-$side$i.gc/*.json | tail -1 >> $log
    grep -h "^start\|CPU ms/agent after\|^run 1\|all workers after ready\|^---" $log
  done
done
