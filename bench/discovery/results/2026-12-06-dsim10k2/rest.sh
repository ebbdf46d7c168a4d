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
sim cold-100-1000.txt --cold 100,300,1000 --shapes seed,chain --events '' --loss '' --stress ''
sim cold-3000-seed.txt --cold 3000 --shapes seed --events '' --loss '' --stress '' --progress
sim cold-3000-chain.txt --cold 3000 --shapes chain --events '' --loss '' --stress '' --progress
