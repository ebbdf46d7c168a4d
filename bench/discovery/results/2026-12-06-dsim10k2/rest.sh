#!/bin/bash
# The rest of the table after the 10,000 chain run, one run at a time, nice 19, each
# under the bench lock (each under 5 min): cold starts 100-1000 and 3000, both shapes.
cd "$(dirname "$0")/../../../.."
R=bench/discovery/results/2026-12-06-dsim10k2
sim() { # out args...
  local out=$1; shift
  { echo "# start $(date -u +%H:%M:%S) load $(cat /proc/loadavg); $(git rev-parse --short HEAD)"
    flock /tmp/bench.lock timeout 290 nice -n 19 node --expose-gc --max-old-space-size=12000 --import tsx bench/discovery/sim/sim.ts "$@" 2>&1
    echo "# end $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"; } > $R/$out
}
sim cold-1000.txt --cold 1000 --shapes seed,chain --events '' --loss '' --stress ''
sim cold-3000-seed.txt --cold 3000 --shapes seed --events '' --loss '' --stress '' --progress
sim cold-3000-chain.txt --cold 3000 --shapes chain --events '' --loss '' --stress '' --progress
# join / leave / crash at 1000 (under the lock) and 10,000 (longer: without the lock, at
# most 15 min), false suspicions at 1 % loss (60 s of probing)
sim events-1000.txt --cold '' --events 1000 --loss 0.01 --stress ''
{ echo "# start $(date -u +%H:%M:%S) load $(cat /proc/loadavg); $(git rev-parse --short HEAD)"
  timeout 900 nice -n 19 node --max-old-space-size=12000 --import tsx bench/discovery/sim/sim.ts --cold '' --events 10000 --loss 0.01 --stress '' 2>&1
  echo "# end $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"; } > $R/events-10000.txt
