#!/bin/bash
# 7000 through one seed, after main's 3000 probe (one memory-heavy run at a time): the 5000 seed
# start took 337 s at load ~7, not the ~850 s the 1000->3000 trend under load 27 gave.
set -u
R=/work/wt-d18sim/bench/discovery/results/2026-12-06-dsim10k
stamp() { echo "# $1 $(date -u +%H:%M:%S) load $(cat /proc/loadavg); free -g: $(free -g | awk '/Mem/{print $3" used "$7" avail"}')"; }
while kill -0 $1 2>/dev/null; do sleep 5; done
{ stamp start; cd /tmp/wt-d18sim-after && /usr/bin/time -v nice -n 19 timeout 1500 node --expose-gc --max-old-space-size=12000 --import tsx bench/discovery/sim/sim.ts --cold 7000 --shapes seed --events '' --loss '' --stress '' 2>&1 | grep -v ": 0$"; stamp end; } > $R/cold-after-7000-seed.txt 2>&1
