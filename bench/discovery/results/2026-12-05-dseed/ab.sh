#!/bin/sh
# Interleaved before/after pairs at 128 agents, one lock hold per pair.
# usage: [SIZE=32] ab.sh TAG ORDER (ORDER: "before after" or "after before"; SIZE default 128)
# before = /tmp/dseed-before (the branch's base with its own dist/), after = this worktree.
OUT=/work/wt-dseed/bench/discovery/results/2026-12-05-dseed
TAG=$1; shift
for side in "$@"; do
  if [ "$side" = before ]; then dir=/tmp/dseed-before; else dir=/work/wt-dseed; fi
  log=$OUT/$TAG-$side-${SIZE:-128}.log
  { echo "start $(date -u +%H:%M:%S) $(cat /proc/loadavg)"; } > $log
  (cd $dir && BENCH_VERBOSE=1 timeout 150 npx tsx bench/discovery/scale.ts --sizes ${SIZE:-128} --runs 1 --compiled --limit-s 90 --timeline) >> $log 2>&1
  echo "end $(date -u +%H:%M:%S) $(cat /proc/loadavg)" >> $log
done
