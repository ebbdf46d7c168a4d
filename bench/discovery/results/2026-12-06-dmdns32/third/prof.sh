#!/bin/bash
# One timed run with --cpu-prof DIR in tree TREE, holding the lock. Usage: prof.sh TREE DIR LOG
tree=$1 dir=$2 log=$3
mkdir -p $dir
echo "queued $(date -u +%T) $tree" > $log
BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $tree && timeout 280 npx tsx bench/discovery/scale.ts --sizes 32 --runs 1 --compiled --limit-s 90 --source mdns --cpu-prof $dir; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
