#!/bin/bash
# usage: [SIM_TREE=/tmp/main-before] probe.sh LABEL N SHAPE CAP  (from this folder; runs under the bench lock at nice 19)
cd "$(dirname "$0")"
out="mem-probe-$1-$2-$3-cap$4.txt"
{ echo "# start $(date -u +%H:%M:%S) load $(cat /proc/loadavg); free -g: $(free -g | awk '/Mem/{print $3" used "$7" avail"}')"
  flock /tmp/bench.lock nice -n 19 node --expose-gc --max-old-space-size=12000 --import tsx mem-probe.ts $2 $3 $4 2>&1; 
  echo "# end $(date -u +%H:%M:%S) load $(cat /proc/loadavg)"; } > "$out"
