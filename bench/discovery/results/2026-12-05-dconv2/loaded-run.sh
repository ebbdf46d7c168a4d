#!/bin/bash
# One scale-bench run at SIZE agents while BUSY bounded busy loops compete for the 2 cores.
# Run it under the shared lock: flock /tmp/bench.lock bash loaded-run.sh SIZE LOG [BUSY] [DIR]
# DIR: the tree to run (default: this worktree); the busy loops are killed by PID at the end.
SIZE=$1; LOG=$(realpath -m "$2"); BUSY=${3:-3}; DIR=${4:-/work/wt-dconv}
pids=()
for i in $(seq 1 "$BUSY"); do timeout 300 sh -c 'while :; do :; done' & pids+=($!); done
{
  echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg) busy $BUSY dir $DIR"
  cd "$DIR" && BENCH_VERBOSE=1 timeout 240 npx tsx bench/discovery/scale.ts --sizes "$SIZE" --runs 1 --compiled --limit-s 90
  echo "--- end $(date -u +%T) rc $? load $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$LOG" 2>&1
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
tail -3 "$LOG"
