#!/bin/bash
# After cold.sh's 5000 run (its script was stopped at 06:57 so that the 7000 seed start, ~28 min
# by the trend, would not run past the 20-min bound): 7000 chain, the largest that fits the
# 12-GB heap by the 3000 run's peak bytes per entry. Usage: cold2.sh PID-of-the-5000-run
set -u
R=/work/wt-d18sim/bench/discovery/results/2026-12-06-dsim10k
stamp() { echo "# $1 $(date -u +%H:%M:%S) load $(cat /proc/loadavg); free -g: $(free -g | awk '/Mem/{print $3" used "$7" avail"}')"; }
while kill -0 $1 2>/dev/null; do sleep 5; done
stamp end >> $R/cold-after-5000-seed,chain.txt
{ stamp start; cd /tmp/wt-d18sim-after && /usr/bin/time -v nice -n 19 timeout 1500 node --expose-gc --max-old-space-size=12000 --import tsx bench/discovery/sim/sim.ts --cold 7000 --shapes chain --events '' --loss '' --stress '' 2>&1 | grep -v ": 0$"; stamp end; } > $R/cold-after-7000-chain.txt 2>&1
