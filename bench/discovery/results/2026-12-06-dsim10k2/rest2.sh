#!/bin/bash
# The rest after cold-1000 (rest.sh, stopped while its 3000 run waited for the lock):
# events at 10,000 first (longer: without the lock, at most 15 min), then under the lock
# events at 1000 and the 3000 cold starts; one at a time, nice 19.
cd "$(dirname "$0")/../../../.."
R=bench/discovery/results/2026-12-06-dsim10k2
sim() { # out args...
  local out=$1; shift
  { echo "# start $(date -u +%H:%M:%S) load $(cat /proc/loadavg); $(git rev-parse --short HEAD)"
    flock /tmp/bench.lock bash -c 'echo "# lock $(date -u +%H:%M:%S) load $(cut -d" " -f1-3 /proc/loadavg)"; exec timeout 290 nice -n 19 node --expose-gc --max-old-space-size=12000 --import tsx bench/discovery/sim/sim.ts "$@"' _ "$@" 2>&1
    echo "# end $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"; } > $R/$out
}
{ echo "# start $(date -u +%H:%M:%S) load $(cat /proc/loadavg); $(git rev-parse --short HEAD)"
  timeout 900 nice -n 19 node --max-old-space-size=12000 --import tsx bench/discovery/sim/sim.ts --cold '' --events 10000 --loss 0.01 --stress '' 2>&1
  echo "# end $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"; } > $R/events-10000.txt
sim events-1000.txt --cold '' --events 1000 --loss 0.01 --stress ''
sim cold-3000-chain.txt --cold 3000 --shapes chain --events '' --loss '' --stress '' --progress
sim cold-3000-seed.txt --cold 3000 --shapes seed --events '' --loss '' --stress '' --progress
