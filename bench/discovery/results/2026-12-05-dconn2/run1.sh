#!/bin/bash
# usage: run1.sh DIR LOG [ENV...]
dir=$1 log=$2; shift 2
echo "queued $(date -u +%T) $dir $*" > $log
BENCH_VERBOSE=1 flock /tmp/bench.lock env "$@" bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 npx tsx bench/discovery/scale.ts --sizes ${SIZE:-128} --runs 1 --compiled --limit-s 90; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
grep -h "^start\|opened per agent\|CPU ms/agent after\|^run 1\|frames sent per\|links shed\|^---" $log
