#!/bin/bash
# mem-probe.ts at 700 (under the 1000 of the one-at-a-time rule; nice 19): main's
# simulation (no link cap) and membership against the branch's, both shapes.
cd "$(dirname "$0")"
for shape in seed chain; do
  for t in before after; do
    if [ $t = before ]; then tree=/tmp/main-before; cap=inf; else tree="$PWD/../../../.."; cap=8; fi
    out=mem-probe-$t-700-$shape-cap$cap.txt
    { echo "# start $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"
      SIM_TREE=$tree timeout 300 nice -n 19 node --expose-gc --import tsx mem-probe.ts 700 $shape $cap 2>&1 | grep -v '^round'
      echo "# end $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"; } > $out
  done
done
