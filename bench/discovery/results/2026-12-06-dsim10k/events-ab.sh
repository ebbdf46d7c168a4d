#!/bin/bash
# Events before/after (not a timing comparison: virtual rounds, messages, suspicions; so no
# bench lock, nice 19). A = main (/tmp/wt-d18sim-before, git archive of main),
# B = this branch (/tmp/wt-d18sim-after, git archive of d317e94).
# Usage: events-ab.sh ab|ba PAIR
set -u
R=/work/wt-d18sim/bench/discovery/results/2026-12-06-dsim10k
ORDER=$1; N=$2
run() { # side dir
  local out=$R/events-$ORDER$N-$1.txt
  { echo "# $1 ($2) start $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"
    cd $2 && nice -n 19 npx tsx bench/discovery/sim/sim.ts --cold '' --events 1000,10000 --loss 0.01 --stress ''
    echo "# end $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"; } > $out 2>&1
}
if [ "$ORDER" = ab ]; then run A /tmp/wt-d18sim-before; run B /tmp/wt-d18sim-after
else run B /tmp/wt-d18sim-after; run A /tmp/wt-d18sim-before; fi
