#!/bin/bash
# A 10,000-member cold start (one shape), nice 19, without the bench lock (longer
# than 5 min), at most 40 min, heap at most 12000 MB. Usage: cold10k.sh seed|chain
cd "$(dirname "$0")/../../../.."
out=bench/discovery/results/2026-12-06-dsim10k2/cold-10000-$1.txt
{ echo "# start $(date -u +%H:%M:%S) load $(cat /proc/loadavg); free -g: $(free -g | awk '/Mem/{print $3" used "$7" avail"}'); $(git rev-parse --short HEAD)"
  /usr/bin/time -v timeout 2400 nice -n 19 node --expose-gc --max-old-space-size=12000 --import tsx \
    bench/discovery/sim/sim.ts --cold 10000 --shapes $1 --events '' --loss '' --stress '' --progress 2>&1 |
    grep --line-buffered -v -E '^\s+(Average|Socket|Signals|Swaps|File system|Page size|Exit status|Minor|Major|Voluntary|Involuntary|Percent)'
  echo "# end $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"; } > "$out"
