#!/bin/bash
# main's heap probe at 3000 through one seed (after the branch's 7000 run: one memory-heavy run at a time).
set -u
R=/work/wt-d18sim/bench/discovery/results/2026-12-06-dsim10k
stamp() { echo "# $1 $(date -u +%H:%M:%S) load $(cat /proc/loadavg); free -g: $(free -g | awk '/Mem/{print $3" used "$7" avail"}')"; }
while kill -0 $1 2>/dev/null; do sleep 5; done
{ stamp start; cd /tmp/wt-d18sim-before && /usr/bin/time -v nice -n 19 timeout 900 node --expose-gc --max-old-space-size=12000 --import tsx mem-probe.ts 3000 seed 2>&1 | grep -v ": 0$"; stamp end; } > $R/mem-probe-before-3000-seed.txt 2>&1
