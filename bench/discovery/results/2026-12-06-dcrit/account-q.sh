#!/bin/bash
# One timeline run of DIR's code at SIZE agents with the accept-queue trace, its own lock hold.
# Usage: [SIZE=128] account-q.sh DIR NAME   (writes NAME.log and NAME.q in the current folder)
dir=$1 name=$2 here=$(pwd) size=${SIZE:-128} tools=$(dirname "$(readlink -f "$0")")
BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 $tools/queue-trace.py $here/$name.q npx tsx bench/discovery/scale.ts --sizes $size --runs 1 --compiled --limit-s 90 --timeline $SCALE_ARGS; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $name.log 2>&1
