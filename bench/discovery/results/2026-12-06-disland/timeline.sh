#!/bin/bash
# One timed mDNS 32 run with --timeline (the gossip:lan lines) in tree DIR, holding the lock.
# Usage: timeline.sh LOG DIR
log=$1 dir=$2
echo "queued $(date -u +%T) $dir" > $log
BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 npx tsx bench/discovery/scale.ts --sizes 32 --runs 1 --compiled --limit-s 90 --source mdns --timeline; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >> $log 2>&1
