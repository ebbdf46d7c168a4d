#!/bin/bash
# Cold starts on this branch (/tmp/wt-d18sim-after, git archive of d317e94), one at a time
# (memory-heavy), nice 19, heap capped at 12000 MB; first the per-structure heap probe at
# 1000 (main's is mem-probe-before-1000-seed.txt).
set -u
R=/work/wt-d18sim/bench/discovery/results/2026-12-06-dsim10k
stamp() { echo "# $1 $(date -u +%H:%M:%S) load $(cat /proc/loadavg); free -g: $(free -g | awk '/Mem/{print $3" used "$7" avail"}')"; }
{ stamp start; cd /tmp/wt-d18sim-after && nice -n 19 node --expose-gc --max-old-space-size=8000 --import tsx $R/mem-probe.ts 1000 seed; stamp end; } > $R/mem-probe-after-1000-seed.txt 2>&1
run() { # sizes shapes
  { stamp start; cd /tmp/wt-d18sim-after && /usr/bin/time -v nice -n 19 node --expose-gc --max-old-space-size=12000 --import tsx bench/discovery/sim/sim.ts --cold $1 --shapes $2 --events '' --loss '' --stress '' 2>&1 | grep -v ": 0$"; stamp end; } > $R/cold-after-$1-$2.txt 2>&1
}
run 100,300,1000,3000 seed,chain
run 5000 seed,chain
run 7000 seed   # not run: this script was stopped at 06:57 (see cold2.sh)
