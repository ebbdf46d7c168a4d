#!/bin/bash
# One timed run with --timeline in tree DIR (default: this worktree), holding the lock.
# Usage: timeline.sh SOURCE LOG [DIR]
src=$1 log=$2 dir=${3:-/work/wt-d18mdns3}
echo "queued $(date -u +%T) $dir" > $log
BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 npx tsx bench/discovery/scale.ts --sizes 32 --runs 1 --compiled --limit-s 90 --source $src --timeline; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
