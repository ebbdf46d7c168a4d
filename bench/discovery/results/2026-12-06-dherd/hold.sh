#!/bin/bash
# One hold of /tmp/bench.lock (about 4 min at 32 agents) for several starts in a row, so that a
# pair's two runs are not split by other engineers' queued holds. Each argument is
# SIDE:LOGNAME:SIZE:SOURCE with SIDE A (before: main cfbdd81, /tmp/main-before) or B (this branch).
# Each start as ../2026-12-05-dcpu2/scale-ab.sh runs it: compiled workers, one run,
# --limit-s 90, BENCH_VERBOSE=1.
run() {
  local side=$1 log=$2 size=$3 src=$4 dir=/tmp/main-before
  [ "$side" = B ] && dir=/work/wt-d18herd
  {
    echo "queued-with-hold $(date -u +%T) $dir"
    echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd $dir && BENCH_VERBOSE=1 timeout 280 npx tsx bench/discovery/scale.ts --sizes $size --runs 1 --compiled --limit-s 90 --source $src)
    echo "--- end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  } > $log.log 2>&1
  grep -h "^start\|^run 1\|^---" $log.log
}
export -f run
flock /tmp/bench.lock bash -c 'for a in "$@"; do IFS=: read side log size src <<< "$a"; run $side $log $size $src; done' _ "$@"
